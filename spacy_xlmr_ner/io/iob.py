"""Read and validate token-per-line IOB / CoNLL NER files."""
import codecs
import re
import unicodedata
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

from tqdm import tqdm

from ..decoding.labels import OUTSIDE, is_outside, is_tag, split_tag, to_iob2

# Language prefix of raw WikiANN / XTREME tokens, e.g. "en:", "zh-yue:".
_LANG_PREFIX_RE = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*:")
LONG_FILE_LINES = 50_000
# Line breaks as universal newlines reads them.
_NEWLINE_RE = re.compile(r"\r\n|\r|\n")
# Characters no token or tag may hold: control characters other than tab (NUL,
# form feed, NEL, ...) and the line and paragraph separators U+2028/U+2029.
_FORBIDDEN_RE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
# Byte order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
]


class IOBFormatError(ValueError):
    """A malformed line (or file) in an IOB file."""

    def __init__(
        self, path: Union[str, Path], problem: str, line_no: Optional[int] = None, line: Optional[str] = None
    ):
        where = f"{path}:{line_no}" if line_no is not None else str(path)
        super().__init__(f"{where}: {problem}" + (f": {line!r}" if line is not None else ""))
        self.path, self.problem, self.line_no, self.line = path, problem, line_no, line


@dataclass
class Sentence:
    """One sentence of an IOB file.

    words (List[str]): The tokens.
    tags (List[str]): One IOB2 tag per token, after repair.
    line_no (int): 1-based line number of the first token.
    """

    words: List[str]
    tags: List[str]
    line_no: int


@dataclass
class IOBFile:
    """The sentences of an IOB file and what was done to read them.

    path (Path): The file read.
    sentences (List[Sentence]): The sentences, in file order.
    n_repaired (int): Number of broken entity starts (IOB1-style `I-` tags)
        changed to `B-`.
    n_docstart (int): Number of `-DOCSTART-` lines skipped.
    lang_prefix (Optional[str]): The language prefix stripped from every
        token (e.g. "en:"), or None.
    """

    path: Path
    sentences: List[Sentence]
    n_repaired: int = 0
    n_docstart: int = 0
    lang_prefix: Optional[str] = None


