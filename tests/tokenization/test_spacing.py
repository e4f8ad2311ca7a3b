import unicodedata

import pytest

from spacy_xlmr_ner.tokenization.spacing import infer_spaces, is_unspaced_char

UNSPACED_NAMES = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "HIRAGANA",
    "KATAKANA",
    "BOPOMOFO",
    "FULLWIDTH",
    "HALFWIDTH",
    "THAI CHARACTER",
    "LAO ",
    "KHMER ",
    "MYANMAR ",
)
SPACED_NAMES = ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "DEVANAGARI", "HANGUL SYLLABLE", "DIGIT")


@pytest.mark.parametrize(
    "ch",
    ["中", "𠀀", "豈", "⺀", "ぁ", "カ", "ｶ", "。", "「", "，", "ㄅ", "㈠", "㎏", "ก", "ກ", "ក", "က", "\u3000", "\u9fff"],
)
def test_unspaced_chars(ch):
    assert is_unspaced_char(ch)


@pytest.mark.parametrize("ch", ["a", "Я", "ع", "क", "한", "ㄱ", " ", "1", "-", "\u0dff", "\ua000", "\u4dc0", "😀"])
def test_spaced_chars(ch):
    assert not is_unspaced_char(ch)


def test_ranges_agree_with_unicode_names():
    for cp in range(0x40000):
        name = unicodedata.name(chr(cp), "")
        if name.startswith(UNSPACED_NAMES):
            assert is_unspaced_char(chr(cp)), (hex(cp), name)
        elif name.startswith(SPACED_NAMES):
            assert not is_unspaced_char(chr(cp)), (hex(cp), name)


def rebuild(words):
    return "".join(word + (" " if space else "") for word, space in zip(words, infer_spaces(words)))


@pytest.mark.parametrize(
    "words,text",
    [
        (["Angela", "Merkel", "besuchte", "Paris", "."], "Angela Merkel besuchte Paris ."),
        (["北", "京", "是", "中", "国", "的", "首", "都"], "北京是中国的首都"),
        (["我", "在", "Google", "工作", "。"], "我在Google工作。"),
        (["東京", "タワー", "は", "赤い"], "東京タワーは赤い"),
        (["กรุงเทพ", "มหานคร", "เป็น", "เมืองหลวง"], "กรุงเทพมหานครเป็นเมืองหลวง"),
        (["القاهرة", "عاصمة", "مصر"], "القاهرة عاصمة مصر"),
        (["नई", "दिल्ली", "भारत"], "नई दिल्ली भारत"),
        (["서울", "특별시"], "서울 특별시"),
        (["Москва", "—", "столица"], "Москва — столица"),
    ],
)
def test_infer_spaces_rebuilds_text(words, text):
    assert rebuild(words) == text


def test_infer_spaces_edges():
    assert infer_spaces([]) == []
    assert infer_spaces(["北"]) == [False]
    assert infer_spaces(["a", "b"]) == [True, False]
    assert infer_spaces(["a", "", "b"]) == [True, True, False]
