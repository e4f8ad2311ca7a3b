"""Entity embeddings, one definition for `xlmr_ner` and `xlmr_span_ner`.

An entity's vector is the mean of the encoder's last hidden states over the
entity's word pieces (the definition of SpanMarker's model cards), read from
`doc._.trf_data` as the `transformer` component left it. It is reachable as
`span._.entity_vector` (a float32 NumPy array, or None) from any `Span` with
the entity's character offsets: an entity of `doc.ents` or of
`doc.spans[spans_key]`. The value lives in `doc.user_data`, so it is kept by
`Doc.to_bytes` and by `DocBin(store_user_data=True)`.
"""
from typing import Iterable, Optional

import numpy
from spacy.tokens import Doc, Span

from .models.listener import _filter_alignment

VECTOR_ATTR = "entity_vector"


def install_extension() -> None:
    """Register `Span._.entity_vector` (default None), if it is not yet."""
    if not Span.has_extension(VECTOR_ATTR):
        Span.set_extension(VECTOR_ATTR, default=None)


def set_entity_vectors(doc: Doc, spans: Iterable[Span]) -> None:
    """Set `span._.entity_vector` for each span, from `doc._.trf_data`.

    Nothing is set when the doc has no encoder output (it was not run
    through the transformer), nor for a span none of whose tokens has a word
    piece.

    doc (Doc): A document with `doc._.trf_data`.
    spans (Iterable[Span]): Spans of `doc`.
    """
    install_extension()
    trf_data = doc._.trf_data if Doc.has_extension("trf_data") else None
    if trf_data is None or "last_hidden_state" not in trf_data.model_output:
        return
    trf_data = _filter_alignment(trf_data)
    hidden = trf_data.model_output.last_hidden_state
    hidden = hidden.reshape(-1, hidden.shape[-1])
    pieces = numpy.asarray(trf_data.align.dataXd).ravel()
    bounds = numpy.concatenate([[0], numpy.cumsum(trf_data.align.lengths)])
    for span in spans:
        vector = pieces_mean(hidden, pieces, bounds, span.start, span.end)
        if vector is not None:
            span._.set(VECTOR_ATTR, vector)


def pieces_mean(
    hidden, pieces: numpy.ndarray, bounds: numpy.ndarray, start: int, end: int
) -> Optional[numpy.ndarray]:
    """The mean of the hidden states of the word pieces of tokens `start` to
    `end` (exclusive). A piece counts once, even if it is aligned to two
    tokens; a piece of the text that two overlapping encoder windows share
    counts once per window.

    hidden (FloatsXd): Hidden states of the doc's pieces, (n_pieces, width).
    pieces (numpy.ndarray): The pieces of every token, one after the other
        (`TransformerData.align.dataXd`).
    bounds (numpy.ndarray): Where each token's pieces start in `pieces`, and
        where the last token's end (n_tokens + 1 values).
    start (int): The first token.
    end (int): The token after the last.
    RETURNS (Optional[numpy.ndarray]): float32 (width,), or None if the tokens
        have no piece.
    """
    if end <= start or end >= len(bounds):
        return None
    own = numpy.unique(pieces[bounds[start] : bounds[end]])
    if not len(own):
        return None
    rows = hidden[own]
    if hasattr(rows, "get"):  # cupy
        rows = rows.get()
    return numpy.asarray(rows, dtype="float32").mean(axis=0)