def read_iob(
    path: Union[str, Path], *, strict: bool = False, limit: int = 0, progress: Optional[bool] = None
) -> IOBFile:
    """Read an IOB file with one `token<TAB>tag` line per token and blank
    lines between sentences.

    Columns may also be separated by whitespace, and extra columns are
    ignored: the token is the first column, the tag the last (so CoNLL-2003
    `token POS chunk tag` works). BIOES/BILUO tags are converted to IOB2, and
    `-DOCSTART-` lines are skipped. If every token carries the same language
    prefix (`en:Angela`), it is stripped.

    Rejected with the file and line (`IOBFormatError`): bytes that are not
    UTF-8, a line without a tag, an unknown tag shape, an entity labelled "O"
    (`B-O`), and a control character other than tab (NUL, form feed, ...) or
    a line or paragraph separator (U+2028, U+2029) anywhere in a line.

    path (Union[str, Path]): The file: UTF-8 (with or without BOM), or UTF-16
        or UTF-32 with a byte order mark. Lines end in LF, CRLF or CR.
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, keep only the first `limit` sentences.
    progress (Optional[bool]): Show a progress bar on stderr. None shows one
        for files over 50,000 lines when stderr is a terminal.
    RETURNS (IOBFile): The sentences and reading statistics.
    """
    path = Path(path)
    lines = _NEWLINE_RE.split(_decode(path))
    disable = not progress if progress is not None else (None if len(lines) > LONG_FILE_LINES else True)
    bar = tqdm(lines, disable=disable, file=sys.stderr, unit="lines", leave=False, desc=path.name)
    sentences: List[List[Tuple[int, str, str]]] = [[]]  # (line_no, token, tag)
    n_docstart = 0
    for line_no, line in enumerate(bar, 1):
        bad = _FORBIDDEN_RE.search(line)
        if bad:
            char = bad.group()
            name = "NUL" if char == "\x00" else unicodedata.name(char, "control character")
            problem = (
                f"U+{ord(char):04X} ({name}) at column {bad.start() + 1}; "
                "tokens and tags hold no control characters or line separators"
            )
            if char == "\x00":
                problem += " (NUL bytes: is the file UTF-16 without a byte order mark? re-save it as UTF-8)"
            raise IOBFormatError(path, problem, line_no, line)
        text = line.rstrip()
        cols = [c.strip() for c in text.split("\t")] if "\t" in text else text.split()
        if not cols or cols[0] == "-DOCSTART-":
            n_docstart += bool(cols)
            if sentences[-1]:
                if len(sentences) == limit:
                    break
                sentences.append([])
            continue
        if len(cols) < 2:
            raise IOBFormatError(path, "missing tag", line_no, line)
        if not cols[0]:
            raise IOBFormatError(path, "empty token", line_no, line)
        if not is_tag(cols[-1]):
            raise IOBFormatError(path, f"unknown tag shape {cols[-1]!r}", line_no, line)
        if split_tag(cols[-1])[0] != OUTSIDE and is_outside(split_tag(cols[-1])[1]):
            problem = f"entity labelled as outside ({cols[-1]}): a token outside every entity is tagged plain O"
            raise IOBFormatError(path, problem, line_no, line)
        sentences[-1].append((line_no, cols[0], cols[-1]))
    if not sentences[-1]:
        sentences.pop()
    if not sentences:
        raise IOBFormatError(path, "no sentences")
    match = _LANG_PREFIX_RE.match(sentences[0][0][1])
    prefix = match.group() if match else None
    if prefix and not all(tok.startswith(prefix) for sent in sentences for _, tok, _ in sent):
        prefix = None
    result = IOBFile(path, [], n_docstart=n_docstart, lang_prefix=prefix)
    for sent in sentences:
        line_nos, words, tags = (list(col) for col in zip(*sent))
        if prefix:
            words = [word[len(prefix) :] for word in words]
            for line_no, word in zip(line_nos, words):
                if not word:
                    problem = f"empty token after stripping language prefix {prefix!r}"
                    raise IOBFormatError(path, problem, line_no, lines[line_no - 1])
        tags, repaired = to_iob2(tags)
        if repaired and strict:
            line_no = line_nos[repaired[0]]
            problem = "broken entity start (tag does not continue an entity of the same type)"
            raise IOBFormatError(path, problem, line_no, lines[line_no - 1])
        result.n_repaired += len(repaired)
        result.sentences.append(Sentence(words, tags, line_nos[0]))
    return result


def _decode(path: Path) -> str:
    """The text of an IOB file; IOBFormatError names the file, line and byte
    when it cannot be read or is not UTF-8 (nor UTF-16/32 with a BOM)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IOBFormatError(path, f"cannot read the file: {err.strerror or err}") from None
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            break
    else:
        codec, name = "utf-8", "UTF-8"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as err:
        if codec == "utf-8" and b"\x00" in data[:1000]:
            hint = "it looks like UTF-16 or UTF-32 without a byte order mark; re-save it as UTF-8"
        elif codec == "utf-8":
            hint = "it may be Latin-1 or Windows-1252; re-save it as UTF-8"
        else:
            hint = f"the file starts with a {name} byte order mark but is not valid {name}; re-save it as UTF-8"
        if codec != "utf-8":  # positions count code units there, not bytes: no line
            raise IOBFormatError(path, f"not valid {name}: {err.reason}; {hint}") from None
        lines = _NEWLINE_RE.split(data[: err.start].decode("utf-8", "replace"))
        line_no, column = len(lines), len(lines[-1]) + 1
        start = data.rfind(b"\n", 0, err.start) + 1
        end = data.find(b"\n", err.start)
        line = data[start : end if end >= 0 else len(data)].rstrip(b"\r").decode("utf-8", "backslashreplace")
        problem = f"byte 0x{data[err.start]:02x} at column {column} is not UTF-8 ({hint})"
        raise IOBFormatError(path, problem, line_no, line) from None
