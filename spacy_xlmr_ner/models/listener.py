"""Token vectors from an upstream transformer, with consistent word pieces."""
import dataclasses
from typing import Callable, List, Tuple

import numpy
from spacy.tokens import Doc
from spacy.util import registry
from spacy_transformers.data_classes import TransformerData
from spacy_transformers.layers import TransformerListener, trfs2arrays
from thinc.api import Model, chain
from thinc.types import Floats2d, Ragged

METASPACE = "\u2581"


@registry.architectures("spacy-xlmr-ner.TransformerListener.v1")
def build_transformer_listener(
    pooling: Model[Ragged, Floats2d], grad_factor: float = 1.0, upstream: str = "*"
) -> Model[List[Doc], List[Floats2d]]:
    """`spacy-transformers.TransformerListener.v1`, except that a bare "▁"
    word piece never counts as a token's piece (unless it is its only one).

    Sentencepiece vocabularies (XLM-R's) often split a bare "▁" off a word
    (CJK, Devanagari, Thai, rare words). spacy-transformers aligns pieces to
    tokens by character offsets, and that piece's offsets cover the space
    before the word, except at the start of each encoder window, where they
    cover the word's first character. So without this, the token that starts
    a window gets "▁" as its first piece and elsewhere does not: its vector
    depends on where the windows happen to start.

    pooling (Model[Ragged, Floats2d]): Pooling of each token's pieces.
    grad_factor (float): Weight of the gradient passed to the transformer.
    upstream (str): Name of the transformer component, or "*".
    RETURNS (Model[List[Doc], List[Floats2d]]): Token vectors per doc.
    """
    listener = TransformerListener(upstream_name=upstream)
    model: Model = chain(
        listener,
        Model("drop_bare_metaspace", _drop_bare_metaspace),
        trfs2arrays(pooling, grad_factor),
    )
    model.set_ref("listener", listener)
    return model


def _drop_bare_metaspace(
    model: Model, trf_datas: List[TransformerData], is_train: bool
) -> Tuple[List[TransformerData], Callable]:
    outputs = [_filter_alignment(trf_data) for trf_data in trf_datas]
    return outputs, lambda d_trf_datas: d_trf_datas


def _filter_alignment(trf_data: TransformerData) -> TransformerData:
    align = trf_data.align
    strings = trf_data.wordpieces.strings
    if not len(align.lengths) or not any(METASPACE in s for s in strings):
        return trf_data
    bare = numpy.asarray(strings, dtype=object).ravel() == METASPACE
    pieces = numpy.asarray(align.dataXd).ravel()
    lengths = numpy.asarray(align.lengths)
    token_of = numpy.repeat(numpy.arange(len(lengths)), lengths)
    keep = ~bare[pieces]
    kept = numpy.bincount(token_of[keep], minlength=len(lengths))
    # A token whose only pieces are bare "▁" keeps them.
    keep |= (kept == 0)[token_of]
    new_lengths = numpy.bincount(token_of[keep], minlength=len(lengths))
    # spacy-transformers builds alignments on the CPU, as NumPy arrays.
    new_align = Ragged(pieces[keep].astype(align.dataXd.dtype), new_lengths.astype(lengths.dtype))
    return dataclasses.replace(trf_data, align=new_align)
