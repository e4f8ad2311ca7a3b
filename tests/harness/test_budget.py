import pytest

from harness.benchmark.run import BenchSettings
from harness.budget import Budget
from harness.experiments.run import Experiment


def test_defaults_and_keyword_only_fields():
    exp = Experiment("de", "de,en", "corpus", "cfg", "enc", 5, n_train=100, epochs=0.5)
    assert (exp.encoder, exp.n_evals, exp.n_train, exp.n_dev, exp.n_test, exp.epochs) == ("enc", 5, 100, 300, 1000, 0.5)
    bench = BenchSettings("enc", "iob")
    # The benchmark's dev set only serves spaCy's end-of-training evaluation.
    assert (bench.n_train, bench.n_dev, bench.n_test, bench.epochs) == (2000, 200, 1000, 2.0)
    with pytest.raises(TypeError):
        Budget(100)


def test_budget_passes_on():
    bench = BenchSettings(encoder="enc", iob_dir="iob", n_train=50, n_dev=0, n_test=7, epochs=3)
    assert bench.budget() == {"n_train": 50, "n_dev": 0, "n_test": 7, "epochs": 3}
    exp = Experiment(["de"], ["de"], "corpus", "cfg", bench.encoder, **bench.budget())
    assert exp.budget() == bench.budget()


@pytest.mark.parametrize(
    "field,value",
    [("n_train", -1), ("n_dev", 2.5), ("n_test", "10"), ("n_train", True), ("epochs", 0), ("epochs", -1.0), ("epochs", "2")],
)
def test_both_settings_reject_a_bad_budget(field, value):
    with pytest.raises(ValueError, match=field):
        Experiment("de", "de", "corpus", "cfg", "enc", **{field: value})
    with pytest.raises(ValueError, match=field):
        BenchSettings(encoder="enc", iob_dir="iob", **{field: value})
