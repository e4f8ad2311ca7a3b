import numpy

from helpers import make_transformer_nlp
from spacy_xlmr_ner.models.listener import METASPACE, _filter_alignment


def first_pieces(trf_data):
    strings = numpy.asarray(trf_data.wordpieces.strings, dtype=object).ravel()
    align = trf_data.align
    starts = numpy.cumsum(align.lengths) - align.lengths
    return [strings[align.dataXd[s]] for s in starts]


def test_bare_metaspace_is_never_a_tokens_first_piece(tiny_encoder):
    nlp = make_transformer_nlp(tiny_encoder, use_fast=True)
    nlp.initialize()
    doc = nlp("समूह से 北京 and Berlin")
    trf_data = doc._.trf_data
    # spacy-transformers gives the window's first token the bare "▁" that the
    # fast tokenizer's offsets put at the start of the text.
    assert first_pieces(trf_data)[0] == METASPACE
    filtered = _filter_alignment(trf_data)
    assert METASPACE not in first_pieces(filtered)
    assert first_pieces(filtered)[:2] == ["स", "स"]
    # Nothing else changes, and every token keeps at least one piece.
    assert (filtered.align.lengths > 0).all()
    assert len(filtered.align.lengths) == len(doc)
    assert first_pieces(filtered)[2:] == first_pieces(trf_data)[2:]


def test_sentencepiece_alignment_has_no_bare_metaspace_to_drop(tiny_encoder):
    nlp = make_transformer_nlp(tiny_encoder)
    nlp.initialize()
    doc = nlp("समूह से 北京 and Berlin")
    trf_data = doc._.trf_data
    strings = numpy.asarray(trf_data.wordpieces.strings, dtype=object).ravel()
    assert METASPACE in list(strings)
    assert METASPACE not in list(strings[trf_data.align.dataXd])
    assert first_pieces(trf_data) == first_pieces(_filter_alignment(trf_data)) == ["स", "स", "北", "京", "a", "▁B"]
