"""Windows of a doc for the encoder, bounded in tokens and in word pieces."""
import unicodedata
import warnings
from typing import Callable, Iterable, List

import numpy
from spacy.tokens import Doc, Span
from spacy.util import registry


@registry.span_getters("spacy-xlmr-ner.piece_strided_spans.v1")
def configure_piece_strided_spans(
    window: int = 128, stride: int = 96, max_pieces: int = 510, pieces_per_char: int = 1
) -> Callable[[Iterable[Doc]], List[List[Span]]]:
    """Cut docs into overlapping windows of at most `window` tokens that the
    encoder can take whole, so that no word piece is ever dropped.

    spacy-transformers' `strided_spans.v1` counts only tokens; when a window
    holds more word pieces than the encoder's maximum (long URLs, base64, runs
    of CJK characters), the pieces at its end are dropped silently and the
    tokens there get no vector at all. Here a window also ends before its
    pieces could exceed `max_pieces`, counting each token as at most one piece
    per character of its NFKC form plus one (true of sentencepiece and
    WordPiece vocabularies; byte-level BPE needs `pieces_per_char = 4`). A
    single token too long for the encoder gets a window of its own, and a
    warning says which token is cut.

    window (int): Maximum number of tokens in a window.
    stride (int): Step between window starts, in tokens, for full windows;
        shorter windows step by the same fraction of their length.
    max_pieces (int): Word pieces the encoder takes, special tokens excluded
        (510 for XLM-R and BERT).
    pieces_per_char (int): Upper bound of word pieces per character.
    RETURNS (Callable[[Iterable[Doc]], List[List[Span]]]): The span getter.
    """
    if not 0 < stride <= window:
        raise ValueError(f"Need 0 < stride <= window, got stride {stride}, window {window}")

    def get_spans(docs: Iterable[Doc]) -> List[List[Span]]:
        return [
            _doc_windows(doc, window, stride, max_pieces, pieces_per_char) for doc in docs
        ]

    return get_spans


def _doc_windows(
    doc: Doc, window: int, stride: int, max_pieces: int, pieces_per_char: int
) -> List[Span]:
    if len(doc) == 0:
        return []
    costs = numpy.asarray(
        [len(unicodedata.normalize("NFKC", token.text)) + 1 for token in doc]
        if not doc.text.isascii()
        else [len(token) + 1 for token in doc],
        dtype="int64",
    ) * pieces_per_char
    for i in numpy.nonzero(costs > max_pieces)[0]:
        warnings.warn(
            f"[spacy-xlmr-ner] Token {i} ({len(doc[i])} characters, "
            f"{doc[i].text[:20]!r}...) may have more word pieces than the encoder "
            f"takes ({max_pieces}); only its first {max_pieces} pieces are used."
        )
    bounds = numpy.concatenate([[0], numpy.cumsum(costs)])
    spans = []
    start = 0
    while True:
        # The last end with at most max_pieces from start; at least one token.
        end = int(numpy.searchsorted(bounds, bounds[start] + max_pieces, side="right")) - 1
        end = min(max(end, start + 1), start + window, len(doc))
        # A window that ends where the previous one did (blocked by a long
        # token) adds nothing: it lies inside the previous one.
        if not spans or end > spans[-1].end:
            spans.append(doc[start:end])
        if end >= len(doc):
            return spans
        start += max(1, (end - start) * stride // window)
