"""A tokenizer that also splits scripts written without spaces into characters.

spaCy's `xx` tokenizer only splits on whitespace and punctuation, so a Chinese,
Japanese or Thai sentence comes out as one token and no entity inside it can be
marked. NER corpora for these languages (WikiANN zh/ja) are tokenized by
character instead, with runs of Latin letters or digits kept whole (`NBA`,
`1995`). `MultilingualTokenizer` runs spaCy's rule-based tokenizer and then
splits each such token into single-character units, which matches those
corpora: rebuilding a corpus sentence with `infer_spaces` and tokenizing its
text gives back the corpus tokens.

spaCy's tokenizer strips prefixes and suffixes off a whitespace-delimited run
one at a time, rescanning the rest of the run each time, so a long run of
punctuation or emoji costs time growing with the square of its length. Runs
longer than `MAX_RUN` characters are therefore cut into pieces of at most
`PIECE` characters (see `_cut_points`) and each piece is tokenized alone;
text without such runs is tokenized exactly as before.
"""
import re
import unicodedata
from itertools import chain
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import numpy
from spacy.attrs import NORM, ORTH, SPACY, intify_attrs
from spacy.language import Language
from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Token
from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex, registry

# The ranges behind `is_unspaced_char`: one definition for corpus conversion and tokenization.
from .spacing import _UNSPACED_RANGES


def _ranges(code_points: List[int]) -> List[Tuple[int, int]]:
    """Merge sorted code points into inclusive (start, end) ranges."""
    out: List[List[int]] = []
    for cp in code_points:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [(start, end) for start, end in out]


def _without(ranges: List[Tuple[int, int]], excluded: Set[int]) -> List[Tuple[int, int]]:
    """Remove code points from inclusive (start, end) ranges."""
    out = []
    for start, end in ranges:
        for cp in sorted(cp for cp in excluded if start <= cp <= end):
            if cp > start:
                out.append((start, cp - 1))
            start = cp + 1
        if start <= end:
            out.append((start, end))
    return out


def _char_class(ranges: List[Tuple[int, int]]) -> str:
    return "[" + "".join(f"\\U{start:08x}-\\U{end:08x}" for start, end in ranges) + "]"


# Characters that extend the preceding character instead of starting a unit:
# combining marks (Thai vowels and tone marks, kana voiced marks, variation
# selectors), the joiners ZWNJ/ZWJ and the halfwidth kana voiced marks (Lm, but
# combining in use). Marks only occur in planes 0, 1 and 14, so scanning those
# keeps the import fast (~40 ms instead of ~300 ms for all of Unicode).
_EXTENDERS = {cp for cp in chain(range(0x20000), range(0xE0000, 0xE1000)) if unicodedata.category(chr(cp))[0] == "M"}
_EXTENDERS |= {0x200C, 0x200D, 0xFF9E, 0xFF9F}
# A unit starts with an unspaced character that is neither an extender nor
# whitespace (U+3000 IDEOGRAPHIC SPACE; all whitespace is below U+3001).
_BASE = _char_class(_without(_UNSPACED_RANGES, _EXTENDERS | {cp for cp in range(0x3001) if chr(cp).isspace()}))
# `re` checks a class's BMP characters in a bitmap but its non-BMP ranges one by
# one, so the ~110 non-BMP extender ranges are only tried on non-BMP characters
# (3x faster on CJK text).
_EXTEND_BMP = _char_class(_ranges(sorted(cp for cp in _EXTENDERS if cp <= 0xFFFF)))
_EXTEND_ASTRAL = _char_class(_ranges(sorted(cp for cp in _EXTENDERS if cp > 0xFFFF)))
_UNSPACED_RE = re.compile(_char_class(_UNSPACED_RANGES))
# The group makes `split` return [run, unit, run, unit, ..., run].
_UNIT_RE = re.compile(f"({_BASE}(?:{_EXTEND_BMP}|(?=[\\U00010000-\\U0010ffff]){_EXTEND_ASTRAL})*)")

# Runs of non-whitespace longer than MAX_RUN characters are cut into pieces of
# at most PIECE characters. A run of MAX_RUN characters costs spaCy at most
# about MAX_RUN affix steps over MAX_RUN characters; longer runs are bounded by
# PIECE, so any text costs time linear in its length.
MAX_RUN = 64
PIECE = 32
# A maximal run (the lookbehind starts matches only at a run's start, keeping the scan linear).
_LONG_RUN_RE = re.compile(r"(?<!\S)\S{%d,}" % (MAX_RUN + 1))
# Characters a cut must not precede: extenders, emoji skin-tone modifiers, tag characters.
_NO_CUT_BEFORE = frozenset(map(chr, _EXTENDERS | set(range(0x1F3FB, 0x1F400)) | set(range(0xE0020, 0xE0080))))
_ZWJ = "\u200d"


