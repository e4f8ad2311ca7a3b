import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span

from spacy_xlmr_ner.decoding.span_selection import (
    IGNORED,
    candidate_classes,
    candidate_spans,
    gold_spans,
    select_non_overlapping,
    spans_above_threshold,
)


@pytest.fixture(scope="module")
def vocab():
    return spacy.blank("xx").vocab


def doc_of(vocab, words):
    return Doc(vocab, words=words, spaces=[False] * len(words))


def test_candidates_are_every_short_span_without_whitespace_edges(vocab):
    doc = doc_of(vocab, ["New", " ", "York", "\n", "City"])
    rows = [tuple(r) for r in candidate_spans(doc, 3)]
    assert rows == [(0, 1), (0, 3), (2, 3), (2, 5), (4, 5)]
    assert candidate_spans(doc, 3).dtype == numpy.int32
    assert [tuple(r) for r in candidate_spans(doc, 1)] == [(0, 1), (2, 3), (4, 5)]
    # Every span of a doc without whitespace, in order of start, then end.
    plain = doc_of(vocab, list("abcd"))
    expected = [(s, e) for s in range(4) for e in range(s + 1, min(s + 2, 4) + 1)]
    assert [tuple(r) for r in candidate_spans(plain, 2)] == expected


def test_candidates_grow_linearly_with_the_doc(vocab):
    for n in (1, 7, 100):
        doc = doc_of(vocab, ["w"] * n)
        assert len(candidate_spans(doc, 10)) == sum(min(10, n - s) for s in range(n))


@pytest.mark.parametrize("words", [[], [" "], ["\n", "  "]])
def test_no_candidates_in_empty_or_whitespace_docs(vocab, words):
    assert candidate_spans(doc_of(vocab, words), 10).shape == (0, 2)


def test_candidate_classes(vocab):
    doc = doc_of(vocab, ["Bank", "of", "America", "in", "Wien"])
    candidates = candidate_spans(doc, 3)
    index = {tuple(r): i for i, r in enumerate(candidates)}
    # Nested gold: ORG (0, 3) contains LOC (2, 3); a 4-token entity is too long.
    gold = [(0, 3, 2), (2, 3, 1), (1, 5, 1), (4, 5, IGNORED)]
    classes = candidate_classes(candidates, len(doc), 3, gold)
    assert classes[index[(0, 3)]] == 2 and classes[index[(2, 3)]] == 1
    assert classes[index[(4, 5)]] == IGNORED
    others = [i for r, i in index.items() if r not in {(0, 3), (2, 3), (4, 5)}]
    assert (classes[others] == 0).all()
    # Token 3's gold is unknown: the candidates covering it are left out,
    # unless they are gold entities.
    known = numpy.array([True, True, True, False, True])
    classes = candidate_classes(candidates, len(doc), 3, [(3, 4, 1)], known)
    covering = [i for (s, e), i in index.items() if s <= 3 < e]
    assert classes[index[(3, 4)]] == 1
    assert (classes[[i for i in covering if i != index[(3, 4)]]] == IGNORED).all()
    assert (classes[[i for i in range(len(candidates)) if i not in covering]] == 0).all()


def test_spans_above_threshold_take_the_most_probable_class(vocab):
    doc = doc_of(vocab, ["a", "b", "c"])
    candidates = numpy.array([[0, 1], [0, 2], [1, 2], [2, 3]], dtype="int32")
    probs = numpy.array(
        [
            [0.1, 0.8, 0.1],  # X at 0.8
            [0.5, 0.1, 0.4],  # no entity wins
            [0.3, 0.1, 0.6],  # Y at 0.6
            [0.2, 0.45, 0.35],  # X wins but below 0.5
        ],
        dtype="f",
    )
    spans, scores = spans_above_threshold(doc, candidates, probs, ["X", "Y"], 0.5)
    assert [(s.start, s.end, s.label_) for s in spans] == [(0, 1, "X"), (1, 2, "Y")]
    assert scores == pytest.approx([0.8, 0.6])
    spans, _ = spans_above_threshold(doc, candidates, probs, ["X", "Y"], 0.0)
    assert [(s.start, s.end, s.label_) for s in spans] == [(0, 1, "X"), (1, 2, "Y"), (2, 3, "X")]
    assert spans_above_threshold(doc, candidates[:0], probs[:0], ["X", "Y"], 0.5) == ([], [])


def test_select_non_overlapping_is_greedy_by_score(vocab):
    doc = doc_of(vocab, list("abcdef"))
    spans = [Span(doc, 0, 3, "ORG"), Span(doc, 2, 3, "LOC"), Span(doc, 3, 4, "PER"), Span(doc, 3, 6, "ORG")]
    assert select_non_overlapping(spans, [0.9, 0.95, 0.7, 0.8]) == [1, 3]
    assert select_non_overlapping(spans, [0.99, 0.95, 0.7, 0.6]) == [0, 2]
    # Ties: the earlier, then the shorter span.
    assert select_non_overlapping(spans, [0.5, 0.5, 0.5, 0.5]) == [0, 2]
    assert select_non_overlapping([], []) == []


def test_gold_spans_are_trimmed(vocab):
    doc = doc_of(vocab, [" ", "Wien", " ", "x"])
    trimmed = gold_spans([Span(doc, 0, 3, "LOC"), Span(doc, 2, 3, "LOC")])
    assert [(s.start, s.end, s.label_) for s in trimmed] == [(1, 2, "LOC")]
