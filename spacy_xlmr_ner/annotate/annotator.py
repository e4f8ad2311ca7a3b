"""Annotating shards: a pipeline loaded once, then shard after shard read,
annotated and written. The local engine calls it in-process; the Ray engine
runs one per actor (`map_batches` with this callable class)."""
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language

from ..io.output import doc_entities, nan_to_none
from ..models.precision import PRECISIONS
from ..pipeline.runtime import apply_precision, prepare_process, scores_key
from .inputs import InputRow, Shard, read_shard
from .outputs import shard_path, shard_stats, write_shard


@dataclass(frozen=True)
class AnnotatorSpec:
    """What an annotator loads and how it writes (picklable: Ray sends it to
    every actor).

    pipeline (str): A pipeline directory or installed package name.
    output (str): The output directory.
    output_format (str): "parquet" or "jsonl".
    text_field (str): The text field or column of JSONL and Parquet inputs.
    id_field (str): The id field or column of JSONL and Parquet inputs.
    with_text (bool): Output rows have the text too.
    vectors (bool): Output entities have their entity vectors.
    batch_size (int): Texts per `nlp.pipe` batch.
    precision (str): "fp32", "bf16" or "int8" (`xlmr_transformer.set_precision`).
    threads (int): torch threads; 0 leaves torch's default.
    gpu_id (int): GPU to run on; -1 for CPU.
    imports (Tuple[str, ...]): Modules to import before loading (where
        custom components are registered).
    """

    pipeline: str
    output: str
    output_format: str = "parquet"
    text_field: str = "text"
    id_field: str = "id"
    with_text: bool = False
    vectors: bool = False
    batch_size: int = 64
    precision: str = "fp32"
    threads: int = 0
    gpu_id: int = -1
    imports: Tuple[str, ...] = field(default_factory=tuple)


def load_for_annotation(spec: AnnotatorSpec) -> Language:
    """Load the pipeline for annotation: imports, threads, GPU, precision.

    spec (AnnotatorSpec): What to load.
    RETURNS (Language): The pipeline.
    """
    if spec.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {spec.precision!r}")
    prepare_process(spec.imports, spec.threads, spec.gpu_id)
    nlp = spacy.load(spec.pipeline)
    apply_precision(nlp, spec.precision, spec.pipeline)
    return nlp


def output_row(row: InputRow, source: str, entities: List[Dict], with_text: bool, error: Optional[str] = None) -> Dict[str, Any]:
    """One output row: "id", "source" (the input file), "row" (index in it),
    "text" (with `with_text`), "entities" and "error" (None, or why the row
    has no entities)."""
    out: Dict[str, Any] = {"id": row.id, "source": source, "row": row.row}
    if with_text:
        out["text"] = row.text
    out["entities"] = entities
    out["error"] = error if error is not None else row.error
    return out


class ShardAnnotator:
    """Loads the pipeline once; each call annotates whole shards.

    spec (AnnotatorSpec): The pipeline and output settings.
    """

    def __init__(self, spec: AnnotatorSpec):
        self.spec = spec
        self.nlp = load_for_annotation(spec)
        self.spans_key = scores_key(self.nlp)

    def annotate_rows(self, rows: Sequence[InputRow], source: str, on_docs: Optional[Callable[[int], None]] = None) -> List[Dict[str, Any]]:
        """Annotate rows; a row without text keeps its error, and a text the
        pipeline fails on gets the failure as its error.

        rows (Sequence[InputRow]): Input rows, in order.
        source (str): Their input file.
        on_docs (Optional[Callable[[int], None]]): Called with the number of
            rows done after each batch (for a progress bar).
        RETURNS (List[Dict[str, Any]]): Output rows, in the same order.
        """
        spec = self.spec
        out: List[Dict[str, Any]] = []
        for begin in range(0, len(rows), spec.batch_size):
            batch = rows[begin : begin + spec.batch_size]
            todo = [row for row in batch if row.error is None]
            results = dict(zip((row.row for row in todo), self._entities([row.text for row in todo])))
            for row in batch:
                entities, error = results.get(row.row, ([], None))
                out.append(output_row(row, source, entities, spec.with_text, error))
            if on_docs is not None:
                on_docs(len(batch))
        return out

    def _entities(self, texts: List[str]) -> List[Tuple[List[Dict], Optional[str]]]:
        try:
            docs = list(self.nlp.pipe(texts, batch_size=len(texts) or 1))
        except Exception:
            # Find the texts it fails on: the others still get their entities.
            return [self._one(text) for text in texts]
        return [(self._doc_entities(doc), None) for doc in docs]

    def _one(self, text: str) -> Tuple[List[Dict], Optional[str]]:
        try:
            return self._doc_entities(self.nlp(text)), None
        except Exception as err:
            return [], f"the pipeline failed on this text: {type(err).__name__}: {err}"

    def _doc_entities(self, doc) -> List[Dict]:
        return nan_to_none(doc_entities(doc, self.spans_key, vectors=self.spec.vectors))

    def annotate_shard(self, shard: Shard, on_docs: Optional[Callable[[int], None]] = None) -> Dict[str, Any]:
        """Read, annotate and write one shard.

        shard (Shard): The shard.
        on_docs (Optional[Callable[[int], None]]): Progress callback (`annotate_rows`).
        RETURNS (Dict[str, Any]): "shard" (its name), "seconds", "pid" and
            "peak_rss_mb" (of the process that did it), and its `shard_stats`.
        """
        spec = self.spec
        started = time.perf_counter()
        rows = read_shard(shard, spec.text_field, spec.id_field)
        out = self.annotate_rows(rows, shard.path, on_docs)
        write_shard(out, shard_path(Path(spec.output), shard, spec.output_format), spec.output_format,
                    with_text=spec.with_text, vectors=spec.vectors)
        return {
            "shard": shard.name,
            "seconds": time.perf_counter() - started,
            "pid": os.getpid(),
            "peak_rss_mb": peak_rss_mb(),
            **shard_stats(out),
        }

    def __call__(self, batch: Dict[str, Any]) -> Dict[str, List[Any]]:
        """Ray Data's entry point: a batch of shard descriptors in, one
        result row per shard out ("entities" as JSON: a dict per label)."""
        import json

        fields = list(batch)
        count = len(batch[fields[0]]) if fields else 0
        results: Dict[str, List[Any]] = {
            key: [] for key in ("shard", "documents", "errors", "entities", "seconds", "pid", "peak_rss_mb")
        }
        for i in range(count):
            shard = Shard.from_dict({name: _plain(batch[name][i]) for name in fields})
            stats = self.annotate_shard(shard)
            for key in results:
                results[key].append(json.dumps(stats[key]) if key == "entities" else stats[key])
        return results


def peak_rss_mb() -> float:
    """RETURNS (float): This process's peak resident memory so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _plain(value: Any) -> Any:
    # numpy scalars from Ray's batches → Python values
    return value.item() if hasattr(value, "item") else value
