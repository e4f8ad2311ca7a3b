"""Slow: `spacy project run demo` end to end on a copy of the project, with the
tiny offline encoder in place of multilingual-e5-small (the real encoder makes
the workflow take ~15 minutes; README.md gives its numbers). The workflow
converts the sample corpus, trains on CPU, evaluates, packages the model and
this package as wheels, installs both into a fresh virtual environment and
checks there that `spacy.load` finds the same entities as the training output."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import srsly

from helpers import REPO

pytestmark = pytest.mark.slow

ANYWHERE = shutil.ignore_patterns(".git", ".venv*", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis")
# Outputs of earlier runs, by folder: only at these places (harness/encoders is code).
OUTPUTS = {
    REPO: {"training", "packages", "dist", "encoders", "assets", "build", "metrics"},
    REPO / "corpus": {"spacy", "spacy-sample", "experiments"},
    REPO / "tests": {"artifacts"},
}


def ignore(directory, names):
    return set(ANYWHERE(directory, names)) | (OUTPUTS.get(Path(directory), set()) & set(names))


def test_demo_workflow(tiny_encoder, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(REPO, project, ignore=ignore)
    cmd = [
        sys.executable, "-m", "spacy", "project", "run", "demo", str(project),
        "--vars.demo_encoder", str(tiny_encoder),
        "--vars.demo_steps", "60", "--vars.demo_warmup", "6", "--vars.demo_lr", "0.003",
    ]
    run = subprocess.run(cmd, cwd=project, capture_output=True, text=True)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    # Every sample language was converted, trained on and evaluated.
    metrics = srsly.read_json(project / "training" / "xlmr_ner_demo" / "metrics.json")
    assert set(metrics) == {"ar", "de", "en", "es", "fr", "hi", "ru", "sw", "tr", "zh", "all"}
    assert metrics["all"]["n_docs"] == 80
    wheels = sorted(p.name for p in project.glob("**/dist/*.whl"))
    assert wheels == ["spacy_xlmr_ner-0.1.0-py3-none-any.whl", "xx_xlmr_ner_demo-0.0.1-py3-none-any.whl"]
    # The installed wheel agreed with the training output (predict.py --expect).
    assert "xx_xlmr_ner_demo finds the same entities as" in out
    predictions = srsly.read_json(project / "training" / "xlmr_ner_demo" / "predictions.json")
    texts = (project / "corpus" / "sample" / "sentences.txt").read_text(encoding="utf-8").splitlines()
    assert [p["text"] for p in predictions] == texts
    # ... and the comparison was not between two empty lists.
    assert sum(len(p["entities"]) for p in predictions) > 0
    # The package ships the model card (README with languages, metrics and the curve).
    package = project / "packages" / "xx_xlmr_ner_demo-0.0.1"
    card = (package / "README.md").read_text(encoding="utf-8")
    assert "| Trained on | ar, de, en, es, fr, hi, ru, sw, tr, zh |" in card
    assert "## Evaluation" in card and "![learning curve](learning_curve.png)" in card
    assert list(package.glob("xx_xlmr_ner_demo/*/learning_curve.png"))
