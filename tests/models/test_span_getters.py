import base64
import random
import warnings

import numpy
import pytest
import spacy
from spacy.util import registry

from helpers import make_transformer_nlp

GETTER = "spacy-xlmr-ner.piece_strided_spans.v1"


def get_spans(**kwargs):
    return registry.span_getters.get(GETTER)(**kwargs)


def coverage(doc, spans):
    covered = numpy.zeros(len(doc), dtype=int)
    for span in spans:
        covered[span.start : span.end] += 1
    return covered


def test_token_windows_as_strided_spans_on_short_tokens():
    nlp = spacy.blank("xx")
    doc = nlp(" ".join(["ab"] * 300))
    spans = get_spans(window=128, stride=96)([doc])[0]
    # Short tokens: the token limit binds, exactly like strided_spans.v1.
    assert [(s.start, s.end) for s in spans] == [(0, 128), (96, 224), (192, 300)]
    assert get_spans()([nlp("")]) == [[]]


def test_piece_budget_binds_on_long_tokens():
    nlp = spacy.blank("xx")
    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(1, 60))) for _ in range(500)]
    doc = nlp(" ".join(words))
    spans = get_spans(window=128, stride=96, max_pieces=510)([doc])[0]
    assert (coverage(doc, spans) >= 1).all()
    for span in spans:
        assert len(span) <= 128
        assert sum(len(t) + 1 for t in span) <= 510
    # Windows overlap, so every window boundary has context on both sides.
    assert all(b.start < a.end for a, b in zip(spans, spans[1:]))


def test_overlong_token_gets_its_own_window_and_a_warning():
    nlp = spacy.blank("xx")
    doc = nlp("Angela Merkel besuchte " + "x" * 2000 + " und Berlin .")
    with pytest.warns(UserWarning, match=r"Token 3 \(2000 characters"):
        spans = get_spans()([doc])[0]
    assert [(s.start, s.end) for s in spans] == [(0, 3), (3, 4), (4, 7)]


def test_nfkc_expansion_is_counted():
    nlp = spacy.blank("xx")
    # U+FDFA expands to 18 characters under NFKC.
    doc = nlp(" ".join(["\ufdfa"] * 40))
    spans = get_spans(max_pieces=100)([doc])[0]
    assert all(len(s) <= 100 // 19 for s in spans)


def test_no_word_piece_is_dropped_after_a_huge_token(tiny_encoder):
    # With strided_spans.v1 the tokens after the base64 blob got no word piece
    # at all (their entities were silently lost).
    nlp = make_transformer_nlp(tiny_encoder)
    nlp.initialize()
    blob = base64.b64encode(random.Random(1).randbytes(1500)).decode()
    doc = nlp("Angela Merkel besuchte " + blob + " und Berlin sowie Paris .")
    lengths = doc._.trf_data.align.lengths
    assert all(n > 0 for token, n in zip(doc, lengths) if not token.is_space)


def test_every_token_of_a_100k_character_doc_gets_pieces(tiny_encoder):
    nlp = make_transformer_nlp(tiny_encoder)
    nlp.initialize()
    rng = random.Random(2)
    vocab = ["Berlin", "习近平在北京", "Москва", "القاهرة", "https://example.org/" + "a" * 300, "und", "."]
    text = " ".join(rng.choice(vocab) for _ in range(12000))[:100_000]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no token here is too long
        doc = nlp(text)
    assert len(doc.text) == 100_000
    lengths = doc._.trf_data.align.lengths
    assert all(n > 0 for token, n in zip(doc, lengths) if not token.is_space)
