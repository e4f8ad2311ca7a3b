"""Entity-vector measurements: the metrics on hand-made vectors, and the
collection of gold and predicted vectors through a pipeline."""
import numpy
import pytest
import spacy
from spacy.tokens import Doc

from harness.benchmark.entity_vectors import (
    UNTRAINED, collect, cosine_matrix, markdown_report, measure, nearest_neighbour_type_accuracy, scores, surface_mrr,
)
from helpers import make_transformer_nlp

# Four entities in the plane: two PER near (1, 0), a LOC near (0, 1), and an
# ORG near the first PER.
VECTORS = numpy.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.95, 0.0]])
TYPES = ["PER", "PER", "LOC", "ORG"]


def test_cosine_matrix_leaves_out_each_entity_itself():
    sims = cosine_matrix(numpy.array([[2.0, 0.0], [0.0, 3.0], [0.0, 0.0]]))
    assert numpy.isneginf(numpy.diag(sims)).all()
    assert sims[0, 1] == pytest.approx(0.0)
    assert sims[0, 2] == 0.0  # a zero vector is similar to nothing


def test_nearest_neighbour_type_accuracy():
    # Nearest: 0 -> 3 (ORG, cos 1.0), 1 -> 0 (PER), 2 -> 1 (PER), 3 -> 0 (PER).
    assert nearest_neighbour_type_accuracy(VECTORS, TYPES) == pytest.approx(1 / 4)
    assert nearest_neighbour_type_accuracy(VECTORS[:2], TYPES[:2]) == 1.0
    assert nearest_neighbour_type_accuracy(VECTORS[:1], TYPES[:1]) is None


def test_surface_mrr_ranks_other_mentions_of_the_same_string():
    surfaces = ["Berlin", "Paris", "Berlin", "Rom"]
    # Query 0: others by similarity 3 (1.0), 1 (0.99), 2 (0.0): "Berlin" (2) at rank 3.
    # Query 2: others 1 (0.11), 0 (0.0), 3 (0.0): "Berlin" (0) at rank 2 (ties keep order).
    mrr, n = surface_mrr(VECTORS, surfaces)
    assert n == 2
    assert mrr == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert surface_mrr(VECTORS, ["a", "b", "c", "d"]) == (None, 0)
    perfect, _ = surface_mrr(VECTORS, ["X", "Y", "Z", "X"])
    assert perfect == 1.0


def test_scores_and_report():
    row = scores(list(VECTORS), TYPES, ["a", "b", "a", "c"])
    assert row["n"] == 4 and row["surface_queries"] == 2
    record = {
        "settings": {"encoder": "enc", "iob_dir": "data", "lang": "de", "limit": 4},
        "results": {"xlmr_ner": {"gold": row, "predicted": {**row, "share_matching_gold": 0.5}}, UNTRAINED: {"gold": row}},
        "command": "python bench/entity_vectors.py enc data out",
    }
    text = markdown_report(record)
    assert "| xlmr_ner | 4 | 25.0 |" in text
    assert "| untrained | 4 | 25.0 |" in text
    assert "| 50.0 |" in text
    assert "python bench/entity_vectors.py" in text


def test_collect_gold_vectors_from_the_encoder_output(tiny_encoder):
    nlp = make_transformer_nlp(tiny_encoder)
    nlp.initialize()
    gold = [
        Doc(nlp.vocab, words=["Angela", "Merkel", "in", "Berlin"], ents=["B-PER", "I-PER", "O", "B-LOC"]),
        Doc(nlp.vocab, words=["Berlin", "!"], ents=["B-LOC", "O"]),
    ]
    data = collect(nlp, gold)
    assert data["gold"]["types"] == ["PER", "LOC", "LOC"]
    assert data["gold"]["surfaces"] == ["Angela Merkel", "Berlin", "Berlin"]
    assert all(v.dtype == numpy.float32 and v.ndim == 1 for v in data["gold"]["vectors"])
    assert data["predicted"]["vectors"] == []  # no NER component


def test_measure_untrained_encoder(tiny_encoder):
    vocab = spacy.blank("xx").vocab
    gold = [Doc(vocab, words=["Berlin", "und", "Paris"], ents=["B-LOC", "O", "B-LOC"]), Doc(vocab, words=["Berlin"], ents=["B-LOC"])]
    result = measure({UNTRAINED: str(tiny_encoder)}, gold)
    assert result[UNTRAINED]["gold"]["n"] == 3
    assert result[UNTRAINED]["gold"]["surface_queries"] == 2
    assert "predicted" not in result[UNTRAINED]
