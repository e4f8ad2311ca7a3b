"""Trimming a sentencepiece vocabulary: what is kept, and texts whose pieces
are all kept tokenize exactly as before."""
import io

import pytest
import sentencepiece as spm

from helpers.tiny_models import TRAINING_TEXT
from spacy_xlmr_ner.tokenization.vocab_trim import (
    changed_pieces,
    frequent_pieces,
    load_model_proto,
    pieces_to_keep,
    trim_model_proto,
)

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


def test_frequent_pieces_are_the_highest_scoring_in_the_texts_characters(proto):
    used = used_ids(proto, KEPT_TEXTS[:1])
    chars = {ch for i in used for ch in proto.pieces[i].piece}
    normal = type(proto.pieces[0]).NORMAL
    eligible = [
        i for i, p in enumerate(proto.pieces)
        if i not in used and p.type == normal and len(p.piece) > 1 and set(p.piece) <= chars
    ]
    assert 3 < len(eligible) < len(proto.pieces) - len(used)  # some pieces are written in other characters
    top = frequent_pieces(proto, used, 3)
    assert len(top) == 3 and not set(top) & used
    scores = [proto.pieces[i].score for i in top]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) >= max(proto.pieces[i].score for i in eligible if i not in top)
    assert all(set(proto.pieces[i].piece) <= chars for i in top)
    assert sorted(frequent_pieces(proto, used, len(proto.pieces))) == sorted(eligible)
    assert frequent_pieces(proto, used, 0) == []
    with pytest.raises(ValueError, match="at least 0"):
        frequent_pieces(proto, used, -1)


def test_frequent_pieces_keep_the_texts_cut_and_cut_others_less(proto):
    used = used_ids(proto, KEPT_TEXTS)
    plain = processor(trim_model_proto(proto, pieces_to_keep(proto, used)))
    more = processor(trim_model_proto(proto, pieces_to_keep(proto, used | set(frequent_pieces(proto, used, 200)))))
    full = processor(proto)
    for text in KEPT_TEXTS:
        assert more.encode(text, out_type=str) == full.encode(text, out_type=str)
    held_out = TRAINING_TEXT[3:]
    changed_plain = sum(changed_pieces(full.encode(t, out_type=str), plain.encode(t, out_type=str))[0] for t in held_out)
    changed_more = sum(changed_pieces(full.encode(t, out_type=str), more.encode(t, out_type=str))[0] for t in held_out)
    assert changed_more < changed_plain


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
