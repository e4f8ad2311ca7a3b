"""Convert IOB files to spaCy's binary `DocBin` corpus format.

Writes are atomic: each `.spacy` file is written in full to a temporary file
in its directory and then renamed over the target (`os.replace`), so a failed
run never leaves a partial file or changes an existing one. A directory run
reads and checks every input file before it writes anything.
"""
import errno
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import spacy
from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab
from tqdm import tqdm
from wasabi import table

from ..tokenization.spacing import infer_spaces
from .iob import Sentence, read_iob
from .label_map import map_tags

SPLITS = ("train", "dev", "test")


def sentences_to_docs(sentences: Iterable[Sentence], vocab: Vocab) -> List[Doc]:
    """Turn sentences into docs with their entities set.

    sentences (Iterable[Sentence]): Sentences with IOB2 tags, e.g. from `read_iob`.
    vocab (Vocab): The vocab of the docs.
    RETURNS (List[Doc]): One doc per sentence, spaces inferred with `infer_spaces`.
    """
    return [Doc(vocab, words=sent.words, spaces=infer_spaces(sent.words), ents=sent.tags) for sent in sentences]


@dataclass
class SplitStats:
    """What was converted for one language and split.

    sentences (int): Number of sentences (docs) written.
    tokens (int): Number of tokens written.
    entities (Counter): Number of entities written, per label.
    n_repaired (int): Number of broken entity starts repaired.
    n_docstart (int): Number of `-DOCSTART-` lines skipped.
    lang_prefix (Optional[str]): Language prefix stripped from the tokens, or None.
    relabeled (Counter): Entities renamed by a label map, per (old, new) label.
    dropped (Counter): Entities removed by a label map (mapped to "O"), per label.
    """

    sentences: int
    tokens: int
    entities: Counter = field(default_factory=Counter)
    n_repaired: int = 0
    n_docstart: int = 0
    lang_prefix: Optional[str] = None
    relabeled: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)

    def notes(self) -> List[str]:
        """RETURNS (List[str]): Remarks worth printing besides the numbers."""
        notes = [f"skipped {self.n_docstart} -DOCSTART- lines"] if self.n_docstart else []
        if self.lang_prefix:
            notes.append(f"stripped language prefix {self.lang_prefix!r} from every token")
        for (old, new), n in sorted(self.relabeled.items()):
            notes.append(f"relabeled {n} {old} entities as {new}")
        for label, n in sorted(self.dropped.items()):
            notes.append(f"dropped {n} {label} entities (label map: {label}=O)")
        return notes


def format_stats(stats: Mapping[Tuple[str, str], SplitStats]) -> str:
    """Format conversion statistics as a table, followed by any notes.

    stats (Mapping[Tuple[str, str], SplitStats]): Statistics by (lang, split).
    RETURNS (str): The table, one row per (lang, split), one column per entity label.
    """
    labels = sorted({label for split_stats in stats.values() for label in split_stats.entities})
    header = ["lang", "split", "sentences", "tokens", *labels, "repaired"]
    rows = [
        [lang, split, s.sentences, s.tokens, *(s.entities[label] for label in labels), s.n_repaired]
        for (lang, split), s in stats.items()
    ]
    notes = [f"{lang}/{split}: {note}" for (lang, split), s in stats.items() for note in s.notes()]
    aligns = ["l", "l"] + ["r"] * (len(header) - 2)
    return "\n".join([table(rows, header=header, divider=True, aligns=aligns), *notes])


class OutputError(OSError):
    """An output path that cannot be written; the message names the path and why.

    code (Optional[int]): The `errno` behind it, also as `.errno`.
    message (str): "Cannot write PATH: REASON".
    """

    def __init__(self, code: Optional[int], message: str):
        super().__init__(message)
        self.errno = code


_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a parent of it is a file, not a directory",
    errno.EEXIST: "a parent of it is a file, not a directory",
    errno.EISDIR: "it is a directory",
}


def _output_error(path: Path, err: OSError) -> OutputError:
    reason = _REASONS.get(err.errno, err.strerror or str(err))
    return OutputError(err.errno, f"Cannot write {path}: {reason}")


