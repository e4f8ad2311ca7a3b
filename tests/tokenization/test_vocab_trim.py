"""Trimming a sentencepiece vocabulary: what is kept, and texts whose pieces
are all kept tokenize exactly as before."""
import io

import pytest
import sentencepiece as spm

from helpers.tiny_models import TRAINING_TEXT
from spacy_xlmr_ner.tokenization.vocab_trim import changed_pieces, load_model_proto, pieces_to_keep, trim_model_proto

KEPT_TEXTS = TRAINING_TEXT[:3]
HELD_OUT = ["Mark Rutte bezocht Amsterdam.", "Lech Wałęsa odwiedził Gdańsk.", "習近平 und 😀 in Zürich"]


@pytest.fixture(scope="module")
def proto(tiny_encoder):
    return load_model_proto((tiny_encoder / "sentencepiece.bpe.model").read_bytes())


def processor(proto):
    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def used_ids(proto, texts):
    return {i for ids in processor(proto).encode(list(texts)) for i in ids}


def test_keeps_used_special_single_character_and_lowest_pieces(proto):
    used = used_ids(proto, KEPT_TEXTS)
    keep = pieces_to_keep(proto, used)
    assert keep == sorted(set(keep)) and used <= set(keep)
    normal = type(proto.pieces[0]).NORMAL
    for i, piece in enumerate(proto.pieces):
        if piece.type != normal or len(piece.piece) == 1:
            assert i in keep, piece
    lowest = min((p.score, i) for i, p in enumerate(proto.pieces) if p.type == normal and len(p.piece) > 1)[1]
    assert lowest in keep
    # Nothing else: every other kept piece is used.
    extra = [i for i in keep if i not in used and proto.pieces[i].type == normal and len(proto.pieces[i].piece) > 1]
    assert extra == [lowest] or (extra == [] and lowest in used)
    assert len(keep) < len(proto.pieces)


def test_kept_texts_tokenize_exactly_as_before_and_others_still_do(proto):
    keep = pieces_to_keep(proto, used_ids(proto, KEPT_TEXTS))
    trimmed = trim_model_proto(proto, keep)
    assert [p.piece for p in trimmed.pieces] == [proto.pieces[i].piece for i in keep]
    assert [p.score for p in trimmed.pieces] == [proto.pieces[i].score for i in keep]
    full, small = processor(proto), processor(trimmed)
    for text in KEPT_TEXTS:
        assert small.encode(text, out_type=str) == full.encode(text, out_type=str)
    changed = 0
    for text in HELD_OUT:
        before, after = full.encode(text, out_type=str), small.encode(text, out_type=str)
        # Dropped pieces split into smaller kept ones: the same text, no new unknowns.
        assert "".join(after) == "".join(before)
        assert after.count("<unk>") == before.count("<unk>")
        changed += changed_pieces(before, after)[0]
    assert changed > 0  # the held-out texts do use pieces that were dropped


def test_changed_pieces():
    assert changed_pieces(["▁Ber", "lin"], ["▁Ber", "lin"]) == (0, 2)
    assert changed_pieces(["▁Berlin", "er"], ["▁Ber", "lin", "er"]) == (1, 2)
    assert changed_pieces(["▁a", "bc"], ["▁ab", "c"]) == (2, 2)
    assert changed_pieces([], []) == (0, 0)


def test_unknown_ids_and_other_model_kinds_are_refused(proto):
    with pytest.raises(ValueError, match="not in the model"):
        pieces_to_keep(proto, [len(proto.pieces)])
    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_TEXT[:2] * 4), model_writer=buffer, vocab_size=150, model_type="bpe",
        character_coverage=1.0, hard_vocab_limit=False, minloglevel=2,
    )
    with pytest.raises(ValueError, match="Only unigram sentencepiece models .* this one is BPE"):
        load_model_proto(buffer.getvalue())
