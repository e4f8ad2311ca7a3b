"""Input files for batch annotation: finding them, cutting them into shards,
and reading a shard's rows.

Formats: JSONL (one JSON object per line), Parquet, and plain text (one
document per line). A shard is a stretch of one file (a byte range of a JSONL
or text file, a run of row groups of a Parquet file), so a worker reads only
its own part and the shard is the unit that is written, skipped on resume and
retried.
"""
import glob
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List, Optional, Sequence

from ..extras import import_extra

FORMATS = ("jsonl", "parquet", "text")
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".txt": "text", ".text": "text"}


def arrow_module() -> ModuleType:
    """RETURNS (ModuleType): pyarrow, or a message naming the extra to install."""
    return import_extra("pyarrow", "annotate", "Parquet input and output")


def parquet_module() -> ModuleType:
    """RETURNS (ModuleType): pyarrow.parquet (see `arrow_module`)."""
    return import_extra("pyarrow.parquet", "annotate", "Parquet input and output")


class InputError(ValueError):
    """An input that cannot be read at all: a missing or unreadable file, or a
    Parquet file without the text column. Bad rows are not input errors: they
    become rows with an error."""


@dataclass(frozen=True)
class InputRow:
    """One input row.

    row (int): Its index in its file (0-based; for JSONL and text, its line
        number less one; blank JSONL lines are not rows).
    id (Any): Its id (JSONL and Parquet: the id field, None if absent; text:
        its line number).
    text (Optional[str]): Its text; None when `error` says why there is none.
    error (Optional[str]): What is wrong with the row, or None.
    """

    row: int
    id: Any
    text: Optional[str]
    error: Optional[str] = None


@dataclass(frozen=True)
class Shard:
    """A stretch of one input file.

    name (str): The output shard's name, e.g. "part-00003-00012": the file's
        index among the inputs and the shard's index in the file.
    path (str): The input file.
    format (str): "jsonl", "parquet" or "text".
    start (int): JSONL and text: first byte; Parquet: first row group.
    stop (int): JSONL and text: the byte after the last; Parquet: the row
        group after the last.
    first_row (int): Index in the file of the shard's first row.
    first_line (int): JSONL and text: line number (1-based) of its first line.
    rows (int): How many rows it has.
    """

    name: str
    path: str
    format: str
    start: int
    stop: int
    first_row: int
    first_line: int
    rows: int

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Shard":
        return cls(**data)


