"""A small bounded load test: the real server in a subprocess, 300 requests
from this process on loopback (8 at a time), no errors, every result right;
latency percentiles printed and written to serve_load.json (under the test's
tmp_path, or $XLMR_NER_TEST_ARTIFACTS). And a large request does not stop the
server answering the others."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from statistics import quantiles

import pytest

from helpers.serve import (  # noqa: F401 (artifacts_dir, served_pipeline: fixtures)
    EXPECTED,
    TRAIN_DATA,
    artifacts_dir,
    get_json,
    needs_serve_extra,
    post_json,
    running_server,
    served_pipeline,
)

needs_serve_extra()
pytestmark = pytest.mark.slow
N_REQUESTS, CONCURRENCY = 300, 8


@pytest.fixture(scope="module")
def server(served_pipeline, tmp_path_factory):
    # Small batches, so that a large request is many of them.
    with running_server(served_pipeline, tmp_path_factory.mktemp("load"), "--batch-size", "4") as server:
        yield server


def payload(i):
    """Request i: a single text, a batch of 4 texts or an empty text."""
    texts = [t for t, _ in TRAIN_DATA]
    if i % 10 == 9:
        return {"text": ""}, [""]
    if i % 3 == 0:
        batch = [texts[(i + k) % len(texts)] for k in range(4)]
        return {"texts": batch}, batch
    return {"text": texts[i % len(texts)]}, [texts[i % len(texts)]]


def check(texts, status, body):
    """RETURNS (Optional[str]): What is wrong with a response, or None."""
    if status != 200:
        return f"HTTP {status}: {body}"
    results = body["results"]
    if [r["text"] for r in results] != texts:
        return f"texts out of order or missing: {[r['text'] for r in results]}"
    for text, result in zip(texts, results):
        spans = [(e["start"], e["end"], e["label"]) for e in result["entities"]]
        if spans != EXPECTED.get(text, []):
            return f"entities of {text!r}: {spans}"
    return None


def test_load(server, artifacts_dir):
    def one(i):
        body, texts = payload(i)
        started = time.perf_counter()
        try:
            status, answer = post_json(server.url + "/ner", body, timeout=60)
        except Exception as err:  # a refused or dropped connection is an error too
            return time.perf_counter() - started, f"{type(err).__name__}: {err}"
        return time.perf_counter() - started, check(texts, status, answer)

    started = time.perf_counter()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        outcomes = list(pool.map(one, range(N_REQUESTS)))
    wall = time.perf_counter() - started
    errors = [error for _, error in outcomes if error is not None]
    latencies_ms = sorted(seconds * 1000 for seconds, _ in outcomes)
    cuts = quantiles(latencies_ms, n=100, method="inclusive")
    report = {
        "requests": N_REQUESTS,
        "concurrency": CONCURRENCY,
        "errors": len(errors),
        "wall_s": round(wall, 2),
        "requests_per_s": round(N_REQUESTS / wall, 1),
        "latency_ms": {
            "p50": round(cuts[49], 1),
            "p95": round(cuts[94], 1),
            "p99": round(cuts[98], 1),
            "max": round(latencies_ms[-1], 1),
        },
    }
    (artifacts_dir / "serve_load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nload test: {json.dumps(report)}")
    assert errors == [], errors[:5]
    assert len(latencies_ms) == N_REQUESTS
    assert get_json(server.url + "/health") == (200, {"status": "ok", "pending": 0})


def test_large_request_does_not_stop_the_others(server):
    # 64 texts of about 3,000 characters, in 16 batches of 4 (--batch-size).
    long_text = " ".join([TRAIN_DATA[0][0]] * 60)[:3000]
    large = {}

    def post_large():
        started = time.perf_counter()
        large["answer"] = post_json(server.url + "/ner", {"texts": [long_text] * 64}, timeout=600)
        large["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=post_large)
    thread.start()
    deadline = time.monotonic() + 120
    while get_json(server.url + "/health")[1]["pending"] == 0:
        assert thread.is_alive() and time.monotonic() < deadline, "the large request never showed in /health"
        time.sleep(0.02)
    started = time.perf_counter()
    status, small = post_json(server.url + "/ner", {"text": TRAIN_DATA[1][0]})
    small_seconds = time.perf_counter() - started
    # The small request was answered between two batches of the large one,
    # which is still pending: /health and /meta answer meanwhile.
    assert status == 200 and check([TRAIN_DATA[1][0]], status, small) is None
    assert get_json(server.url + "/health") == (200, {"status": "ok", "pending": 1})
    assert get_json(server.url + "/meta")[0] == 200
    thread.join()
    status_large, answer = large["answer"]
    assert status_large == 200 and len(answer["results"]) == 64
    assert [r["text"] for r in answer["results"]] == [long_text] * 64
    assert all(long_text[e["start"] : e["end"]] == e["text"] for r in answer["results"] for e in r["entities"])
    assert get_json(server.url + "/health") == (200, {"status": "ok", "pending": 0})
    print(f"\nlarge request {large['seconds']:.2f} s; a small /ner meanwhile {small_seconds * 1000:.0f} ms")
