"""Inference off the event loop: one pipeline, one worker thread, a deadline
per request."""
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List

from spacy.language import Language

from ..io.output import doc_entities, nan_to_none
from ..pipeline.entity_pipe import find_entity_pipe
from ..pipeline.xlmr_ner import DEFAULT_SPANS_KEY


class AnnotationTimeout(Exception):
    """A request ran past its deadline (its later batches are not run)."""


# The component whose `spans_key` holds the scores.
ner_component = find_entity_pipe


class Annotator:
    """Runs `nlp.pipe` in a single worker thread, so the event loop (and
    `/health`) keeps answering while a large request is processed, and one
    batch at a time uses the pipeline (spaCy pipelines are not thread-safe).
    A request goes to the thread one batch at a time, so the batches of
    concurrent requests interleave in arrival order: a small request waits for
    one batch of a large one, not for all of it.
    """

    def __init__(self, nlp: Language, *, batch_size: int = 16) -> None:
        """Initialize the annotator.

        nlp (Language): The loaded pipeline.
        batch_size (int): Texts per batch; a timed-out request stops after
            the batch it is running.
        """
        self.nlp = nlp
        self.batch_size = batch_size
        ner = ner_component(nlp)
        self.spans_key = ner.cfg["spans_key"] if ner is not None else DEFAULT_SPANS_KEY
        self.pending = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="xlmr-ner")

    async def annotate(self, texts: List[str], timeout: float, *, vectors: bool = False) -> List[Dict]:
        """Find the entities of every text.

        texts (List[str]): The texts, in order.
        timeout (float): Seconds before `AnnotationTimeout` is raised, time
            spent waiting for other requests' batches included.
        vectors (bool): Give each entity its "vector" too.
        RETURNS (List[Dict]): Per text, in order: {"text", "entities"}, the
            entities as `doc_entities` gives them.
        """
        self.pending += 1
        try:
            # On timeout the batch in the thread runs to its end (a thread
            # cannot be interrupted), and the request's later batches are
            # never submitted.
            return await asyncio.wait_for(self._annotate_batches(texts, vectors), timeout)
        except asyncio.TimeoutError:
            raise AnnotationTimeout(
                f"Not done after {timeout:g} s ({len(texts)} text(s), "
                f"{sum(map(len, texts))} characters); send fewer or shorter texts"
            ) from None
        finally:
            self.pending -= 1

    async def _annotate_batches(self, texts: List[str], vectors: bool) -> List[Dict]:
        loop = asyncio.get_running_loop()
        results: List[Dict] = []
        for i in range(0, len(texts), self.batch_size):
            batch = texts[i : i + self.batch_size]
            results.extend(await loop.run_in_executor(self._executor, self._annotate, batch, vectors))
        return results

    def _annotate(self, texts: List[str], vectors: bool = False) -> List[Dict]:
        docs = self.nlp.pipe(texts, batch_size=self.batch_size)
        return [{"text": text, "entities": self.entities(doc, vectors)} for text, doc in zip(texts, docs)]

    def entities(self, doc, vectors: bool = False) -> List[Dict]:
        """doc (Doc): An annotated doc. vectors (bool): Give each entity its
        "vector" too.
        RETURNS (List[Dict]): Its entities, numbers that are not finite as
            None (JSON has no NaN).
        """
        return nan_to_none(doc_entities(doc, self.spans_key, vectors=vectors))

    def warm_up(self) -> float:
        """Run the pipeline once, so the first request is not the slow one.

        RETURNS (float): Seconds it took.
        """
        start = time.perf_counter()
        list(self.nlp.pipe(["Warm-up text, Berlin."]))
        return time.perf_counter() - start

    def close(self) -> None:
        """Stop the worker thread (after the batch it is running)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
