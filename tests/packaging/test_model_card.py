"""The model card: README.md in the pipeline directory with languages,
labels, data, hyperparameters, metrics and the curve; `spacy package` ships it."""
import subprocess
import sys

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.training.initialize import init_nlp
from spacy.util import load_config

from helpers import REPO
from spacy_xlmr_ner.evaluation import evaluate_per_language
from spacy_xlmr_ner.packaging import write_model_card

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
    vocab = spacy.blank("xx").vocab
    for lang, rows in ROWS.items():
        (root / "corpus" / lang).mkdir(parents=True)
        docs = [Doc(vocab, words=w, ents=t) for w, t in rows]
        for split in ("train", "dev", "test"):
            DocBin(docs=docs).to_disk(root / "corpus" / lang / f"{split}.spacy")
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
