"""Rebuild the whitespace of pre-tokenized text.

NER corpora such as WikiANN store only tokens, but spaCy docs also need to know
which tokens are followed by a space. Scripts like Chinese, Japanese or Thai
are written without spaces between words, so joining their tokens with spaces
would produce text the encoder never sees at inference time.
"""
from bisect import bisect_right
from typing import List

# Inclusive code-point ranges of scripts written without spaces between words.
_UNSPACED_RANGES = sorted(
    [
        (0x0E00, 0x0E7F),  # Thai
        (0x0E80, 0x0EFF),  # Lao
        (0x1000, 0x109F),  # Myanmar
        (0x1780, 0x17FF),  # Khmer
        (0x19E0, 0x19FF),  # Khmer Symbols
        (0x2E80, 0x2EFF),  # CJK Radicals Supplement
        (0x2F00, 0x2FDF),  # Kangxi Radicals
        (0x2FF0, 0x2FFF),  # Ideographic Description Characters
        (0x3000, 0x303F),  # CJK Symbols and Punctuation
        (0x3040, 0x309F),  # Hiragana
        (0x30A0, 0x30FF),  # Katakana
        (0x3100, 0x312F),  # Bopomofo
        (0x3190, 0x319F),  # Kanbun
        (0x31A0, 0x31BF),  # Bopomofo Extended
        (0x31C0, 0x31EF),  # CJK Strokes
        (0x31F0, 0x31FF),  # Katakana Phonetic Extensions
        (0x3200, 0x32FF),  # Enclosed CJK Letters and Months
        (0x3300, 0x33FF),  # CJK Compatibility
        (0x3400, 0x4DBF),  # CJK Unified Ideographs Extension A
        (0x4E00, 0x9FFF),  # CJK Unified Ideographs
        (0xA9E0, 0xA9FF),  # Myanmar Extended-B
        (0xAA60, 0xAA7F),  # Myanmar Extended-A
        (0xF900, 0xFAFF),  # CJK Compatibility Ideographs
        (0xFE30, 0xFE4F),  # CJK Compatibility Forms
        (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
        (0x1AFF0, 0x1B16F),  # Kana Extended-B, Kana Supplement, Kana Extended-A, Small Kana
        (0x1F200, 0x1F2FF),  # Enclosed Ideographic Supplement
        (0x20000, 0x3FFFF),  # CJK Extensions B-I and Compatibility Ideographs Supplement
    ]
)
_STARTS = [start for start, _ in _UNSPACED_RANGES]
_ENDS = [end for _, end in _UNSPACED_RANGES]


def is_unspaced_char(ch: str) -> bool:
    """Check whether a character belongs to a script written without spaces.

    ch (str): A single character.
    RETURNS (bool): Whether `ch` is e.g. a Han, Kana, Thai, Lao, Khmer or
        Myanmar character, CJK punctuation or a fullwidth form.
    """
    cp = ord(ch)
    i = bisect_right(_STARTS, cp) - 1
    return i >= 0 and cp <= _ENDS[i]


def infer_spaces(words: List[str]) -> List[bool]:
    """Guess which words are followed by a space in the original text.

    Every word but the last is followed by a space, unless the last character
    of the word or the first character of the next word is an unspaced
    character (see `is_unspaced_char`).

    words (List[str]): The words of one sentence.
    RETURNS (List[bool]): One flag per word, usable as `Doc(spaces=...)`.
    """
    spaces = [
        not ((left and is_unspaced_char(left[-1])) or (right and is_unspaced_char(right[0])))
        for left, right in zip(words, words[1:])
    ]
    return spaces + [False] if words else []