def _is_regional(ch: str) -> bool:
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() and not _UNSPACED_RE.match(ch)


def _cut_allowed(run: str, i: int, regionals: int = 0) -> bool:
    """Whether `run` may be cut before `run[i]` without splitting a character
    from its combining marks or a ZWJ sequence, or a flag's pair of regional
    indicators (`regionals`: how many of them run up to `run[i]` since the
    last cut)."""
    ch, prev = run[i], run[i - 1]
    return ch not in _NO_CUT_BEFORE and prev != _ZWJ and not (_is_regional(ch) and regionals % 2)


def _cut_points(run: str) -> List[int]:
    """Where to cut a run of non-whitespace into pieces of at most `PIECE`
    characters: at the last point of each piece's second half that is next to
    a character other than a letter or digit of a spaced script (punctuation,
    symbols, emoji, unspaced characters), else at the last point that keeps
    characters with their marks, else after `PIECE` characters.

    run (str): Text without whitespace.
    RETURNS (List[int]): Increasing positions strictly inside the run.
    """
    cuts: List[int] = []
    start = 0
    while len(run) - start > PIECE:
        end = start + PIECE
        regionals = [0] * (PIECE + 1)  # regional indicators ending just before each point
        for i in range(start, end):
            regionals[i - start + 1] = regionals[i - start] + 1 if _is_regional(run[i]) else 0
        fallback = preferred = 0
        for i in range(end, start, -1):
            if not _cut_allowed(run, i, regionals[i - start]):
                continue
            fallback = fallback or i
            if i > start + PIECE // 2 and not (_is_word_char(run[i - 1]) and _is_word_char(run[i])):
                preferred = i
                break
        start = preferred or fallback or end
        cuts.append(start)
    return cuts


def _segments(text: str) -> Optional[List[str]]:
    """Cut `text` into pieces that are tokenized one by one, or None when it has
    no run longer than `MAX_RUN` (then it is tokenized whole). A piece starts at
    a long run's start or at a cut inside it; the text after a run's last cut
    (with the whitespace and shorter runs that follow) stays with that piece,
    so whitespace is tokenized as in the whole text."""
    bounds = []
    for match in _LONG_RUN_RE.finditer(text):
        bounds.append(match.start())
        bounds.extend(match.start() + cut for cut in _cut_points(match.group()))
    if not bounds:
        return None
    bounds.append(len(text))
    return [text[a:b] for a, b in zip([0] + bounds, bounds) if a < b]


