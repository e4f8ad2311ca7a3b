"""Batch annotation from input files to an output directory of shards: plan,
resume, run an engine, check and summarize."""
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import spacy

from .. import __version__
from .annotator import AnnotatorSpec
from .engines import ENGINES, run_local, run_ray
from .inputs import InputError, arrow_module, check_columns, find_inputs, plan_shards
from .outputs import OUTPUT_FORMATS, SUMMARY, check_manifest, merge_stats, read_shard_rows, shard_path, shard_stats

# Errors listed by name in the summary (all are counted).
ERROR_EXAMPLES = 20


class PipelineNotFound(ValueError):
    """PIPELINE is neither a pipeline directory nor an installed package."""


def check_pipeline(pipeline: str) -> None:
    """Fail at once, naming it, if `pipeline` cannot be loaded by spaCy.

    pipeline (str): A pipeline directory or installed package name.
    """
    path = Path(pipeline)
    if path.is_dir():
        if not (path / "config.cfg").exists():
            raise PipelineNotFound(f"{pipeline}: not a spaCy pipeline directory (no config.cfg)")
    elif not spacy.util.is_package(pipeline):
        raise PipelineNotFound(f"{pipeline}: no such pipeline directory or installed pipeline package")


def annotate(
    pipeline: Union[str, Path],
    inputs: Union[str, Path, Sequence[Union[str, Path]]],
    output: Union[str, Path],
    *,
    engine: str = "local",
    input_format: Optional[str] = None,
    output_format: str = "parquet",
    text_field: str = "text",
    id_field: str = "id",
    with_text: bool = False,
    vectors: bool = False,
    shard_size: int = 5000,
    batch_size: int = 64,
    precision: str = "fp32",
    threads: int = 0,
    gpu_id: int = -1,
    workers: int = 1,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    address: Optional[str] = None,
    imports: Sequence[str] = (),
    overwrite: bool = False,
    on_start: Optional[Callable[[Dict[str, Any]], None]] = None,
    on_docs: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """Annotate every row of the inputs with a pipeline's entities, writing
    one output row per input row into shards under `output`. A rerun into
    the same `output` skips the shards that are finished.

    pipeline (Union[str, Path]): A pipeline directory or installed package
        (with `xlmr_ner`, `xlmr_span_ner` or any component that sets `doc.ents`).
    inputs (Union[str, Path, Sequence]): Files, directories or glob patterns.
    output (Union[str, Path]): The output directory.
    engine (str): "local" (this process) or "ray".
    input_format (Optional[str]): "jsonl", "parquet" or "text" for every
        input; None: by suffix (.jsonl/.ndjson, .parquet, .txt/.text).
    output_format (str): "parquet" or "jsonl".
    text_field (str): Field or column with the text (JSONL, Parquet).
    id_field (str): Field or column with the id (JSONL, Parquet); text files'
        ids are line numbers.
    with_text (bool): Output rows have the text too.
    vectors (bool): Entities have their entity vectors.
    shard_size (int): Most rows per output shard (the unit of resume and retry).
    batch_size (int): Texts per `nlp.pipe` batch.
    precision (str): "fp32", "bf16" or "int8".
    threads (int): torch threads (local engine; for Ray, default: the
        worker's CPUs); 0: torch's default.
    gpu_id (int): GPU for the local engine; -1 for CPU.
    workers (int): Ray actors.
    cpus_per_worker (float): CPUs per Ray actor.
    gpus_per_worker (float): GPUs per Ray actor.
    address (Optional[str]): Ray cluster to join; None: a local instance.
    imports (Sequence[str]): Modules to import before loading the pipeline.
    overwrite (bool): Replace the output of a different run in `output`.
    on_start (Optional[Callable]): Called with {"documents", "documents_todo",
        "shards", "shards_todo"} once the work is planned.
    on_docs (Optional[Callable[[int], None]]): Called with the number of
        documents done, as they are done.
    RETURNS (Dict[str, Any]): The summary (also written to OUTPUT/_summary.json):
        "documents", "entities" (per label), "errors", "error_examples",
        "shards", "shards_skipped", "documents_this_run", "seconds",
        "docs_per_second" (of this run's documents, from the start of the
        engine to the last shard written), "worker_processes" (`worker_stats`)
        and the run's settings.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"Output format must be one of {OUTPUT_FORMATS}, not {output_format!r}")
    pipeline = str(pipeline)
    check_pipeline(pipeline)
    if Path(pipeline).is_dir():
        # Absolute, as every path a worker gets: Ray's workers run elsewhere.
        pipeline = str(Path(pipeline).resolve())
    given = [str(inputs)] if isinstance(inputs, (str, Path)) else [str(p) for p in inputs]
    files = find_inputs(given)
    shards = plan_shards(files, shard_size, input_format)
    if output_format == "parquet":
        arrow_module()  # before any work: a missing extra is named at once
    check_columns(shards, text_field)
    output = Path(output).resolve()
    manifest = {
        "pipeline": pipeline,
        "inputs": [{"path": str(p), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in files],
        "input_format": input_format,
        "text_field": text_field,
        "id_field": id_field,
        "output_format": output_format,
        "with_text": with_text,
        "vectors": vectors,
        "shard_size": shard_size,
        "precision": precision,
    }
    check_manifest(output, manifest, overwrite)
    todo = [shard for shard in shards if not shard_path(output, shard, output_format).exists()]
    if on_start is not None:
        on_start({
            "documents": sum(s.rows for s in shards),
            "documents_todo": sum(s.rows for s in todo),
            "shards": len(shards),
            "shards_todo": len(todo),
        })
    spec = AnnotatorSpec(
        pipeline=pipeline, output=str(output), output_format=output_format, text_field=text_field,
        id_field=id_field, with_text=with_text, vectors=vectors, batch_size=batch_size, precision=precision,
        threads=threads, gpu_id=gpu_id, imports=tuple(imports),
    )
    started = time.perf_counter()
    if engine == "local":
        results = run_local(spec, todo, on_docs)
    else:
        results = run_ray(spec, todo, workers=workers, cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker,
                address=address, on_docs=on_docs)
    seconds = time.perf_counter() - started
    return summarize(output, shards, output_format, skipped=len(shards) - len(todo),
                     todo_rows=sum(s.rows for s in todo), seconds=seconds,
                     workers_seen=worker_stats(results),
                     settings={"engine": engine, "workers": workers if engine == "ray" else 1, "precision": precision,
                               "version": __version__})


def worker_stats(results: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Per process that annotated shards (a Ray actor restarted after a crash
    counts again): its shards, documents, seconds spent on them and peak RSS.

    results (Sequence[Dict[str, Any]]): `ShardAnnotator.annotate_shard` results.
    RETURNS (List[Dict[str, Any]]): One dict per process, by pid.
    """
    by_pid: Dict[int, Dict[str, Any]] = {}
    for result in results:
        seen = by_pid.setdefault(result["pid"], {"pid": result["pid"], "shards": 0, "documents": 0, "seconds": 0.0, "peak_rss_mb": 0.0})
        seen["shards"] += 1
        seen["documents"] += result["documents"]
        seen["seconds"] = round(seen["seconds"] + result["seconds"], 3)
        seen["peak_rss_mb"] = round(max(seen["peak_rss_mb"], result["peak_rss_mb"]), 1)
    return [by_pid[pid] for pid in sorted(by_pid)]


def summarize(
    output: Path,
    shards,
    output_format: str,
    *,
    skipped: int,
    todo_rows: int,
    seconds: float,
    settings: Dict[str, Any],
    workers_seen: Sequence[Dict[str, Any]] = (),
) -> Dict[str, Any]:
    """Count what the output holds, check that every shard is there with all
    its rows, and write OUTPUT/_summary.json.

    output (Path): The output directory.
    shards (Sequence[Shard]): Every shard of the inputs.
    output_format (str): "parquet" or "jsonl".
    skipped (int): Shards finished by an earlier run.
    todo_rows (int): Documents annotated by this run.
    seconds (float): How long this run's annotation took.
    settings (Dict[str, Any]): Added to the summary as they are.
    workers_seen (Sequence[Dict[str, Any]]): `worker_stats` of this run.

    RETURNS (Dict[str, Any]): The summary (see `annotate`).
    """
    parts, examples = [], []
    for shard in shards:
        path = shard_path(output, shard, output_format)
        if not path.exists():
            raise InputError(f"{path}: missing after the run ({shard.rows} rows of {shard.path})")
        rows = read_shard_rows(path, columns=("source", "row", "entities", "error"))
        if len(rows) != shard.rows:
            raise InputError(f"{path}: {len(rows)} rows, not the {shard.rows} of {shard.path}")
        parts.append(shard_stats(rows))
        for row in rows:
            if row["error"] is not None and len(examples) < ERROR_EXAMPLES:
                examples.append({"source": row["source"], "row": row["row"], "error": row["error"]})
    summary = merge_stats(parts)
    summary.update(
        error_examples=examples,
        shards=len(shards),
        shards_skipped=skipped,
        documents_this_run=todo_rows,
        seconds=round(seconds, 3),
        docs_per_second=round(todo_rows / seconds, 2) if seconds > 0 and todo_rows else None,
        worker_processes=list(workers_seen),
        **settings,
    )
    (Path(output) / SUMMARY).write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return summary
