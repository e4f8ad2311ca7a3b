"""Pipeline components for the service tests, in a module of their own so
that the server's worker processes can import them (`create_app` saves an
in-memory pipeline and has its workers import the modules of its components).

`Gate` works across processes through files in a folder: each text a worker
gets is appended to `entered` (with the worker's pid), and a text with "HOLD"
in it waits until the test grants it a permit (a file it renames, so each
permit is taken once).
"""
import json
import os
import time
from pathlib import Path
from typing import List, Tuple

from spacy.language import Language
from spacy.util import minibatch

from spacy_xlmr_ner.serve.worker import WARM_UP_TEXT

# A bound on waiting for something that should happen, so that a broken test
# fails instead of hanging; never a measurement.
WAIT_S = 120
POLL_S = 0.01


class GateComponent:
    """The pipeline side of a gate (runs in a worker process)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def __call__(self, doc):
        line = json.dumps([os.getpid(), doc.text]) + "\n"
        with open(self.folder / "entered", "a", encoding="utf-8") as out:
            out.write(line)
        if "HOLD" in doc.text:
            deadline = time.monotonic() + WAIT_S
            while not self._take_permit():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{doc.text!r} was never released")
                time.sleep(POLL_S)
        return doc

    def pipe(self, docs, batch_size: int = 128):
        # What nlp.pipe hands over at once: one worker call's texts.
        for batch in minibatch(docs, batch_size):
            with open(self.folder / "entered", "a", encoding="utf-8") as out:
                out.write(json.dumps([os.getpid(), None, len(batch)]) + "\n")
            yield from map(self, batch)

    def _take_permit(self) -> bool:
        for permit in sorted(self.folder.glob("permit-*")):
            try:
                permit.rename(self.folder / f"used-{permit.name}")
                return True
            except OSError:  # another worker took it
                continue
        return False


@Language.factory("serve_test_gate", default_config={"folder": ""})
def make_gate(nlp, name, folder: str):
    return GateComponent(folder)


class Gate:
    """The test side of a gate: what entered the pipeline, and permits."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "entered").touch()
        self._permits = 0

    def events(self) -> List[Tuple[int, str]]:
        """(pid, text) per text that entered a worker's pipeline, in order,
        warm-up texts left out."""
        lines = (self.folder / "entered").read_text(encoding="utf-8").splitlines()
        return [(row[0], row[1]) for row in map(json.loads, lines) if row[1] not in (WARM_UP_TEXT, None)]

    def batches(self) -> List[List[str]]:
        """The texts of each `nlp.pipe` call, in order, the warm-up left out."""
        out: List[List[str]] = []
        for row in map(json.loads, (self.folder / "entered").read_text(encoding="utf-8").splitlines()):
            if row[1] is None:
                out.append([])
            elif out:
                out[-1].append(row[1])
        return [batch for batch in out if batch != [WARM_UP_TEXT]]

    @property
    def entered(self) -> List[str]:
        return [text for _, text in self.events()]

    def release(self, n: int = 1) -> None:
        for _ in range(n):
            (self.folder / f"permit-{self._permits:06d}").touch()
            self._permits += 1

    def wait_until_entered(self, texts: List[str]) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.entered != texts:
            assert time.monotonic() < deadline, self.entered
            time.sleep(POLL_S)


@Language.component("serve_test_fails_on_boom")
def fails_on_boom(doc):
    if "BOOM" in doc.text:
        raise RuntimeError("boom")
    return doc


@Language.component("serve_test_dies_on_crash")
def dies_on_crash(doc):
    """Ends its process, as the kernel's OOM killer or a segfault would."""
    if "CRASH" in doc.text:
        os._exit(3)
    return doc