def find_inputs(inputs: Sequence[str]) -> List[Path]:
    """Expand files, directories (their files with a known suffix, recursively)
    and glob patterns into a sorted list of files.

    inputs (Sequence[str]): What the user gave.
    RETURNS (List[Path]): The files, each once, in a stable order.
    """
    found: List[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not matches:
                raise InputError(f"{given}: the directory has no input files ({', '.join(sorted(SUFFIXES))})")
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(given):
            matches = sorted(Path(p) for p in glob.glob(given, recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{given}: no file matches the pattern")
        else:
            raise InputError(f"{given}: no such file or directory")
        found.extend(matches)
    unique = list(dict.fromkeys(p.resolve() for p in found))
    for path in unique:
        if not os.access(path, os.R_OK):
            raise InputError(f"{path}: the file cannot be read (permission denied)")
    return unique


def detect_format(path: Path, given: Optional[str] = None) -> str:
    """path (Path): An input file. given (Optional[str]): The format the user
    named, if any.
    RETURNS (str): "jsonl", "parquet" or "text".
    """
    if given is not None:
        if given not in FORMATS:
            raise InputError(f"Input format must be one of {FORMATS}, not {given!r}")
        return given
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}: name it with --input-format "
            f"({', '.join(FORMATS)})"
        )
    return fmt


def plan_shards(files: Sequence[Path], shard_size: int, input_format: Optional[str] = None) -> List[Shard]:
    """Cut the input files into shards of at most `shard_size` rows.

    files (Sequence[Path]): The input files (`find_inputs`).
    shard_size (int): Most rows per shard.
    input_format (Optional[str]): The format of every file; None: by suffix.
    RETURNS (List[Shard]): The shards, file by file, in order.
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be at least 1, not {shard_size}")
    shards: List[Shard] = []
    for index, path in enumerate(files):
        fmt = detect_format(path, input_format)
        planner = _plan_parquet if fmt == "parquet" else _plan_lines
        for number, (start, stop, first_row, first_line, rows) in enumerate(planner(path, shard_size, fmt)):
            shards.append(Shard(f"part-{index:05d}-{number:05d}", str(path), fmt, start, stop, first_row, first_line, rows))
    return shards


def _plan_lines(path: Path, shard_size: int, fmt: str) -> Iterator[tuple]:
    # Only byte offsets: the text is decoded by the worker that reads the shard.
    try:
        handle = path.open("rb")
    except OSError as err:
        raise InputError(f"{path}: cannot open the file: {err.strerror or err}") from err
    with handle:
        start = offset = 0
        rows = row_index = 0
        first_row, first_line, line_number = 0, 1, 0
        for line in handle:
            line_number += 1
            offset += len(line)
            if fmt == "jsonl" and not line.strip():
                continue  # not a row (a shard's byte range may hold blank lines)
            rows += 1
            row_index += 1
            if rows == shard_size:
                yield start, offset, first_row, first_line, rows
                start, rows, first_row, first_line = offset, 0, row_index, line_number + 1
        if rows:
            yield start, offset, first_row, first_line, rows


def _plan_parquet(path: Path, shard_size: int, fmt: str) -> Iterator[tuple]:
    pq = parquet_module()

    try:
        meta = pq.ParquetFile(path).metadata
    except Exception as err:  # pyarrow raises several types for a bad file
        raise InputError(f"{path}: not a readable Parquet file: {err}") from err
    start, rows, first_row, row_index = 0, 0, 0, 0
    for group in range(meta.num_row_groups):
        size = meta.row_group(group).num_rows
        if rows and rows + size > shard_size:
            yield start, group, first_row, 0, rows
            start, rows, first_row = group, 0, row_index
        rows += size
        row_index += size
    if rows:
        yield start, meta.num_row_groups, first_row, 0, rows


def read_shard(shard: Shard, text_field: str = "text", id_field: str = "id") -> List[InputRow]:
    """Read a shard's rows. A row that cannot be annotated (invalid JSON or
    UTF-8, no text field, a text that is not a string) comes back with an
    error instead of a text.

    shard (Shard): The shard.
    text_field (str): The field or column with the text (JSONL, Parquet).
    id_field (str): The field or column with the id (JSONL, Parquet).
    RETURNS (List[InputRow]): Its rows, in order.
    """
    if shard.format == "parquet":
        rows = _read_parquet(shard, text_field, id_field)
    else:
        rows = _read_lines(shard, text_field, id_field)
    if len(rows) != shard.rows:
        raise InputError(f"{shard.path}: the file changed since the run began ({shard.rows} rows expected in {shard.name}, {len(rows)} found)")
    return rows


def _read_lines(shard: Shard, text_field: str, id_field: str) -> List[InputRow]:
    try:
        with open(shard.path, "rb") as handle:
            handle.seek(shard.start)
            data = handle.read(shard.stop - shard.start)
    except OSError as err:
        raise InputError(f"{shard.path}: cannot read the file: {err.strerror or err}") from err
    rows: List[InputRow] = []
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    for offset, raw in enumerate(lines):
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        line_number = shard.first_line + offset
        if shard.format == "jsonl" and not raw.strip():
            continue
        row = shard.first_row + len(rows)
        where = f"line {line_number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            error = f"{where}: invalid UTF-8 at byte {err.start} of the line"
            rows.append(InputRow(row, line_number if shard.format == "text" else None, None, error))
            continue
        if shard.format == "text":
            if row == 0 and line.startswith("\ufeff"):
                line = line[1:]  # a byte order mark, not text
            rows.append(InputRow(row, line_number, line))
        else:
            rows.append(_json_row(row, where, line, text_field, id_field))
    return rows


def _json_row(row: int, where: str, line: str, text_field: str, id_field: str) -> InputRow:
    if row == 0 and line.startswith("\ufeff"):
        line = line[1:]
    try:
        record = json.loads(line)
    except json.JSONDecodeError as err:
        return InputRow(row, None, None, f"{where}: invalid JSON: {err.msg} (column {err.colno})")
    if not isinstance(record, dict):
        return InputRow(row, None, None, f"{where}: a JSON object was expected, not {type(record).__name__}")
    row_id = record.get(id_field)
    if text_field not in record:
        return InputRow(row, row_id, None, f"{where}: no {text_field!r} field")
    text = record[text_field]
    if not isinstance(text, str):
        return InputRow(row, row_id, None, f"{where}: the {text_field!r} field is {type(text).__name__}, not a string")
    return InputRow(row, row_id, text)


def _read_parquet(shard: Shard, text_field: str, id_field: str) -> List[InputRow]:
    pq = parquet_module()

    try:
        parquet = pq.ParquetFile(shard.path)
        names = parquet.schema_arrow.names
        if text_field not in names:
            raise InputError(f"{shard.path}: no {text_field!r} column (columns: {', '.join(names)})")
        columns = [text_field] + ([id_field] if id_field in names and id_field != text_field else [])
        table = parquet.read_row_groups(list(range(shard.start, shard.stop)), columns=columns)
    except InputError:
        raise
    except Exception as err:
        raise InputError(f"{shard.path}: cannot read the Parquet file: {err}") from err
    texts = table.column(text_field).to_pylist()
    ids = table.column(id_field).to_pylist() if id_field in table.column_names else [None] * len(texts)
    rows = []
    for offset, (text, row_id) in enumerate(zip(texts, ids)):
        row = shard.first_row + offset
        if not isinstance(text, str):
            what = "null" if text is None else type(text).__name__
            rows.append(InputRow(row, row_id, None, f"row {row}: the {text_field!r} value is {what}, not a string"))
        else:
            rows.append(InputRow(row, row_id, text))
    return rows


def check_columns(shards: Sequence[Shard], text_field: str) -> None:
    """Stop before any work if a Parquet input lacks the text column.

    shards (Sequence[Shard]): The planned shards.
    text_field (str): The text column.
    """
    if not any(s.format == "parquet" for s in shards):
        return
    pq = parquet_module()

    for path in dict.fromkeys(s.path for s in shards if s.format == "parquet"):
        names = pq.ParquetFile(path).schema_arrow.names
        if text_field not in names:
            raise InputError(f"{path}: no {text_field!r} column (columns: {', '.join(names)}); name it with --text-field")
