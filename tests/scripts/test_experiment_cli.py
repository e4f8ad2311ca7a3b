"""scripts/experiment.py and scripts/report.py end to end with the tiny
encoder: a 2x2 matrix, a joint run, the results document."""
import subprocess
import sys

import pytest
import spacy
import srsly
from spacy.tokens import Doc, DocBin

from helpers import REPO

pytestmark = pytest.mark.slow

ROWS = {
    "de": [("Angela Merkel besuchte Berlin .".split(), ["B-PER", "I-PER", "O", "B-LOC", "O"]),
           ("Siemens baut in München .".split(), ["B-ORG", "O", "O", "B-LOC", "O"])],
    "ru": [("Владимир Путин был в Москве .".split(), ["B-PER", "I-PER", "O", "O", "B-LOC", "O"]),
           ("Газпром в Казани .".split(), ["B-ORG", "O", "B-LOC", "O"])],
}


def run(*args):
    result = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_matrix_joint_and_report(tiny_encoder, tmp_path):
    vocab = spacy.blank("xx").vocab
    for lang, rows in ROWS.items():
        (tmp_path / "corpus" / lang).mkdir(parents=True)
        for split in ("train", "dev", "test"):
            DocBin(docs=[Doc(vocab, words=w, ents=t) for w, t in rows]).to_disk(tmp_path / "corpus" / lang / f"{split}.spacy")
    common = ["--encoder", str(tiny_encoder), "--epochs", "16", "--n-evals", "2",
              "--training", str(tmp_path / "training"), "--metrics", str(tmp_path / "metrics")]
    out = run("scripts/experiment.py", "matrix", str(tmp_path / "corpus"), "--langs", "de,ru", *common)
    assert "F: train \\ test" in out
    matrix = srsly.read_json(tmp_path / "metrics" / "matrix.json")
    assert list(matrix["matrix"]) == ["de", "ru"] and list(matrix["matrix"]["de"]) == ["de", "ru"]
    record = srsly.read_json(tmp_path / "metrics" / "train-de.json")
    assert (record["steps"], record["eval_frequency"], record["n_train_sentences"]) == (2, 1, 2)
    assert record["command"].startswith("python scripts/experiment.py matrix")
    assert len(record["curve"]) == 3 and (tmp_path / "metrics" / "train-de-curve.png").exists()
    assert matrix["matrix"]["de"]["ru"] == record["results"]["ru"]["ents_f"]
    assert (tmp_path / "metrics" / "matrix.png").stat().st_size > 1000
    # A second run with the same settings reuses the trained runs.
    again = subprocess.run([sys.executable, "scripts/experiment.py", "matrix", str(tmp_path / "corpus"),
                            "--langs", "de,ru", *common], cwd=REPO, capture_output=True, text=True)
    assert "Reusing" in again.stdout and "Training pipeline" not in again.stdout
    run("scripts/experiment.py", "run", str(tmp_path / "corpus"), "--name", "joint", "--train-langs", "de,ru",
        "--eval-langs", "de,ru", *common)
    joint = srsly.read_json(tmp_path / "metrics" / "joint.json")
    assert joint["n_train_sentences"] == 4 and joint["settings"]["train_langs"] == ["de", "ru"]
    run("scripts/report.py", str(tmp_path / "metrics"), str(tmp_path / "docs" / "results.md"))
    doc = (tmp_path / "docs" / "results.md").read_text(encoding="utf-8")
    for name in ("train-de", "train-ru", "joint"):
        assert f"## {name}: trained on" in doc
    assert "## Cross-lingual matrix" in doc and (tmp_path / "docs" / "img" / "matrix.png").exists()
