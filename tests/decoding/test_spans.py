import numpy
import pytest
import spacy
from spacy.tokens import Doc

from spacy_xlmr_ner.decoding.spans import tags_to_spans

VOCAB = spacy.blank("xx").vocab
TAGS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def decode(words, spaces, tags):
    doc = Doc(VOCAB, words=words, spaces=spaces)
    ids = numpy.array([TAGS.index(tag) for tag in tags])
    probs = numpy.full((len(words), len(TAGS)), 0.1, dtype="f")
    probs[numpy.arange(len(words)), ids] = numpy.linspace(0.5, 0.9, len(words))
    spans, scores = tags_to_spans(doc, ids, probs, TAGS)
    return doc, [(span.start, span.end, span.label_) for span in spans], scores, probs


def test_spans_and_mean_scores():
    doc, spans, scores, probs = decode(
        ["Angela", "Merkel", "in", "Berlin"], [True, True, True, False], ["B-PER", "I-PER", "O", "B-LOC"]
    )
    assert spans == [(0, 2, "PER"), (3, 4, "LOC")]
    assert scores == pytest.approx([probs[0:2, [3, 4]].diagonal().mean(), probs[3, 1]])


@pytest.mark.parametrize(
    "words,spaces,tags,expected",
    [
        # A whitespace token tagged as the start of the next word's entity.
        (["\xa0", "Berlin"], [False, False], ["B-LOC", "I-LOC"], [(1, 2, "LOC")]),
        # Trailing and leading whitespace inside one entity.
        (["Berlin", "  ", "x"], [False, False, False], ["B-LOC", "I-LOC", "O"], [(0, 1, "LOC")]),
        # An entity of whitespace only is no entity.
        (["a", "\u2028", "b"], [False, False, False], ["O", "B-PER", "O"], []),
        # Whitespace between the words of an entity stays in it.
        (["Angela", "  ", "Merkel"], [False, False, False], ["B-PER", "I-PER", "I-PER"], [(0, 3, "PER")]),
    ],
)
def test_entities_do_not_start_or_end_on_whitespace(words, spaces, tags, expected):
    doc, spans, scores, probs = decode(words, spaces, tags)
    assert spans == expected
    for (start, end, _), score in zip(spans, scores):
        ids = [TAGS.index(tag) for tag in tags[start:end]]
        assert score == pytest.approx(float(probs[numpy.arange(start, end), ids].mean()))


def test_empty_doc():
    doc = Doc(VOCAB, words=[])
    assert tags_to_spans(doc, numpy.zeros((0,), dtype="i"), numpy.zeros((0, len(TAGS)), dtype="f"), TAGS) == ([], [])
