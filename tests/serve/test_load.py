"""A small bounded load test: the real server in a subprocess, 300 requests
from this process on loopback (8 at a time), no errors, every result right;
latency percentiles printed and written to tests/artifacts/serve_load.json.
And a large request does not stop the server answering the others."""
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from statistics import quantiles

import pytest

from helpers.serve import ARTIFACTS, EXPECTED, TRAIN_DATA, get_json, post_json, running_server, served_pipeline  # noqa: F401

pytestmark = pytest.mark.slow
N_REQUESTS, CONCURRENCY, BUDGET_S = 300, 8, 180


@pytest.fixture(scope="module")
def server(served_pipeline, tmp_path_factory):
    with running_server(served_pipeline, tmp_path_factory.mktemp("load")) as server:
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


def test_load(server):
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
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "serve_load.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nload test: {json.dumps(report)}")
    assert errors == [], errors[:5]
    assert len(latencies_ms) == N_REQUESTS
    assert wall < BUDGET_S
    assert get_json(server.url + "/health") == (200, {"status": "ok", "pending": 0})


def test_large_request_does_not_stop_the_others(server):
    # 64 texts of about 3,000 characters: several seconds for the tiny
    # pipeline, in 4 batches of 16.
    long_text = " ".join([TRAIN_DATA[0][0]] * 60)[:3000]
    large = {}

    def post_large():
        started = time.perf_counter()
        large["answer"] = post_json(server.url + "/ner", {"texts": [long_text] * 64}, timeout=120)
        large["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=post_large)
    thread.start()
    deadline = time.monotonic() + 10
    while get_json(server.url + "/health")[1]["pending"] == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    health_seconds = []
    for _ in range(10):
        started = time.perf_counter()
        status, health = get_json(server.url + "/health")
        health_seconds.append(time.perf_counter() - started)
        assert status == 200 and health["pending"] >= 1
        time.sleep(0.05)
    started = time.perf_counter()
    status, small = post_json(server.url + "/ner", {"text": TRAIN_DATA[1][0]})
    small_seconds = time.perf_counter() - started
    small_done_while_large_running = thread.is_alive()
    assert get_json(server.url + "/meta")[0] == 200
    thread.join()
    status_large, answer = large["answer"]
    assert status_large == 200 and len(answer["results"]) == 64
    assert [r["text"] for r in answer["results"]] == [long_text] * 64
    assert all(long_text[e["start"] : e["end"]] == e["text"] for r in answer["results"] for e in r["entities"])
    assert status == 200 and check([TRAIN_DATA[1][0]], status, small) is None
    print(
        f"\nlarge request {large['seconds']:.2f} s; meanwhile /health max {max(health_seconds) * 1000:.0f} ms, "
        f"a small /ner {small_seconds * 1000:.0f} ms"
    )
    assert max(health_seconds) < 1.0
    # The small request waited for one batch of the large one, not all four.
    assert small_done_while_large_running and small_seconds < large["seconds"] / 2
