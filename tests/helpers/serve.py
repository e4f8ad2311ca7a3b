"""Fixtures and helpers for the service tests: a tiny pipeline trained on the
demo page's examples, and the real server in a subprocess.

Not a conftest.py: tests elsewhere import `conftest` by name, and a second
conftest module would shadow tests/conftest.py for the ones collected later.
The test modules import the fixtures from here.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Iterator, List, Tuple

import pytest
import spacy
from spacy.training import Example

from helpers import ARTIFACTS_ENV, make_nlp
from spacy_xlmr_ner.serve.page import EXAMPLES

# For the test modules that need the serve extra: `needs_serve_extra()` at
# their top skips them without it.
SERVE_EXTRA_REASON = 'needs the serve extra: pip install -e ".[serve]"'


def needs_serve_extra() -> None:
    """Skip the calling test module unless fastapi and uvicorn are installed."""
    pytest.importorskip("fastapi", reason=SERVE_EXTRA_REASON)
    pytest.importorskip("uvicorn", reason=SERVE_EXTRA_REASON)

# The entities of every page example, in order.
EXAMPLE_ENTITIES: Dict[str, List[Tuple[str, str]]] = {
    "en": [("Barack Obama", "PER"), ("United Nations", "ORG"), ("New York", "LOC")],
    "de": [("Angela Merkel", "PER"), ("Berlin", "LOC"), ("Siemens AG", "ORG")],
    "es": [("Pedro Sánchez", "PER"), ("Barcelona", "LOC"), ("Telefónica", "ORG")],
    "ru": [("Владимир Путин", "PER"), ("Газпрома", "ORG"), ("Москве", "LOC")],
    "ar": [("محمد بن سلمان", "PER"), ("الرياض", "LOC"), ("أرامكو", "ORG")],
    "hi": [("नरेंद्र मोदी", "PER"), ("नई दिल्ली", "LOC"), ("टाटा समूह", "ORG")],
    "zh": [("习近平", "PER"), ("北京", "LOC"), ("华为公司", "ORG")],
}
EXAMPLE_TEXT = {example["lang"]: example["text"] for example in EXAMPLES}
# Astral characters (outside the BMP) before and between entities: one code
# point each in Python, two UTF-16 units in JavaScript.
EMOJI_TEXT = "😀 Angela Merkel 🇩🇪 besuchte Berlin."
EMOJI_ENTITIES = [("Angela Merkel", "PER"), ("Berlin", "LOC")]
NO_ENTITIES_TEXT = "Hakuna habari mpya leo."


def with_offsets(text: str, entities: List[Tuple[str, str]]) -> List[Tuple[int, int, str]]:
    """(entity text, label) pairs, in order → (start, end, label)."""
    out, pos = [], 0
    for ent_text, label in entities:
        start = text.index(ent_text, pos)
        out.append((start, start + len(ent_text), label))
        pos = start + len(ent_text)
    return out


TRAIN_DATA: List[Tuple[str, List[Tuple[int, int, str]]]] = [
    (EXAMPLE_TEXT[lang], with_offsets(EXAMPLE_TEXT[lang], ents)) for lang, ents in EXAMPLE_ENTITIES.items()
] + [(EMOJI_TEXT, with_offsets(EMOJI_TEXT, EMOJI_ENTITIES)), (NO_ENTITIES_TEXT, [])]
EXPECTED = dict(TRAIN_DATA)

META = {
    "name": "serve_test",
    "version": "0.0.1",
    "description": "Tiny test pipeline </script><script>window.pwned = 1</script>",
    "languages": ["ar", "de", "en", "es", "hi", "ru", "zh"],
    "performance": {"test": {"de": {"ents_f": 0.5}, "zh": {"ents_f": 0.25}}},
}


def ents_of(doc) -> List[Tuple[int, int, str]]:
    return [(e.start_char, e.end_char, e.label_) for e in doc.ents]


def train_pipeline(encoder: Path, out_dir: Path, max_iter: int = 400) -> Path:
    """Overfit `transformer` + `xlmr_ner` on TRAIN_DATA until it finds every
    entity exactly, and save it with META to `out_dir`."""
    spacy.util.fix_random_seed(0)
    nlp = make_nlp(encoder)
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": ents}) for t, ents in TRAIN_DATA]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    for i in range(max_iter):
        nlp.update(examples, sgd=optimizer)
        if i % 10 == 9 and [ents_of(doc) for doc in nlp.pipe([t for t, _ in TRAIN_DATA])] == [e for _, e in TRAIN_DATA]:
            break
    else:
        pytest.fail(f"The tiny pipeline did not learn the examples in {max_iter} updates")
    nlp.meta.update(META)
    nlp.to_disk(out_dir)
    return out_dir


_CACHE: Dict[str, Path] = {}


def blank_pipeline(path: Path) -> Path:
    """A blank `xx` pipeline (no components: every text has no entities),
    saved to `path` with spaCy's default meta, as `spacy train` leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    spacy.blank("xx").to_disk(path)
    return path


@pytest.fixture(scope="session")
def served_pipeline(tiny_encoder, tmp_path_factory) -> Path:
    """The tiny trained pipeline's directory, built once per session (the
    modules importing this fixture each get their own fixture definition, so
    the cache is here)."""
    if "path" not in _CACHE:
        _CACHE["path"] = train_pipeline(tiny_encoder, tmp_path_factory.mktemp("served") / "pipeline")
    return _CACHE["path"]


@pytest.fixture
def artifacts_dir(tmp_path) -> Path:
    """Where a test writes what people may want to look at (a screenshot,
    load-test numbers): the folder $XLMR_NER_TEST_ARTIFACTS names (CI keeps
    it), else the test's tmp_path."""
    kept = os.environ.get(ARTIFACTS_ENV)
    folder = Path(kept) if kept else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def console_script() -> str:
    """The installed `xlmr-ner-serve` (the entry point in setup.cfg)."""
    beside = Path(sys.executable).parent / "xlmr-ner-serve"
    found = str(beside) if beside.exists() else shutil.which("xlmr-ner-serve")
    assert found, "xlmr-ner-serve is not installed: pip install -e .[serve]"
    return found


def get_json(url: str, timeout: float = 10.0) -> Tuple[int, Dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def post_json(url: str, payload, timeout: float = 60.0) -> Tuple[int, Dict]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@contextmanager
def running_server(pipeline: Path, workdir: Path, *options: str, start_timeout: float = 180.0) -> Iterator[SimpleNamespace]:
    """Start `xlmr-ner-serve PIPELINE` on 127.0.0.1 in a subprocess, wait for
    /health, and stop it afterwards.

    RETURNS: url (str), log_file (Path: the --log-file), output (Path:
        stdout and stderr), process.
    """
    port = free_port()
    log_file, output = workdir / "serve.log", workdir / "server-output.txt"
    command = [console_script(), str(pipeline), "--host", "127.0.0.1", "--port", str(port), "--log-file", str(log_file), *options]
    # Output to a file, not a pipe nobody reads (a full pipe blocks the server).
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"The server exited with {process.returncode}:\n{output.read_text(errors='replace')}")
            try:
                if get_json(f"{url}/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"The server did not answer /health in {start_timeout} s:\n{output.read_text(errors='replace')}")
            time.sleep(0.2)
        yield SimpleNamespace(url=url, log_file=log_file, output=output, process=process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
