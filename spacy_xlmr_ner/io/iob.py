"""Read and validate token-per-line IOB / CoNLL NER files."""
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

from tqdm import tqdm

from ..decoding.labels import is_tag, to_iob2

# Language prefix of raw WikiANN / XTREME tokens, e.g. "en:", "zh-yue:".
_LANG_PREFIX_RE = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*:")
LONG_FILE_LINES = 50_000


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

    path (Union[str, Path]): The file, UTF-8 (with or without BOM).
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, keep only the first `limit` sentences.
    progress (Optional[bool]): Show a progress bar on stderr. None shows one
        for files over 50,000 lines when stderr is a terminal.
    RETURNS (IOBFile): The sentences and reading statistics.
    """
    path = Path(path)
    with path.open(encoding="utf-8-sig") as f:  # universal newlines: CRLF is fine
        lines = f.read().split("\n")
    disable = not progress if progress is not None else (None if len(lines) > LONG_FILE_LINES else True)
    bar = tqdm(lines, disable=disable, file=sys.stderr, unit="lines", leave=False, desc=path.name)
    sentences: List[List[Tuple[int, str, str]]] = [[]]  # (line_no, token, tag)
    n_docstart = 0
    for line_no, line in enumerate(bar, 1):
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