class MultilingualTokenizer(Tokenizer):
    """spaCy's rule-based tokenizer, plus a split of every token that contains
    characters of scripts written without spaces (see `is_unspaced_char`) into
    units of one such character and its combining marks. The text between
    units (e.g. `NBA` in `在NBA打球`) is tokenized by spaCy's rules as if it
    stood alone; text without unspaced characters is tokenized exactly as by
    `spacy.tokenizer.Tokenizer`. Tokens that spaCy made from a special case
    (`add_special_case`) are not split.

    The subclass adds no settings (only a cache derived from the rules), so
    `pipe`, `to_bytes`, `from_bytes`, `to_disk`, `from_disk` and pickling are
    spaCy's own and keep the special cases and prefix/suffix/infix rules.
    """

    def __call__(self, text: str) -> Doc:
        """Tokenize a text.

        text (str): The text to tokenize.
        RETURNS (Doc): The tokens; `doc.text == text`.
        """
        segments = _segments(text)
        if segments is None:
            return self._tokenize_segment(text)
        # The pieces' tokens in one Doc (as `Doc.from_docs`, without a Token object per token).
        docs = [self._tokenize_segment(segment) for segment in segments]
        arrays = numpy.concatenate([doc.to_array([ORTH, SPACY, NORM]) for doc in docs if len(doc)])
        strings = self.vocab.strings
        words = [strings[orth] for orth in arrays[:, 0].tolist()]
        out = Doc(self.vocab, words=words, spaces=arrays[:, 1].astype(bool).tolist())
        out.from_array([NORM], arrays[:, 2:])
        return out

    def _tokenize_segment(self, text: str) -> Doc:
        """Tokenize a text with spaCy's rules and split its unspaced characters."""
        doc = Tokenizer.__call__(self, text)
        # One C-level scan keeps text without unspaced characters off the Python path.
        if not _UNSPACED_RE.search(text):
            return doc
        unsplit, normed = self._special_orths()
        words: List[str] = []
        spaces: List[bool] = []
        norms: Dict[int, str] = {}  # position -> norm a special case set (e.g. NBSP's)

        def keep(token: Token) -> None:
            # `token.lex` is slow: only look at tokens a special case may have normed.
            if token.text in normed and token.norm != token.lex.norm:
                norms[len(words)] = token.norm_
            words.append(token.text)
            spaces.append(bool(token.whitespace_))

        changed = False
        for token in doc:
            parts = [token.text] if token.is_space or token.text in unsplit else _UNIT_RE.split(token.text)
            if len(parts) == 1 or parts[1] == token.text:  # nothing to split, or a single unit
                keep(token)
                continue
            changed = True
            if not any(parts[::2]):  # only units, the common case in CJK text
                words += parts[1::2]
                spaces += [False] * (len(parts) // 2)
            else:
                for i, part in enumerate(parts):
                    if i % 2:
                        words.append(part)
                        spaces.append(False)
                    elif part:
                        for sub in Tokenizer.__call__(self, part):
                            keep(sub)
            spaces[-1] = bool(token.whitespace_)
        if not changed:
            return doc
        out = Doc(self.vocab, words=words, spaces=spaces)
        for i, norm in norms.items():
            out[i].norm_ = norm
        return out

    def explain(self, text: str) -> List[Tuple[str, str]]:
        """Like `Tokenizer.explain`, with each unit reported as ("UNSPACED", unit).

        text (str): The text to tokenize.
        RETURNS (List[Tuple[str, str]]): (rule, token text) pairs, whitespace tokens left out.
        """
        unsplit = self._special_orths()[0]
        out = []
        for rule, substring in chain.from_iterable(Tokenizer.explain(self, s) for s in _segments(text) or [text]):
            parts = [substring] if substring in unsplit else _UNIT_RE.split(substring)
            if len(parts) == 1 or parts[1] == substring:
                out.append((rule, substring))
                continue
            for i, part in enumerate(parts):
                if i % 2:
                    out.append(("UNSPACED", part))
                elif part:
                    out.extend(Tokenizer.explain(self, part))
        return out

    def add_special_case(self, string: str, substrings: Iterable[Dict]) -> None:
        """Add a special-case tokenization rule, see `Tokenizer.add_special_case`.

        string (str): The string to specially tokenize.
        substrings (Iterable[Dict]): One dict of token attributes per token.
        """
        Tokenizer.add_special_case(self, string, substrings)
        # Also reached through the `rules` setter and `from_bytes`.
        self.__dict__.pop("_special_orths_cache", None)

    def _special_orths(self) -> Tuple[Set[str], Set[str]]:
        """The token texts of special cases: those with unspaced characters
        (a token spaCy made from a special case is left whole), and those
        that set a norm."""
        # Keyed on the rules dict too: setting `rules = {}` adds no special case.
        key = (id(self.rules), len(self.rules))
        cached = self.__dict__.get("_special_orths_cache")
        if cached is None or cached[0] != key:
            specs = [intify_attrs(spec) for tokens in self.rules.values() for spec in tokens]
            unsplit = {spec[ORTH] for spec in specs if _UNIT_RE.search(spec[ORTH])}
            cached = (key, unsplit, {spec[ORTH] for spec in specs if NORM in spec})
            self.__dict__["_special_orths_cache"] = cached
        return cached[1], cached[2]


@registry.tokenizers("spacy-xlmr-ner.MultilingualTokenizer.v1")
def create_multilingual_tokenizer() -> Callable[[Language], MultilingualTokenizer]:
    """Registered function for `[nlp.tokenizer]`: spaCy's tokenizer for the
    language (as `spacy.Tokenizer.v1` builds it from `nlp.Defaults`), which
    also splits scripts written without spaces into characters.

    RETURNS (Callable[[Language], MultilingualTokenizer]): The tokenizer factory.
    """

    def tokenizer_factory(nlp: Language) -> MultilingualTokenizer:
        defaults = nlp.Defaults
        return MultilingualTokenizer(
            nlp.vocab,
            rules=defaults.tokenizer_exceptions,
            prefix_search=compile_prefix_regex(defaults.prefixes).search if defaults.prefixes else None,
            suffix_search=compile_suffix_regex(defaults.suffixes).search if defaults.suffixes else None,
            infix_finditer=compile_infix_regex(defaults.infixes).finditer if defaults.infixes else None,
            token_match=defaults.token_match,
            url_match=defaults.url_match,
        )

    return tokenizer_factory
