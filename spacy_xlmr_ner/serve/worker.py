"""The worker process: loads the pipeline once and annotates the batches the
server sends it, one at a time, over a pipe.

The server's event loop never runs the pipeline: the tokenizer and the encoder
hold the GIL for as long as a batch takes, and a process of their own is also
what a timeout can stop (`scheduler.WorkerPool` kills it and starts another).

Messages (pickled by `multiprocessing.connection`):
- worker → server, once: ("ready", info, warm_up_seconds) or
  ("failed", exception type name, message);
- server → worker: ("annotate", texts, vectors); worker → server:
  ("ok", results) or ("error", exception type name, message).
"""
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from spacy.language import Language

from ..io.output import doc_entities, nan_to_none
from ..pipeline.entity_pipe import find_entity_pipe
from ..pipeline.runtime import prepare_process, scores_key

# The component whose `spans_key` holds the scores.
ner_component = find_entity_pipe
WARM_UP_TEXT = "Warm-up text, Berlin."
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process loads, and how.

    path (str): A pipeline directory or package name (with `hf`, a Hugging
        Face checkpoint).
    hf (bool): Convert a Hugging Face checkpoint with `spacy_xlmr_ner.hf.from_hf`.
    source (Optional[str]): What `GET /meta` names as the source; None: the
        worker does not describe the pipeline (the server already has `info`).
    imports (Tuple[str, ...]): Modules to import before loading: where
        components that are not entry points are registered.
    gpu_id (int): GPU to run on; -1 for CPU.
    threads (int): torch threads (intra-op); 0 leaves torch's default.
    batch_size (int): `nlp.pipe` batch size.
    """

    path: str
    hf: bool = False
    source: Optional[str] = None
    imports: Tuple[str, ...] = field(default_factory=tuple)
    gpu_id: int = -1
    threads: int = 0
    batch_size: int = 16


def entities(doc, spans_key: str, vectors: bool = False) -> List[Dict]:
    """doc (Doc): An annotated doc. spans_key (str): Where the scores are.
    vectors (bool): Give each entity its "vector" too.
    RETURNS (List[Dict]): Its entities, numbers that are not finite as None
        (JSON has no NaN).
    """
    return nan_to_none(doc_entities(doc, spans_key, vectors=vectors))


def annotate(nlp: Language, texts: List[str], *, spans_key: str, batch_size: int, vectors: bool = False) -> List[Dict]:
    """RETURNS (List[Dict]): Per text, in order: {"text", "entities"}."""
    docs = nlp.pipe(texts, batch_size=batch_size)
    return [{"text": text, "entities": entities(doc, spans_key, vectors)} for text, doc in zip(texts, docs)]


def _die_with_parent() -> None:
    # Killed with the process that started this one (on Linux), even while a
    # batch keeps it from reading the pipe.
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _load(spec: WorkerSpec) -> Tuple[Language, Optional[Dict[str, Any]], float]:
    from .pipeline import describe, load_pipeline

    prepare_process(spec.imports, spec.threads, spec.gpu_id)
    nlp = load_pipeline(spec.path, hf=spec.hf)
    info = describe(nlp, spec.source) if spec.source is not None else None
    started = time.perf_counter()
    list(nlp.pipe([WARM_UP_TEXT]))
    return nlp, info, time.perf_counter() - started


def worker_main(conn, spec: WorkerSpec) -> None:
    """The worker process's body: load, say "ready", then annotate until the
    pipe closes.

    conn (multiprocessing.connection.Connection): This worker's end of the pipe.
    spec (WorkerSpec): What to load.
    """
    _die_with_parent()
    # Ctrl+C in the terminal goes to the whole process group: the server
    # stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        nlp, info, warm = _load(spec)
        spans_key = scores_key(nlp)
    except BaseException as err:  # noqa: B902 (whatever it is, the server says it)
        conn.send(("failed", type(err).__name__, str(err)))
        conn.close()
        return
    conn.send(("ready", info, warm))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        _, texts, vectors = message
        try:
            reply = ("ok", annotate(nlp, texts, spans_key=spans_key, batch_size=spec.batch_size, vectors=vectors))
        except Exception as err:
            reply = ("error", type(err).__name__, str(err))
        try:
            conn.send(reply)
        except (EOFError, OSError, BrokenPipeError):
            break
    conn.close()
    os._exit(0)  # no interpreter teardown: torch's can take seconds
