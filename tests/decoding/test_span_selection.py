import itertools

import numpy
import pytest
import spacy
from spacy.tokens import Doc, Span

from spacy_xlmr_ner.decoding.labels import allowed_transitions, iob_labels
from spacy_xlmr_ner.decoding.span_selection import (
    IGNORED,
    candidate_classes,
    candidate_spans,
    combine_scores,
    gold_spans,
    select_non_overlapping,
    spans_above_threshold,
    tag_span_marginals,
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


def brute_force_marginals(tags, probs, start, allowed):
    """Sum over every valid tag sequence: the weight of the sequences in
    which (start, end, label) is an entity, divided by the total."""
    n = len(probs)
    found, total = {}, 0.0
    for seq in itertools.product(range(len(tags)), repeat=n):
        if not start[seq[0]] or any(not allowed[a, b] for a, b in zip(seq, seq[1:])):
            continue
        weight = float(numpy.prod([probs[i, t] for i, t in enumerate(seq)]))
        total += weight
        i = 0
        while i < n:
            if tags[seq[i]].startswith("B-"):
                label, j = tags[seq[i]][2:], i + 1
                while j < n and tags[seq[j]] == f"I-{label}":
                    j += 1
                found[(i, j, label)] = found.get((i, j, label), 0.0) + weight
                i = j
            else:
                i += 1
    return {key: value / total for key, value in found.items()}


@pytest.mark.parametrize("n_tokens", [1, 2, 5])
def test_tag_span_marginals_match_the_sum_over_tag_sequences(n_tokens):
    labels = ["LOC", "PER"]
    tags = iob_labels(labels)
    start, allowed = allowed_transitions(tags)
    probs = numpy.random.default_rng(n_tokens).dirichlet(numpy.ones(len(tags)), size=n_tokens).astype("f")
    candidates = numpy.array([(s, e) for s in range(n_tokens) for e in range(s + 1, n_tokens + 1)], dtype="int32")
    marginals = tag_span_marginals(candidates, probs, start, allowed)
    expected = brute_force_marginals(tags, probs, start, allowed)
    assert marginals.shape == (len(candidates), 2)
    for row, (s, e) in enumerate(candidates):
        for col, label in enumerate(labels):
            assert marginals[row, col] == pytest.approx(expected.get((s, e, label), 0.0), abs=1e-6)
    # Spans of one label at one start are disjoint events.
    assert (numpy.bincount(candidates[:, 0], weights=marginals[:, 0]) <= 1 + 1e-6).all()
    assert tag_span_marginals(candidates[:0], probs, start, allowed).shape == (0, 2)


def test_tag_span_marginals_of_a_long_confident_doc_stay_finite():
    tags = iob_labels(["LOC"])
    start, allowed = allowed_transitions(tags)
    probs = numpy.tile(numpy.array([[0.98, 0.01, 0.01]], dtype="f"), (3000, 1))
    probs[1000] = [0.0, 1.0, 0.0]
    candidates = candidate_spans_of_length(3000, 3)
    marginals = tag_span_marginals(candidates, probs, start, allowed)
    assert numpy.isfinite(marginals).all() and (marginals >= 0).all() and (marginals <= 1).all()
    assert marginals[(candidates[:, 0] == 1000) & (candidates[:, 1] == 1001), 0][0] > 0.95


def candidate_spans_of_length(n_tokens, max_length):
    return numpy.array(
        [(s, e) for s in range(n_tokens) for e in range(s + 1, min(s + max_length, n_tokens) + 1)], dtype="int32"
    )


def test_combine_scores_is_a_weighted_geometric_mean():
    span = numpy.array([[0.2, 0.7, 0.1], [0.9, 0.05, 0.05]], dtype="f")
    path = numpy.array([[0.3, 0.0], [0.8, 0.1]], dtype="f")
    assert combine_scores(span, path, 0.0) is span
    combined = combine_scores(span, path, 0.5)
    numpy.testing.assert_allclose(combined[:, 1:], numpy.sqrt(span[:, 1:] * path), rtol=1e-5)
    numpy.testing.assert_allclose(combined.sum(axis=1)[0], 1.0, rtol=1e-5)
    numpy.testing.assert_allclose(combine_scores(span, path, 1.0)[:, 1:], path)
    # Labels that take more than 1 between them leave "no entity" at 0.
    over = combine_scores(span, numpy.array([[0.9, 0.9], [0.0, 0.0]], dtype="f"), 1.0)
    assert over[0, 0] == 0.0 and over[1, 0] == 1.0
