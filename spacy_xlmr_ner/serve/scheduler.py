"""The server side of inference: a pool of worker processes (`worker.py`), the
order in which requests' batches go to them, and deadlines that stop the work.

Policy (docs/serving.md says the same):
- A request's texts are cut into batches of at most `batch_size` texts and
  `batch_chars` characters (a longer text is a batch of its own), so that what
  one worker holds in memory at once is bounded by
  max(`batch_chars`, the longest text allowed).
- Waiting batches go small requests first (at most `small_chars` characters
  in all), then by arrival: a small request's batch goes before the
  remaining batches of a large one, and large requests are served in turn,
  the oldest first (so that it finishes before its deadline, rather than all
  of them interleaved and all late). A large request runs whenever no small
  one waits (under small requests that fill every worker, it waits, and gets
  504 at its deadline). Small requests waiting together are joined into one
  batch (one `nlp.pipe` call, up to `batch_size` texts and `batch_chars`).
- With two workers or more, the first takes only small requests: a small
  request never waits for a large batch, even one long text.
- Each request has a deadline (`timeout` after it was handed over). At the
  deadline its waiting batches are dropped, a worker running one of its
  batches is killed (SIGKILL) and a new one started (other requests' texts
  in that batch go back in the queue), and the client gets 504.
"""
import asyncio
import copy
import heapq
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

from .worker import WorkerSpec, worker_main

logger = logging.getLogger(__name__)


class AnnotationTimeout(Exception):
    """A request ran past its deadline: its waiting batches were dropped and
    its running batch stopped."""