def check_output_file(path: Union[str, Path]) -> Path:
    """Fail early on an output path that can never be written: an existing
    directory, or a parent that is a file.

    path (Union[str, Path]): A `.spacy` file to write.
    RETURNS (Path): The path.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(errno.EISDIR, f"Cannot write {path}: it is a directory (give the path of a .spacy file)")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(errno.ENOTDIR, f"Cannot write {path}: {parent} is a file, not a directory")
            break
    return path


def _write_all(f, data: bytes) -> None:
    """Write `data` to the open file `f` and flush it to the disk."""
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def write_files_atomic(outputs: Mapping[Path, bytes]) -> None:
    """Write files so that a failure changes none of them.

    Every file is first written in full to a temporary file in its target's
    directory; only when all are written are they renamed over their targets
    (`os.replace`, atomic per file). A failure while writing (a full disk, a
    read-only directory) removes the temporary files and leaves every target
    as it was. The renames themselves do not fail for want of space; should
    one fail or the process die between renames, each target is either its
    old or its new version in full, never a partial file.

    outputs (Mapping[Path, bytes]): The content of each file to write.
    RAISES OutputError: Naming the path that could not be written and why.
    """
    temps: Dict[Path, str] = {}
    try:
        for path, data in outputs.items():
            check_output_file(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
                temps[path] = temp
                with os.fdopen(fd, "wb") as f:
                    _write_all(f, data)
            except OSError as err:
                raise _output_error(path, err) from None
        for path, temp in list(temps.items()):
            try:
                os.replace(temp, path)
            except OSError as err:
                raise _output_error(path, err) from None
            del temps[path]
    finally:
        for temp in temps.values():
            try:
                os.unlink(temp)
            except OSError:
                pass


def _docbin_bytes(
    path: Union[str, Path], *, lang: Optional[str] = None, label_map: Optional[Mapping[str, str]] = None, **read_options
) -> Tuple[bytes, SplitStats]:
    """Read, check and convert one IOB file: the DocBin's bytes and statistics
    (`read_options` go to `read_iob`)."""
    iob = read_iob(path, **read_options)
    relabeled: Counter = Counter()
    dropped: Counter = Counter()
    if label_map:
        for sent in iob.sentences:
            sent.tags, sent_renamed, sent_dropped = map_tags(sent.tags, dict(label_map))
            relabeled.update(sent_renamed)
            dropped.update(sent_dropped)
    docs = sentences_to_docs(iob.sentences, spacy.blank(lang or "xx").vocab)
    data = DocBin(docs=docs, store_user_data=False).to_bytes()
    entities = Counter(ent.label_ for doc in docs for ent in doc.ents)
    tokens = sum(len(doc) for doc in docs)
    stats = SplitStats(len(docs), tokens, entities, iob.n_repaired, iob.n_docstart, iob.lang_prefix, relabeled, dropped)
    return data, stats


def convert_iob_file(
    path: Union[str, Path],
    output_path: Union[str, Path],
    *,
    strict: bool = False,
    limit: int = 0,
    lang: Optional[str] = None,
    progress: Optional[bool] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> SplitStats:
    """Convert one IOB file to a `.spacy` DocBin file, written atomically
    (see `write_files_atomic`): on any error an existing output is unchanged.

    path (Union[str, Path]): The IOB file (see `read_iob`).
    output_path (Union[str, Path]): The DocBin file to write; parent directories are created.
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, convert only the first `limit` sentences.
    lang (Optional[str]): Language code of the blank vocab; None uses "xx" (multi-language).
    progress (Optional[bool]): Progress bar setting passed to `read_iob`.
    label_map (Optional[Mapping[str, str]]): Entity label renames (see
        `io.label_map.map_tags`), e.g. to unify the labels of several datasets.
    RETURNS (SplitStats): What was written.
    RAISES IOBFormatError: A problem in the input, with its file and line.
    RAISES OutputError: The output cannot be written, with its path and why.
    """
    output_path = check_output_file(output_path)
    data, stats = _docbin_bytes(path, strict=strict, limit=limit, lang=lang, progress=progress, label_map=label_map)
    write_files_atomic({output_path: data})
    return stats


def _found_splits(input_dir: Path, langs: Sequence[str]) -> str:
    found = sorted({p.stem for code in langs for p in (input_dir / code).glob("*.iob")})
    return ", ".join(found) if found else "none"


def convert_iob_dir(
    input_dir: Union[str, Path],
    output_dir: Union[str, Path],
    *,
    langs: Optional[Sequence[str]] = None,
    splits: Optional[Sequence[str]] = None,
    strict: bool = False,
    limit: int = 0,
    lang: Optional[str] = None,
    progress: Optional[bool] = None,
    label_map: Optional[Mapping[str, str]] = None,
) -> Dict[Tuple[str, str], SplitStats]:
    """Convert `input_dir/{lang}/{split}.iob` files to `output_dir/{lang}/{split}.spacy`.

    Every requested split must exist for every language. With the default
    splits (train, dev, test), a split missing for every language is skipped;
    one missing for only some of the languages is an error, so that no
    language silently lacks data.

    Every input file is read and checked before anything is written, and the
    outputs are written together by `write_files_atomic`: a run that fails
    changes no existing output.

    input_dir (Union[str, Path]): Directory with one subdirectory per language.
    output_dir (Union[str, Path]): Directory to write the DocBin files to.
    langs (Optional[Sequence[str]]): Languages to convert. None converts every
        subdirectory that holds at least one of the split files.
    splits (Optional[Sequence[str]]): Names of the splits to convert; None
        for train, dev and test, those present.
    strict (bool): Raise on broken entity starts instead of repairing them.
    limit (int): If > 0, convert only the first `limit` sentences of each file.
    lang (Optional[str]): Language code of the blank vocab; None uses "xx" (multi-language).
    progress (Optional[bool]): Show a progress bar of the files on stderr
        (None: when stderr is a terminal); passed to `read_iob` too.
    label_map (Optional[Mapping[str, str]]): Entity label renames, as in `convert_iob_file`.
    RETURNS (Dict[Tuple[str, str], SplitStats]): Statistics by (lang, split), language-major.
    RAISES FileNotFoundError: Input files missing, naming them and the splits found.
    RAISES IOBFormatError: A problem in an input, with its file and line.
    RAISES OutputError: An output cannot be written, with its path and why.
    """
    input_dir, output_dir = Path(input_dir), Path(output_dir)
    requested = splits is not None
    splits = list(splits) if requested else list(SPLITS)
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(errno.ENOTDIR, f"Cannot write to {output_dir}: it is a file, not a directory")
    if langs is None:
        subdirs = sorted(p for p in input_dir.iterdir() if p.is_dir())
        langs = [p.name for p in subdirs if any((p / f"{split}.iob").is_file() for split in splits)]
    paths = {(code, split): input_dir / code / f"{split}.iob" for code in langs for split in splits}
    present = [split for split in splits if any(paths[code, split].is_file() for code in langs)]
    if not present:
        for_langs = f" for {', '.join(langs)}" if langs else ""
        found = _found_splits(input_dir, langs)
        listed = ",".join(splits)
        raise FileNotFoundError(f"No {{{listed}}}.iob files in {input_dir}{for_langs} (splits found: {found})")
    wanted = splits if requested else present
    missing = [str(path) for (_, split), path in paths.items() if split in wanted and not path.is_file()]
    if missing:
        found = _found_splits(input_dir, langs)
        raise FileNotFoundError(f"Missing IOB files: {', '.join(missing)} (splits found: {found})")
    kwargs = dict(strict=strict, limit=limit, lang=lang, progress=progress, label_map=label_map)
    todo = [(key, path) for key, path in paths.items() if key[1] in present]
    targets = {key: check_output_file(output_dir / key[0] / f"{key[1]}.spacy") for key, _ in todo}
    disable = None if progress is None else not progress
    stats = {}
    outputs: Dict[Path, bytes] = {}
    for key, path in tqdm(todo, disable=disable, file=sys.stderr, unit="files", leave=False):
        outputs[targets[key]], stats[key] = _docbin_bytes(path, **kwargs)
    write_files_atomic(outputs)
    return stats
