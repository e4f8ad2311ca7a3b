"""The model card: README.md in the pipeline directory with languages,
labels, data, hyperparameters, metrics and the curve; `spacy package` ships it."""
import subprocess
import sys

import pytest
import srsly
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from helpers import REPO, write_spacy_corpus
from spacy_xlmr_ner.evaluation import evaluate_per_language
from spacy_xlmr_ner.extras import MissingExtra
from spacy_xlmr_ner.packaging import PackagingError, build_pipeline_wheel, write_model_card

ROWS = {
    "de": [("Angela Merkel besuchte Berlin".split(), ["B-PER", "I-PER", "O", "B-LOC"])],
    "ru": [("Путин был в Москве".split(), ["B-PER", "O", "O", "B-LOC"])],
    "tr": [("Ankara ve Koç".split(), ["B-LOC", "O", "B-ORG"])],
}
LOG = [
    {"epoch": 0, "step": 0, "losses": {"xlmr_ner": 2.5}, "scores": {"ents_f": 0.0}, "score": 0.0},
    {"epoch": 3, "step": 20, "losses": {"xlmr_ner": 8.0}, "scores": {"ents_f": 55.0}, "score": 0.55},
]


@pytest.fixture(scope="module")
def model_dir(tiny_encoder, tmp_path_factory):
    root = tmp_path_factory.mktemp("card")
    write_spacy_corpus(root / "corpus", ROWS)
    overrides = {
        "paths.train": str(root / "corpus"), "paths.dev": str(root / "corpus"), "paths.encoder": str(tiny_encoder),
        "corpora.train.langs": "de,ru", "corpora.train.limit": 500,
    }
    nlp = init_nlp(load_config(REPO / "configs" / "cpu.cfg", overrides=overrides, interpolate=False))
    nlp.meta["name"] = "tiny_ner"
    nlp.to_disk(root / "model")
    srsly.write_jsonl(root / "log.jsonl", LOG)
    metrics = evaluate_per_language(nlp, root / "corpus", "de,ru,tr")
    srsly.write_json(root / "metrics.json", metrics)
    return root


def test_card_contents_and_meta(model_dir):
    metrics = srsly.read_json(model_dir / "metrics.json")
    readme = write_model_card(model_dir / "model", metrics, model_dir / "log.jsonl").read_text(encoding="utf-8")
    assert readme.startswith("# xx_tiny_ner 0.0.0")
    assert "| Trained on | de, ru |" in readme and "| Evaluated on | de, ru, tr |" in readme
    assert "| Labels | `LOC`, `PER` |" in readme  # the labels of the training languages
    assert "(train split, first 500 sentences per language)" in readme
    assert "| learning rate (peak) | `0.0002` |" in readme and "| head init scale | `0.02` |" in readme
    assert "| de | 1 |" in readme and "| tr | 1 |" in readme and "Per type (all)" in readme
    assert "![learning curve](learning_curve.png)" in readme and "| 20 | 3 | 0.400 | 55.0 |" in readme
    assert (model_dir / "model" / "learning_curve.png").stat().st_size > 1000
    meta = srsly.read_json(model_dir / "model" / "meta.json")
    assert meta["languages"] == ["de", "ru", "tr"]
    assert meta["performance"]["test"]["tr"]["ents_f"] == metrics["tr"]["ents_f"]


