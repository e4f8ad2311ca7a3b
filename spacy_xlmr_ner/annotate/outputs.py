"""Output shards of batch annotation: their rows, writing them so that a
shard is either whole or absent, the manifest that ties an output directory
to its inputs, and the summary.

Each shard is one file, `part-FFFFF-SSSSS.parquet` (or `.jsonl`), named after
its input file's index and its place in that file. A shard is written to a
temporary name and renamed when complete, so a file under its own name is
finished: a rerun skips it, and a retried shard replaces its file as a whole.
"""
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .inputs import Shard, arrow_module, parquet_module

OUTPUT_FORMATS = ("parquet", "jsonl")
MANIFEST = "_manifest.json"
SUMMARY = "_summary.json"
# The columns of every output row, in order (and "text" where asked for).
COLUMNS = ("id", "source", "row", "entities", "error")


class OutputError(ValueError):
    """The output directory holds a run that does not match this one."""


def shard_path(output: Path, shard: Shard, fmt: str) -> Path:
    """RETURNS (Path): Where `shard`'s output goes."""
    return Path(output) / f"{shard.name}.{fmt}"


def parquet_schema(with_text: bool, vectors: bool):
    """The Arrow schema of a Parquet shard (explicit, so that shards without
    any entity or error agree with the others).

    with_text (bool): Rows have the "text" column.
    vectors (bool): Entities have the "vector" field.
    RETURNS (pyarrow.Schema): The schema.
    """
    pa = arrow_module()
    entity = [
        ("text", pa.string()),
        ("label", pa.string()),
        ("start", pa.int64()),
        ("end", pa.int64()),
        ("score", pa.float64()),
    ]
    if vectors:
        entity.append(("vector", pa.list_(pa.float32())))
    fields = [
        ("id", pa.string()),
        ("source", pa.string()),
        ("row", pa.int64()),
        ("entities", pa.list_(pa.struct(entity))),
        ("error", pa.string()),
    ]
    if with_text:
        fields.insert(3, ("text", pa.string()))
    return pa.schema(fields)


def write_shard(rows: Sequence[Dict[str, Any]], path: Path, fmt: str, *, with_text: bool, vectors: bool) -> None:
    """Write a shard's rows so that `path` appears only once all are written.

    rows (Sequence[Dict[str, Any]]): Output rows (`annotator.output_row`).
    path (Path): The shard's file.
    fmt (str): "parquet" or "jsonl".
    with_text (bool): The rows have "text".
    vectors (bool): The entities have "vector".
    """
    if fmt not in OUTPUT_FORMATS:
        raise ValueError(f"Output format must be one of {OUTPUT_FORMATS}, not {fmt!r}")
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        if fmt == "parquet":
            pa, pq = arrow_module(), parquet_module()

            # Ids become strings: JSONL ids may mix numbers and strings.
            table_rows = [{**row, "id": None if row["id"] is None else str(row["id"])} for row in rows]
            table = pa.Table.from_pylist(table_rows, schema=parquet_schema(with_text, vectors))
            pq.write_table(table, tmp)
        else:
            with open(tmp, "w", encoding="utf-8") as out:
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_shard_rows(path: Path, columns: Optional[Sequence[str]] = None) -> List[Dict[str, Any]]:
    """Read an output shard back.

    path (Path): A `.parquet` or `.jsonl` shard.
    columns (Optional[Sequence[str]]): Only these columns (Parquet; JSONL rows
        come whole).
    RETURNS (List[Dict[str, Any]]): Its rows.
    """
    path = Path(path)
    if path.suffix == ".parquet":
        pq = parquet_module()

        return pq.read_table(path, columns=list(columns) if columns else None).to_pylist()
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def read_output(output: Path) -> List[Dict[str, Any]]:
    """Every row of an output directory, shard after shard.

    output (Path): The OUTPUT of a run.
    RETURNS (List[Dict[str, Any]]): The rows.
    """
    rows: List[Dict[str, Any]] = []
    for path in sorted(Path(output).glob("part-*")):
        if path.suffix in (".parquet", ".jsonl"):
            rows.extend(read_shard_rows(path))
    return rows


def check_manifest(output: Path, manifest: Dict[str, Any], overwrite: bool = False) -> None:
    """Make `output` ready for a run described by `manifest`: create it, or
    check that the run it holds is this one (so a rerun resumes it), or, with
    `overwrite`, delete the shards of another run.

    output (Path): The output directory.
    manifest (Dict[str, Any]): What defines the run's output (inputs, fields,
        formats, shard size, pipeline, columns).
    overwrite (bool): Replace the output of a different run.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise OutputError(f"{output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    path = output / MANIFEST
    if path.exists():
        try:
            earlier = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise OutputError(f"{path}: unreadable ({err}): delete it, or use another output directory") from err
        differ = sorted(key for key in set(earlier) | set(manifest) if earlier.get(key) != manifest.get(key))
        if differ and not overwrite:
            raise OutputError(
                f"{output} holds the output of another run (it differs in: {', '.join(differ)}): use another "
                "output directory, or --overwrite to replace it"
            )
        if differ:
            for old in output.glob("part-*"):
                old.unlink()
            (output / SUMMARY).unlink(missing_ok=True)
    elif any(output.glob("part-*")):
        if not overwrite:
            raise OutputError(f"{output} holds shards but no {MANIFEST}: use another output directory, or --overwrite")
        for old in output.glob("part-*"):
            old.unlink()
    for tmp in output.glob(".part-*.tmp"):
        tmp.unlink()  # left by a run that was killed while writing
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def shard_stats(rows: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """rows (Iterable[Dict[str, Any]]): Output rows.
    RETURNS (Dict[str, Any]): "documents", "entities" (per label) and "errors".
    """
    labels: Counter = Counter()
    documents = errors = 0
    for row in rows:
        documents += 1
        errors += row.get("error") is not None
        labels.update(entity["label"] for entity in row.get("entities") or [])
    return {"documents": documents, "entities": dict(labels), "errors": errors}


def merge_stats(parts: Iterable[Dict[str, Any]]) -> Dict[str, Any]:
    """parts (Iterable[Dict[str, Any]]): `shard_stats` results.
    RETURNS (Dict[str, Any]): Their sum.
    """
    labels: Counter = Counter()
    documents = errors = 0
    for part in parts:
        documents += part["documents"]
        errors += part["errors"]
        labels.update(part["entities"])
    return {"documents": documents, "entities": dict(sorted(labels.items())), "errors": errors}
