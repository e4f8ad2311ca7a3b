"""Heatmap and learning-curve figures, and the curve read from spaCy's JSONL log."""
import pytest
import srsly

pytest.importorskip("matplotlib")
import matplotlib.image  # noqa: E402

from spacy_xlmr_ner.evaluation.plots import (  # noqa: E402
    learning_curve, plot_learning_curve, plot_matrix, read_training_log,
)
from spacy_xlmr_ner.evaluation.report import markdown_matrix  # noqa: E402

MATRIX = {"de": {"de": 0.77, "en": 0.55, "ru": None}, "en": {"de": 0.6, "en": 0.8, "ru": 0.35}}
LOG = [
    {"epoch": 0, "step": 0, "losses": {"xlmr_ner": 2.0, "transformer": 0.0}, "scores": {"ents_f": 1.0}, "score": 0.01},
    {"epoch": 0, "step": 10, "losses": {"xlmr_ner": 30.0, "transformer": 0.0}, "scores": {"ents_f": 40.0}, "score": 0.4},
    {"epoch": 1, "step": 20, "losses": {"xlmr_ner": 10.0, "transformer": 0.0}, "scores": {"ents_f": 60.0}, "score": 0.6},
]


def test_heatmap_png(tmp_path):
    path = plot_matrix(MATRIX, tmp_path / "figs" / "matrix.png")
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_markdown_matrix_has_means_and_bold_diagonal():
    text = markdown_matrix(MATRIX)
    lines = text.splitlines()
    assert lines[0] == "| F: train \\ test | de | en | ru | mean |"
    assert lines[2] == "| de | **77.0** | 55.0 | - | 66.0 |"
    assert lines[-1] == "| mean | 68.5 | 67.5 | 35.0 |  |"


def test_learning_curve_from_log(tmp_path):
    srsly.write_jsonl(tmp_path / "log.jsonl", LOG)
    points = learning_curve(read_training_log(tmp_path / "log.jsonl"))
    # Losses in the log are summed since the previous evaluation.
    assert [p["loss"] for p in points] == pytest.approx([2.0, 3.0, 1.0])
    assert [p["score"] for p in points] == pytest.approx([0.01, 0.4, 0.6])
    image = matplotlib.image.imread(plot_learning_curve(points, tmp_path / "curve.png"))
    assert image.shape[1] > image.shape[0] > 100


def test_empty_log_is_an_error(tmp_path):
    (tmp_path / "log.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="log.jsonl"):
        read_training_log(tmp_path / "log.jsonl")