def test_card_without_metrics_or_log(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    (tmp_path / "model" / "learning_curve.png").unlink(missing_ok=True)
    readme = write_model_card(tmp_path / "model", data="My corpus").read_text(encoding="utf-8")
    assert "| Training data | My corpus |" in readme and "## Evaluation" not in readme
    assert not (tmp_path / "model" / "learning_curve.png").exists()


def test_spacy_package_ships_the_card(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    write_model_card(tmp_path / "model", srsly.read_json(model_dir / "metrics.json"), model_dir / "log.jsonl")
    (tmp_path / "packages").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "spacy", "package", str(tmp_path / "model"), str(tmp_path / "packages"),
         "--build", "none", "--force"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Using existing README.md" in run.stdout
    package = tmp_path / "packages" / "xx_tiny_ner-0.0.0"
    shipped = (package / "README.md").read_text(encoding="utf-8")
    assert shipped == (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    assert (package / "xx_tiny_ner" / "xx_tiny_ner-0.0.0" / "learning_curve.png").exists()


def test_card_of_a_pipeline_trained_on_a_spacy_file(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    config = load_config(tmp_path / "model" / "config.cfg")
    train = model_dir / "corpus" / "de" / "train.spacy"
    config["paths"]["train"] = str(train)
    config.to_disk(tmp_path / "model" / "config.cfg")
    readme = write_model_card(tmp_path / "model").read_text(encoding="utf-8")
    # corpora.train.langs ("de,ru") selects from {lang}/{split} directories only.
    assert "| Trained on | - |" in readme
    assert f"| Training data | `{train}` (first 500 sentences of each file) |" in readme


def test_card_sets_name_version_and_license(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    readme = write_model_card(tmp_path / "model", name="my_ner", version="1.2.3", license="CC-BY-4.0", data="Mine")
    assert readme.read_text(encoding="utf-8").startswith("# xx_my_ner 1.2.3")
    meta = srsly.read_json(tmp_path / "model" / "meta.json")
    assert (meta["name"], meta["version"], meta["license"]) == ("my_ner", "1.2.3", "CC-BY-4.0")
    license = (tmp_path / "model" / "LICENSE").read_text(encoding="utf-8")
    assert license.startswith("xx_my_ner 1.2.3 is released under the CC-BY-4.0 license.")
    sources = (tmp_path / "model" / "LICENSES_SOURCES").read_text(encoding="utf-8")
    assert "Training data: Mine" in sources and "Encoder: " in sources
    # A LICENSE of the user's own stays when no license is given.
    (tmp_path / "model" / "LICENSE").write_text("All rights reserved.\n")
    write_model_card(tmp_path / "model", version="1.2.4")
    assert (tmp_path / "model" / "LICENSE").read_text() == "All rights reserved.\n"
    assert srsly.read_json(tmp_path / "model" / "meta.json")["name"] == "my_ner"
    with pytest.raises(ValueError, match="'my-ner' is not a Python identifier"):
        write_model_card(tmp_path / "model", name="my-ner")


def test_scripts_model_card_options(model_dir, tmp_path):
    import shutil

    shutil.copytree(model_dir / "model", tmp_path / "model")
    run = subprocess.run(
        [sys.executable, "scripts/model_card.py", str(tmp_path / "model"), "--name", "cli_ner", "--version", "2.0.0",
         "--license", "MIT"],
        cwd=REPO, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    meta = srsly.read_json(tmp_path / "model" / "meta.json")
    assert (meta["name"], meta["version"], meta["license"]) == ("cli_ner", "2.0.0", "MIT")


def test_wheel_needs_the_package_extra(model_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "build", None)
    with pytest.raises(MissingExtra, match=r'needs build, which is not installed: pip install "spacy-xlmr-ner\[package\]"'):
        build_pipeline_wheel(model_dir / "model", tmp_path / "packages", tmp_path / "package.log")
    assert not (tmp_path / "packages").exists()


def test_a_failed_spacy_package_is_loud(model_dir, tmp_path):
    # spacy package refuses the name: the error says so, from the log.
    with pytest.raises(PackagingError, match=r"(?s)spacy package failed \(exit status 1\).*package\.log.*identifier"):
        build_pipeline_wheel(model_dir / "model", tmp_path / "packages", tmp_path / "package.log", name="bad-name")


@pytest.mark.slow
def test_wheel_with_license_and_quiet_output(model_dir, tmp_path):
    import shutil
    import zipfile

    shutil.copytree(model_dir / "model", tmp_path / "model")
    write_model_card(tmp_path / "model", name="tiny_ner", version="1.2.3", license="MIT")
    run = subprocess.run(
        [sys.executable, "scripts/package.py", str(tmp_path / "model"), str(tmp_path / "packages"),
         "--log", str(tmp_path / "package.log")],
        cwd=REPO, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    wheel = tmp_path / "packages" / "xx_tiny_ner-1.2.3" / "dist" / "xx_tiny_ner-1.2.3-py3-none-any.whl"
    # The summary only (wasabi wraps it at 80 columns), setuptools' output in the log.
    output = " ".join((run.stdout + run.stderr).split())
    assert f"Built {wheel} (spacy package output in {tmp_path / 'package.log'})" in output
    assert "running bdist_wheel" not in output and len(output) < 400
    log = (tmp_path / "package.log").read_text(encoding="utf-8")
    assert "adding license file 'LICENSE'" in log and "no files found matching" not in log
    names = zipfile.ZipFile(wheel).namelist()
    assert "xx_tiny_ner/xx_tiny_ner-1.2.3/LICENSE" in names and "xx_tiny_ner/xx_tiny_ner-1.2.3/LICENSES_SOURCES" in names