class PipelineError(Exception):
    """The pipeline raised an error on a batch, or its worker process died.

    type_name (str): The exception's type, as the worker named it.
    message (str): Its message.
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message


class WorkerStartError(Exception):
    """A worker process could not load the pipeline.

    type_name (str): What the loader raised ("OSError"), or "WorkerStartError".
    message (str): Its message.
    """

    def __init__(self, message: str, type_name: str = "WorkerStartError") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message


def split_batches(texts: List[str], batch_size: int, batch_chars: int) -> List[Tuple[int, List[str]]]:
    """Cut texts into batches, in order: a new batch when the current one has
    `batch_size` texts or the next text would take it over `batch_chars`
    characters (a text longer than that is a batch of its own).

    RETURNS (List[Tuple[int, List[str]]]): (index of the first text, texts) per batch.
    """
    batches: List[Tuple[int, List[str]]] = []
    start, current, chars = 0, [], 0
    for i, text in enumerate(texts):
        if current and (len(current) >= batch_size or chars + len(text) > batch_chars):
            batches.append((start, current))
            start, current, chars = i, [], 0
        current.append(text)
        chars += len(text)
    if current:
        batches.append((start, current))
    return batches


def start_context() -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from a fork server that has
    imported spaCy and this package once (fast, and no threads are forked),
    or spawned where there is no fork server (Windows)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["spacy_xlmr_ner.serve.worker"])
        return ctx
    return multiprocessing.get_context("spawn")


@dataclass(eq=False)
class _Request:
    seq: int
    chars: int
    small: bool
    vectors: bool
    results: List[Optional[Dict]]
    remaining: int
    future: asyncio.Future
    done: bool = False


@dataclass(order=True)
class _Batch:
    key: Tuple[int, int, int]
    request: _Request = field(compare=False)
    start: int = field(compare=False)
    texts: List[str] = field(compare=False)


class _Worker:
    """One worker process and its end of the pipe."""

    def __init__(self, index: int, small_only: bool) -> None:
        self.index = index
        self.small_only = small_only
        self.process = None
        self.conn = None
        self.state = "stopped"  # starting, idle, busy, stopped
        self.group: List[_Batch] = []  # the batches it runs, as one
        self.generation = 0

    def start(self, ctx, spec: WorkerSpec, start_timeout: Optional[float]) -> Tuple[Optional[Dict], float]:
        """Start the process and wait for it to load (blocking: in a thread).
        RETURNS: the info and warm-up seconds it reports."""
        parent_conn, child_conn = ctx.Pipe()
        process = ctx.Process(target=worker_main, args=(child_conn, spec), name=f"xlmr-ner-worker-{self.index}", daemon=True)
        process.start()
        child_conn.close()
        self.process, self.conn = process, parent_conn
        if start_timeout is not None and not parent_conn.poll(start_timeout):
            self.kill()
            parent_conn.close()
            raise WorkerStartError(f"worker {self.index} did not load the pipeline within {start_timeout:g} s")
        try:
            message = parent_conn.recv()
        except (EOFError, OSError):
            parent_conn.close()
            process.join(5)
            raise WorkerStartError(f"worker {self.index} exited with code {process.exitcode} while loading the pipeline") from None
        if message[0] != "ready":
            _, type_name, text = message
            parent_conn.close()
            process.join(5)
            raise WorkerStartError(text, type_name)
        return message[1], message[2]

    @staticmethod
    def call(conn, texts: List[str], vectors: bool) -> Tuple:
        """Send a batch and wait for its answer (blocking: in a thread). A
        pipe that breaks (the process was killed) is closed here, by the one
        thread that reads it."""
        try:
            conn.send(("annotate", texts, vectors))
            return conn.recv()
        except (EOFError, OSError):
            conn.close()
            raise

    def kill(self) -> None:
        """Kill the process (its pipe is closed by whoever reads it)."""
        if self.process is not None and self.process.is_alive():
            self.process.kill()

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None


class WorkerPool:
    """Worker processes running the pipeline, fed batches by the policy in
    this module's docstring. Create it outside the event loop (`start` blocks
    until every worker has loaded the pipeline); `annotate` runs on the loop.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        workers: int = 1,
        batch_size: int = 16,
        batch_chars: int = 20_000,
        small_chars: int = 2_000,
        start_timeout: Optional[float] = None,
        cleanup: Optional[str] = None,
    ) -> None:
        """spec (WorkerSpec): What each worker loads.
        workers (int): Worker processes; with 2 or more, the first takes only
            small requests.
        batch_size (int): Most texts per batch.
        batch_chars (int): Most characters per batch (a longer text goes alone).
        small_chars (int): A request of at most this many characters in all
            is small.
        start_timeout (Optional[float]): Seconds a worker may take to load.
        cleanup (Optional[str]): A directory to delete on `close` (the
            pipeline saved for the workers).
        """
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.spec = replace(spec, batch_size=batch_size)
        self.batch_size = batch_size
        self.batch_chars = batch_chars
        self.small_chars = small_chars
        self.start_timeout = start_timeout
        self.workers = [_Worker(i, small_only=workers > 1 and i == 0) for i in range(workers)]
        self.pending = 0
        self.restarts = 0
        self._ctx = start_context()
        self._cleanup = cleanup
        self._queue: List[_Batch] = []
        self._seq = itertools.count()
        self._threads = ThreadPoolExecutor(max_workers=2 * workers + 2, thread_name_prefix="xlmr-ner-pool")
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._closed = False
        self.info: Optional[Dict[str, Any]] = None
        self.warm_up_s = 0.0

    def start(self) -> None:
        """Start every worker and wait for all to load (in parallel).
        Raises `WorkerStartError` with the loader's message if one fails."""
        results: List[Any] = [None] * len(self.workers)

        def start_one(worker: _Worker) -> None:
            try:
                results[worker.index] = worker.start(self._ctx, self.spec, self.start_timeout)
                worker.state = "idle"
            except BaseException as err:  # noqa: B902
                results[worker.index] = err

        threads = [threading.Thread(target=start_one, args=(w,)) for w in self.workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            self.close()
            raise errors[0]
        self.info, self.warm_up_s = results[0]

    @property
    def pids(self) -> List[Optional[int]]:
        """The worker processes' ids, in order (None while one is stopped)."""
        return [w.pid if w.state != "stopped" else None for w in self.workers]

    async def annotate(self, texts: List[str], timeout: float, *, vectors: bool = False) -> List[Dict]:
        """Find the entities of every text, within `timeout` seconds.

        texts (List[str]): The texts, in order.
        timeout (float): Seconds from now to the deadline: queueing, a worker
            restart and the batches all count. At the deadline the request's
            work stops and `AnnotationTimeout` is raised.
        vectors (bool): Give each entity its "vector" too.
        RETURNS (List[Dict]): Per text, in order: {"text", "entities"}.
        Raises `PipelineError` if the pipeline failed on a batch.
        """
        if not texts:
            return []
        self._loop = asyncio.get_running_loop()
        chars = sum(map(len, texts))
        request = _Request(
            seq=next(self._seq),
            chars=chars,
            small=chars <= self.small_chars,
            vectors=vectors,
            results=[None] * len(texts),
            remaining=0,
            future=self._loop.create_future(),
        )
        batches = split_batches(texts, self.batch_size, self.batch_chars)
        request.remaining = len(batches)
        for i, (start, batch) in enumerate(batches):
            heapq.heappush(self._queue, _Batch((0 if request.small else 1, request.seq, i), request, start, batch))
        self.pending += 1
        try:
            self._dispatch()
            return await asyncio.wait_for(asyncio.shield(request.future), timeout)
        except asyncio.TimeoutError:
            self._stop(request)
            raise AnnotationTimeout(
                f"Not done after {timeout:g} s ({len(texts)} text(s), {chars} characters); send fewer or shorter texts"
            ) from None
        except BaseException:
            # The client went away (the task was cancelled): drop what waits,
            # let a running batch finish.
            self._stop(request, kill=False)
            raise
        finally:
            self.pending -= 1

    def _stop(self, request: _Request, kill: bool = True) -> None:
        if request.done:
            return
        request.done = True
        self._queue = [b for b in self._queue if b.request is not request]
        heapq.heapify(self._queue)
        if kill:
            for worker in self.workers:
                if worker.state == "busy" and any(b.request is request for b in worker.group):
                    logger.warning("Request past its deadline: stopping worker %d (pid %s)", worker.index, worker.pid)
                    # Other requests' texts that shared the batch go back in the queue.
                    for batch in worker.group:
                        if batch.request is not request and not batch.request.done:
                            heapq.heappush(self._queue, batch)
                    self._restart(worker)
            self._dispatch()

    def _pick(self, worker: _Worker) -> List[_Batch]:
        """The next batch for `worker`; for a small request, joined by the
        batches of other small requests waiting after it, up to `batch_size`
        texts and `batch_chars` characters (one `nlp.pipe` call for many
        small requests)."""
        while self._queue and self._queue[0].request.done:
            heapq.heappop(self._queue)
        if not self._queue or (worker.small_only and not self._queue[0].request.small):
            return []  # the first waiting request is not small: none is
        group = [heapq.heappop(self._queue)]
        texts, chars = len(group[0].texts), group[0].request.chars
        while group[0].request.small and self._queue:
            head = self._queue[0]
            if head.request.done:
                heapq.heappop(self._queue)
                continue
            if (
                not head.request.small
                or head.request.vectors != group[0].request.vectors
                or texts + len(head.texts) > self.batch_size
                or chars + head.request.chars > self.batch_chars
            ):
                break
            group.append(heapq.heappop(self._queue))
            texts, chars = texts + len(head.texts), chars + head.request.chars
        return group

    def _dispatch(self) -> None:
        if self._closed:
            return
        # Small-only workers first, so that a small batch leaves the others free.
        for worker in sorted(self.workers, key=lambda w: not w.small_only):
            if worker.state != "idle":
                continue
            group = self._pick(worker)
            if not group:
                continue
            worker.state, worker.group = "busy", group
            asyncio.ensure_future(self._run(worker, group, worker.generation))

    async def _run(self, worker: _Worker, group: List[_Batch], generation: int) -> None:
        texts = [text for batch in group for text in batch.texts]
        vectors = group[0].request.vectors
        try:
            reply = await self._loop.run_in_executor(self._threads, worker.call, worker.conn, texts, vectors)
        except (EOFError, OSError) as err:
            if worker.generation != generation:
                return  # killed on purpose; the restart is under way
            exitcode = worker.process.exitcode if worker.process is not None else None
            stopped = exitcode if exitcode is not None else type(err).__name__
            reply = ("error", "WorkerExited", f"the worker process stopped ({stopped}) on this batch")
            self._restart(worker)
        else:
            if worker.generation == generation:
                worker.state, worker.group = "idle", []
        offset = 0
        for batch in group:
            request, n = batch.request, len(batch.texts)
            if not request.done:
                if reply[0] == "ok":
                    request.results[batch.start : batch.start + n] = reply[1][offset : offset + n]
                    request.remaining -= 1
                    if request.remaining == 0:
                        request.done = True
                        request.future.set_result(request.results)
                else:
                    self._stop(request, kill=False)
                    request.future.set_exception(PipelineError(reply[1], reply[2]))
            offset += n
        self._dispatch()

    def _restart(self, worker: _Worker) -> None:
        worker.generation += 1
        worker.kill()
        worker.state, worker.group = "starting", []
        self.restarts += 1
        asyncio.ensure_future(self._start_again(worker, worker.generation))

    async def _start_again(self, worker: _Worker, generation: int) -> None:
        old = worker.process
        delay = 0.0
        while not self._closed and worker.generation == generation:
            if old is not None:
                await self._loop.run_in_executor(self._threads, old.join, 10)
                old = None
            try:
                await self._loop.run_in_executor(self._threads, worker.start, self._ctx, self.spec, self.start_timeout)
            except Exception as err:
                delay = min(max(1.0, 2 * delay), 30.0)
                logger.error("Worker %d did not start again (%s); retrying in %g s", worker.index, err, delay)
                await asyncio.sleep(delay)
                continue
            if self._closed or worker.generation != generation:
                worker.kill()
                return
            logger.info("Worker %d started again (pid %s)", worker.index, worker.pid)
            worker.state = "idle"
            self._dispatch()
            return

    def close(self) -> None:
        """Stop the worker processes, and delete the saved pipeline if any."""
        self._closed = True
        for worker in self.workers:
            worker.generation += 1
            worker.kill()
            worker.state = "stopped"
        for worker in self.workers:
            if worker.process is not None:
                worker.process.join(5)
            if worker.conn is not None:
                worker.conn.close()  # wakes a thread still reading it
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._cleanup is not None:
            shutil.rmtree(self._cleanup, ignore_errors=True)
            self._cleanup = None


def save_for_workers(nlp) -> Tuple[str, Tuple[str, ...]]:
    """Save an in-memory pipeline where worker processes can load it.

    nlp (Language): The pipeline.
    RETURNS (Tuple[str, Tuple[str, ...]]): The directory (to delete when done)
        and the modules to import first: those defining its tokenizer and
        components, unless they come from spaCy or this package.
    """
    from ..io.output import nan_to_none

    folder = tempfile.mkdtemp(prefix="xlmr-ner-serve-")
    meta = nlp.meta
    try:
        nlp.meta = nan_to_none(copy.deepcopy(meta))  # JSON has no NaN; the workers do not need the meta
        nlp.to_disk(os.path.join(folder, "pipeline"))
    finally:
        nlp.meta = meta
    modules = []
    for obj in [nlp.tokenizer] + [pipe for _, pipe in nlp.pipeline]:
        module = obj.__module__ if isinstance(obj, types.FunctionType) else type(obj).__module__
        if module.split(".")[0] not in ("spacy", "spacy_xlmr_ner", "spacy_transformers", "builtins", "__main__"):
            if module not in modules:
                modules.append(module)
    return folder, tuple(modules)
