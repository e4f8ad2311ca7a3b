"""Experiment budgets, config overrides, and the results document."""
import copy

import pytest
import srsly
from spacy.tokens import Doc, DocBin
from spacy.util import load_config
from spacy.vocab import Vocab

from harness.experiments import Experiment, plan_steps
from harness.experiments.results import write_results_doc
from harness.experiments.run import count_docs, training_overrides

from helpers import REPO


@pytest.mark.parametrize("n,epochs,batch,evals,steps,freq", [
    (2000, 2, 16, 10, 250, 25), (2000, 1, 16, 10, 130, 13), (12000, 1, 16, 10, 750, 75), (5, 1, 16, 10, 1, 1),
])
def test_plan_steps(n, epochs, batch, evals, steps, freq):
    plan = plan_steps(n, epochs, batch, evals)
    assert plan == {"steps": steps, "eval_frequency": freq}
    assert plan["steps"] % plan["eval_frequency"] == 0 and plan["steps"] * batch >= epochs * n


def test_nothing_to_train_is_an_error():
    with pytest.raises(ValueError, match="Nothing to train"):
        plan_steps(0, 1, 16, 10)


def test_overrides_apply_to_the_shipped_configs(tmp_path):
    exp = Experiment("de,es", "de,en", tmp_path, REPO / "configs" / "cpu.cfg", "enc", n_train=100, n_dev=7)
    assert exp.name == "train-de+es" and exp.train_langs == ["de", "es"]
    plan = plan_steps(200, 2, 16, 5)
    overrides = training_overrides(exp, plan, tmp_path / "log.jsonl")
    for name in ("cpu.cfg", "xlmr_base.cfg", "xlmr_large.cfg"):
        config = load_config(REPO / "configs" / name, overrides=overrides, interpolate=True)
        assert config["corpora"]["train"]["langs"] == "de,es" and config["corpora"]["dev"]["limit"] == 7
        assert config["training"]["max_steps"] == plan["steps"] == 25
        assert config["training"]["optimizer"]["learn_rate"]["warmup_steps"] == 2
        assert config["training"]["logger"]["output_file"] == str(tmp_path / "log.jsonl")


def test_count_docs_respects_the_limit(tmp_path):
    vocab = Vocab()
    for lang, n in (("de", 5), ("es", 3)):
        (tmp_path / lang).mkdir()
        DocBin(docs=[Doc(vocab, words=["a"]) for _ in range(n)]).to_disk(tmp_path / lang / "train.spacy")
    assert count_docs(tmp_path, "train", ["de", "es"], limit=4) == 7
    assert count_docs(tmp_path, "train", ["de"]) == 5


def _record(name, train_langs, f1s, started):
    results = {
        lang: {"ents_p": f, "ents_r": f, "ents_f": f, "untyped_f": f, "token_acc": 0.9, "n_docs": 10,
               "ents_per_type": {"PER": {"p": f, "r": f, "f": f}}, "confusion": {"PER": {"PER": 3, "O": 1}}}
        for lang, f in f1s.items()
    }
    settings = {"train_langs": train_langs, "eval_langs": list(f1s), "corpus": "c", "config": "configs/cpu.cfg",
                "encoder": "enc", "n_train": 2000, "n_dev": 300, "n_test": 1000, "epochs": 1.0}
    return {"name": name, "settings": settings, "command": f"python scripts/experiment.py run --name {name}",
            "started": started, "n_train_sentences": 2000 * len(train_langs), "batch_size": 16, "steps": 130,
            "eval_frequency": 13, "train_seconds": 321.4, "eval_seconds": 65.2,
            "machine": {"cpu": "Test CPU", "torch_threads": 2, "gpu": None},
            "results": results, "curve": [{"step": 0, "epoch": 0, "loss": 2.0, "score": 0.0},
                                           {"step": 13, "epoch": 0, "loss": 0.5, "score": 0.5}]}


def test_results_document(tmp_path):
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    srsly.write_json(metrics / "train-de.json", _record("train-de", ["de"], {"de": 0.8, "en": 0.5}, "2026-01-01T10"))
    srsly.write_json(metrics / "joint.json", _record("joint", ["de", "en"], {"de": 0.81, "en": 0.7}, "2026-01-01T11"))
    srsly.write_json(metrics / "matrix.json", {
        "langs": ["de"], "command": "python scripts/experiment.py matrix", "matrix": {"de": {"de": 0.8, "en": 0.5}},
        "untyped": {"de": {"de": 0.9, "en": 0.6}}, "runs": {},
    })
    (metrics / "matrix.png").write_bytes(b"\x89PNG fake")
    doc = write_results_doc(metrics, tmp_path / "docs" / "results.md", intro="Ran on a test machine.\n")
    doc = doc.read_text(encoding="utf-8")
    assert doc.startswith("# Results\n\nRan on a test machine.\n\nWritten by")
    assert "| train-de | **80.0** | 50.0 | 65.0 | 50.0 |" in doc
    assert "| joint | **81.0** | **70.0** | 75.5 | - |" in doc
    assert "Command: `python scripts/experiment.py run --name joint`" in doc
    assert "training took 321 s, evaluation 65 s" in doc
    assert "![matrix.png](img/matrix.png)" in doc and (tmp_path / "docs" / "img" / "matrix.png").exists()
    assert doc.index("## train-de") < doc.index("## joint")


def test_results_document_needs_records(tmp_path):
    with pytest.raises(ValueError, match="No experiment results"):
        write_results_doc(tmp_path, tmp_path / "results.md")
