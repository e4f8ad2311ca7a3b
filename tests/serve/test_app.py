"""The FastAPI app (`create_app`) through Starlette's TestClient: results,
offsets, errors for bad input, /meta and the page, and a long request that
neither blocks /health nor outlives its timeout."""
import json
import os
import re
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import spacy

from helpers.serve_components import Gate  # noqa: E402 (registers the test components)
from helpers.serve import (  # noqa: F401 (served_pipeline: a fixture)
    EMOJI_TEXT,
    EXAMPLE_TEXT,
    EXPECTED,
    META,
    NO_ENTITIES_TEXT,
    TRAIN_DATA,
    blank_pipeline,
    free_port,
    needs_serve_extra,
    post_json,
    served_pipeline,
)

needs_serve_extra()
from fastapi.testclient import TestClient  # noqa: E402
from spacy_xlmr_ner.serve import create_app  # noqa: E402
from spacy_xlmr_ner.serve.page import EXAMPLES  # noqa: E402
from spacy_xlmr_ner.serve.pipeline import load_pipeline  # noqa: E402
from spacy_xlmr_ner.serve.scheduler import split_batches  # noqa: E402

MAX_TEXTS, MAX_CHARS, MAX_BYTES = 16, 1000, 200_000


@pytest.fixture(scope="module")
def client(served_pipeline):
    app = create_app(served_pipeline, max_texts=MAX_TEXTS, max_chars=MAX_CHARS, max_bytes=MAX_BYTES, workers=1)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def spans(result):
    return [(e["start"], e["end"], e["label"]) for e in result["entities"]]


def check_result(text, result):
    assert result["text"] == text
    for ent in result["entities"]:
        assert text[ent["start"] : ent["end"]] == ent["text"]
        assert 0.0 < ent["score"] <= 1.0
    assert spans(result) == EXPECTED[text]


def test_one_text(client):
    text = EXAMPLE_TEXT["de"]
    response = client.post("/ner", json={"text": text})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    (result,) = response.json()["results"]
    check_result(text, result)
    assert [e["text"] for e in result["entities"]] == ["Angela Merkel", "Berlin", "Siemens AG"]


def test_entity_vectors_on_request(client):
    text = EXAMPLE_TEXT["de"]
    (plain,) = client.post("/ner", json={"text": text}).json()["results"]
    assert all("vector" not in e for e in plain["entities"])
    (result,) = client.post("/ner", json={"text": text, "vectors": True}).json()["results"]
    vectors = [e.pop("vector") for e in result["entities"]]
    assert result == plain
    widths = {len(v) for v in vectors}
    assert len(widths) == 1 and widths.pop() > 0
    assert all(isinstance(x, float) for v in vectors for x in v)
    assert vectors[0] != vectors[1]
    response = client.post("/ner", json={"text": text, "vectors": "yes"})
    assert response.status_code == 422
    assert '"vectors" must be true or false, got a string' in response.json()["detail"]


def test_a_span_component_pipeline_is_served_with_its_scores(tiny_encoder):
    from spacy.training import Example

    from spacy_xlmr_ner import create_pipeline
    from spacy_xlmr_ner.serve.worker import ner_component

    spacy.util.fix_random_seed(0)
    nlp = create_pipeline(tiny_encoder, ner="xlmr_span_ner", ner_config={"model": {"dropout": 0.0}})
    examples = [Example.from_dict(nlp.make_doc(t), {"entities": ents}) for t, ents in TRAIN_DATA[:4]]
    optimizer = nlp.initialize(lambda: examples)
    optimizer.learn_rate = 1e-3
    for _ in range(60):
        nlp.update(examples, sgd=optimizer)
    assert ner_component(nlp) is nlp.get_pipe("xlmr_span_ner")
    text = examples[0].reference.text
    with TestClient(create_app(nlp, workers=1)) as span_client:
        (result,) = span_client.post("/ner", json={"text": text}).json()["results"]
    assert result["entities"], "the span pipeline found no entity in a training sentence"
    assert [(e["start"], e["end"], e["label"]) for e in result["entities"]] == [
        (e.start_char, e.end_char, e.label_) for e in nlp(text).ents
    ]
    assert all(0.0 < e["score"] <= 1.0 for e in result["entities"])


def test_texts_in_order_and_same_as_one_by_one(client):
    texts = [t for t, _ in TRAIN_DATA]
    texts = texts[::-1] + ["", "   \n"] + texts[:3]
    response = client.post("/ner", json={"texts": texts})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["text"] for r in results] == texts
    for text, result in zip(texts, results):
        if text.strip():
            check_result(text, result)
        else:
            assert result["entities"] == []
        single = client.post("/ner", json={"text": text}).json()["results"][0]
        assert spans(single) == spans(result)
        assert [e["score"] for e in single["entities"]] == pytest.approx([e["score"] for e in result["entities"]], rel=1e-4)


def test_offsets_are_python_string_indices(client):
    # Emoji are one Python character but two UTF-16 units: the offsets must
    # index the text as Python (and the JSON's code points) do.
    texts = [EMOJI_TEXT, EXAMPLE_TEXT["ar"], EXAMPLE_TEXT["zh"], EXAMPLE_TEXT["hi"]]
    results = client.post("/ner", json={"texts": texts}).json()["results"]
    for text, result in zip(texts, results):
        check_result(text, result)
    emoji = results[0]["entities"]
    assert (emoji[0]["start"], emoji[0]["end"]) == (2, 15)
    assert (emoji[1]["start"], emoji[1]["end"]) == (28, 34)
    utf16_start = len(EMOJI_TEXT[:28].encode("utf-16-le")) // 2
    assert utf16_start == 31 != emoji[1]["start"]
    assert [e["text"] for e in results[2]["entities"]] == ["习近平", "北京", "华为公司"]


def test_empty_inputs(client):
    assert client.post("/ner", json={"text": ""}).json() == {"results": [{"text": "", "entities": []}]}
    assert client.post("/ner", json={"texts": []}).json() == {"results": []}
    assert client.post("/ner", json={"text": NO_ENTITIES_TEXT}).json()["results"][0]["entities"] == []


def test_limits_are_inclusive(client):
    assert client.post("/ner", json={"texts": ["Berlin."] * MAX_TEXTS}).status_code == 200
    response = client.post("/ner", json={"text": "x" * (MAX_CHARS - 1) + "😀"})
    assert response.status_code == 200


BAD_REQUESTS = [
    (b"", 422, "Empty request body"),
    (b"   \n", 422, "Empty request body"),
    (b"{", 422, "Malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
    (b"not json", 422, "Malformed JSON"),
    (b'{"text": "a",}', 422, "Malformed JSON"),
    (b"[1, 2]", 422, "Expected a JSON object, got an array"),
    (b'"Berlin"', 422, "Expected a JSON object, got a string"),
    (b"{}", 422, 'Give exactly one of "text" and "texts"'),
    (b'{"text": "a", "texts": ["b"]}', 422, 'Give exactly one of "text" and "texts"'),
    (b'{"txt": "a"}', 422, "Unknown field(s) 'txt'"),
    (b'{"text": 5}', 422, '"text" must be a string, got a number'),
    (b'{"text": null}', 422, '"text" must be a string, got null'),
    (b'{"text": ["a"]}', 422, '"text" must be a string, got an array'),
    (b'{"texts": "abc"}', 422, '"texts" must be an array of strings, got a string'),
    (b'{"texts": ["a", {"b": 1}]}', 422, '"texts"[1] must be a string, got an object'),
    (json.dumps({"texts": ["a"] * (MAX_TEXTS + 1)}).encode(), 422, f'"texts" has {MAX_TEXTS + 1} items, over the limit of {MAX_TEXTS}'),
    (json.dumps({"text": "a" * (MAX_CHARS + 1)}).encode(), 422, f'"text" has {MAX_CHARS + 1} characters, over the limit of {MAX_CHARS}'),
    (json.dumps({"texts": ["a", "ب" * (MAX_CHARS + 1)]}).encode(), 422, '"texts"[1] has 1001 characters'),
    (b'{"text": "Berlin \xff\xfe"}', 400, "Request body is not valid UTF-8: byte 17"),
    (b'{"text": "\xc3"}', 400, "not valid UTF-8"),
    (b'{"text": "a\\ud800b"}', 422, '"text" has an unpaired surrogate (U+D800) at character 1'),
    (b"[" * 50_000, 422, "Malformed JSON"),
    (b'{"text": ' + b"9" * 5000 + b"}", 422, "Malformed JSON"),
]


@pytest.mark.parametrize("body,status,detail", BAD_REQUESTS, ids=[f"{i}-{s}" for i, (_, s, _) in enumerate(BAD_REQUESTS)])
def test_bad_requests_get_clear_json_errors(client, body, status, detail):
    response = client.post("/ner", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert detail in response.json()["detail"]
    # and the service still answers
    assert client.post("/ner", json={"text": EXAMPLE_TEXT["en"]}).status_code == 200


def test_byte_order_mark_is_accepted(client):
    body = b"\xef\xbb\xbf" + json.dumps({"text": EXAMPLE_TEXT["ru"]}).encode("utf-8")
    response = client.post("/ner", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    check_result(EXAMPLE_TEXT["ru"], response.json()["results"][0])


def test_body_over_max_bytes(client):
    big = json.dumps({"texts": ["a" * 900] * 250}).encode()
    assert len(big) > MAX_BYTES
    json_type = {"Content-Type": "application/json"}
    response = client.post("/ner", content=big, headers=json_type)
    assert response.status_code == 413
    assert response.json()["detail"] == f"Request body of {len(big)} bytes is over the limit of {MAX_BYTES} bytes"
    # Streamed without Content-Length: counted while reading.
    chunks = (big[i : i + 8192] for i in range(0, len(big), 8192))
    response = client.post("/ner", content=chunks, headers=json_type)
    assert response.status_code == 413
    assert response.json()["detail"] == f"Request body is over the limit of {MAX_BYTES} bytes"
    assert client.post("/ner", json={"text": EXAMPLE_TEXT["hi"]}).status_code == 200


def test_health_and_openapi(client):
    assert client.get("/health").json() == {"status": "ok", "pending": 0}
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/ner"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert [sorted(option["properties"]) for option in body["oneOf"]] == [["text", "vectors"], ["texts", "vectors"]]


def test_meta(client, served_pipeline):
    meta = client.get("/meta").json()
    assert meta["name"] == META["name"] and meta["version"] == META["version"] and meta["lang"] == "xx"
    assert meta["description"] == META["description"]
    assert meta["labels"] == ["LOC", "ORG", "PER"]
    assert meta["pipeline"] == ["transformer", "xlmr_ner"]
    assert meta["languages"] == META["languages"]
    assert meta["performance"] == META["performance"]
    assert meta["limits"] == {"max_bytes": MAX_BYTES, "max_texts": MAX_TEXTS, "max_chars": MAX_CHARS, "timeout": 60.0}
    assert meta["source"] == str(served_pipeline)


def test_meta_without_model_card_fields_and_with_nan(served_pipeline):
    nlp = spacy.load(served_pipeline)
    del nlp.meta["languages"]
    nlp.meta["performance"] = {"ents_f": float("nan"), "ents_per_type": {"PER": {"f": float("inf"), "p": 0.5}}}
    with TestClient(create_app(nlp, workers=1)) as client:
        meta = client.get("/meta").json()
    assert meta["languages"] == []
    assert meta["performance"] == {"ents_f": None, "ents_per_type": {"PER": {"f": None, "p": 0.5}}}


@pytest.mark.parametrize("parts,name", [(("xlmr_ner_demo", "model-best"), "xlmr_ner_demo"), (("my_pipeline",), "my_pipeline")])
def test_meta_of_a_directory_without_a_model_card(tmp_path, monkeypatch, parts, name):
    # What `spacy train` saves: meta.json with spaCy's default name and
    # version. The directory names the pipeline instead.
    blank_pipeline(tmp_path.joinpath(*parts))
    assert spacy.load(tmp_path.joinpath(*parts)).meta["name"] == "pipeline"
    monkeypatch.chdir(tmp_path)
    source = "/".join(parts)
    with TestClient(create_app(source, workers=1)) as client:
        meta = client.get("/meta").json()
        assert client.get("/openapi.json").json()["info"]["title"] == f"xx_{name} named entities"
        about = page_config(client.get("/").text)
    assert (meta["name"], meta["version"], meta["source"]) == (name, "", source)
    assert (about["name"], about["source"]) == (name, source)


def test_meta_source_of_a_pipeline_object(served_pipeline, tmp_path):
    nlp = spacy.load(served_pipeline)
    with TestClient(create_app(nlp, workers=1)) as client:
        meta = client.get("/meta").json()
    assert (meta["name"], meta["version"], meta["source"]) == (META["name"], META["version"], str(served_pipeline))
    # Built in memory: nowhere to name it after.
    with TestClient(create_app(spacy.blank("xx"), workers=1)) as client:
        meta = client.get("/meta").json()
    assert (meta["name"], meta["version"], meta["source"]) == ("pipeline", "", "")


def page_config(html):
    match = re.search(r'<script id="config" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_page(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<title>xx_serve_test · named entities</title>" in html
    config = page_config(html)
    assert {"zh", "ar", "ru", "hi"} <= {example["lang"] for example in config["examples"]}
    assert config["examples"] == EXAMPLES and config["labels"] == ["LOC", "ORG", "PER"]
    # displaCy's colours, with PER given PERSON's
    assert config["colors"]["LOC"] == "#ff9561" and config["colors"]["PER"] == "#aa9cfc"
    # The meta's "</script>" cannot end the config element early.
    assert config["description"] == META["description"]
    assert "<script>window.pwned" not in html
    assert 'id="text" dir="auto"' in html


# Only a bound on how long a test waits for something that should happen,
# so that a broken test fails instead of hanging; never a measurement.
WAIT_S = 120


def gated_app(tmp_path, *, components=("serve_test_gate",), **kwargs):
    """A pipeline of a `Gate` (in the worker processes) alone behind the app,
    one text per batch, one worker unless said otherwise."""
    nlp = spacy.blank("xx")
    gate = Gate(tmp_path / "gate")
    for name in components:
        nlp.add_pipe(name, config={"folder": str(gate.folder)} if name == "serve_test_gate" else {})
    kwargs = {"batch_size": 1, "workers": 1, **kwargs}
    return create_app(nlp, **kwargs), gate


def in_thread(function):
    """Run `function()` in a thread. RETURNS: the thread and a dict that gets
    the result under "result"."""
    out = {}
    thread = threading.Thread(target=lambda: out.update(result=function()), daemon=True)
    thread.start()
    return thread, out


def wait_for_pending(client, n):
    deadline = time.monotonic() + WAIT_S
    while client.get("/health").json()["pending"] != n:
        assert time.monotonic() < deadline, f"/health never said {n} pending"
        time.sleep(0.01)


def process_ended(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def test_pipeline_runs_in_worker_processes(tmp_path):
    app, gate = gated_app(tmp_path, workers=2)
    with TestClient(app) as client:
        assert client.post("/ner", json={"texts": ["one", "two"]}).status_code == 200
        pids = app.state.pool.pids
    assert len(set(pids)) == 2 and os.getpid() not in pids
    assert {pid for pid, _ in gate.events()} <= set(pids)


def test_health_answers_while_a_request_is_in_the_pipeline(tmp_path):
    app, gate = gated_app(tmp_path)
    with TestClient(app) as client:
        thread, out = in_thread(lambda: client.post("/ner", json={"texts": ["HOLD"] * 3}))
        # The worker is stuck on the first text: /health, /meta and the page
        # are answered all the same, and /health counts the request.
        gate.wait_until_entered(["HOLD"])
        assert client.get("/health").json() == {"status": "ok", "pending": 1}
        assert client.get("/meta").status_code == 200
        assert client.get("/").status_code == 200
        assert thread.is_alive()
        gate.release(3)
        thread.join(WAIT_S)
        assert client.get("/health").json() == {"status": "ok", "pending": 0}
    response = out["result"]
    assert response.status_code == 200
    assert response.json()["results"] == [{"text": "HOLD", "entities": []}] * 3


def test_small_request_goes_before_the_rest_of_a_large_one(tmp_path):
    app, gate = gated_app(tmp_path, small_chars=20)  # one worker, one text per batch
    large_texts = [f"HOLD {i}" for i in range(10)]
    with TestClient(app) as client:
        large, large_out = in_thread(lambda: client.post("/ner", json={"texts": large_texts}))
        gate.wait_until_entered(["HOLD 0"])
        small, small_out = in_thread(lambda: client.post("/ner", json={"texts": ["quick", "fast"]}))
        wait_for_pending(client, 2)
        # Let the large request's first text through, and no more: the small
        # request (fewer characters) goes next, and is answered while the
        # large one waits on its second text.
        gate.release(1)
        small.join(WAIT_S)
        assert not small.is_alive()
        assert large.is_alive() and client.get("/health").json()["pending"] == 1
        gate.wait_until_entered(["HOLD 0", "quick", "fast", "HOLD 1"])
        gate.release(9)
        large.join(WAIT_S)
    small_response, large_response = small_out["result"], large_out["result"]
    assert small_response.status_code == large_response.status_code == 200
    assert [r["text"] for r in small_response.json()["results"]] == ["quick", "fast"]
    assert [r["text"] for r in large_response.json()["results"]] == large_texts
    assert gate.entered == ["HOLD 0", "quick", "fast"] + large_texts[1:]


def test_small_request_does_not_wait_for_a_large_batch(tmp_path):
    # Two workers: the first takes small requests only. A large request's
    # one text is held in the other; a small one is answered meanwhile.
    app, gate = gated_app(tmp_path, workers=2, small_chars=20)
    large_text = "HOLD " + "x" * 40
    with TestClient(app) as client:
        large, large_out = in_thread(lambda: client.post("/ner", json={"text": large_text}))
        gate.wait_until_entered([large_text])
        for text in ("quick", "fast"):
            response = client.post("/ner", json={"text": text})
            assert response.status_code == 200 and response.json()["results"][0]["text"] == text
        assert large.is_alive()
        small_worker, large_worker = app.state.pool.pids
        assert gate.events() == [(large_worker, large_text), (small_worker, "quick"), (small_worker, "fast")]
        gate.release(1)
        large.join(WAIT_S)
    assert large_out["result"].status_code == 200


def test_timeout_stops_the_work_and_restarts_the_worker(tmp_path):
    app, gate = gated_app(tmp_path, timeout=2.0)
    with TestClient(app) as client:
        (held_by,) = app.state.pool.pids
        # Its first text is held in the pipeline, never released.
        response = client.post("/ner", json={"texts": ["HOLD"] * 20})
        assert response.status_code == 504
        assert response.json()["detail"].startswith("Not done after 2 s (20 text(s), 80 characters)")
        assert client.get("/health").json()["pending"] == 0
        # The worker running it was killed, not left to finish: a new one
        # serves the next request, and the request's later texts never ran.
        deadline = time.monotonic() + WAIT_S
        while not process_ended(held_by):
            assert time.monotonic() < deadline, "the worker holding the request was not stopped"
            time.sleep(0.05)
        after = client.post("/ner", json={"text": "fast"})
        assert after.status_code == 200, after.text
        assert after.json() == {"results": [{"text": "fast", "entities": []}]}
        (now,) = app.state.pool.pids
        assert app.state.pool.restarts == 1
    assert gate.events() == [(held_by, "HOLD"), (now, "fast")] and now != held_by


def test_request_queued_behind_a_timed_out_one(tmp_path):
    # Served by the new worker, or, if its own deadline passes first (the
    # restart takes a while), answered 504 without having run.
    app, gate = gated_app(tmp_path, timeout=3.0)
    with TestClient(app) as client:
        held, held_out = in_thread(lambda: client.post("/ner", json={"text": "HOLD"}))
        gate.wait_until_entered(["HOLD"])
        queued, queued_out = in_thread(lambda: client.post("/ner", json={"text": "queued"}))
        wait_for_pending(client, 2)
        held.join(WAIT_S)
        queued.join(WAIT_S)
        assert held_out["result"].status_code == 504
        response = queued_out["result"]
        assert response.status_code in (200, 504)
        if response.status_code == 200:
            assert response.json() == {"results": [{"text": "queued", "entities": []}]}
            assert gate.entered == ["HOLD", "queued"]
        else:
            assert gate.entered == ["HOLD"]
        assert client.post("/ner", json={"text": "after"}).status_code == 200
        assert client.get("/health").json() == {"status": "ok", "pending": 0}


def test_worker_that_dies_gives_500_and_is_replaced(tmp_path):
    app, gate = gated_app(tmp_path, components=("serve_test_gate", "serve_test_dies_on_crash"))
    with TestClient(app, raise_server_exceptions=False) as client:
        (first,) = app.state.pool.pids
        response = client.post("/ner", json={"texts": ["ok", "CRASH"]})
        assert response.status_code == 500
        assert response.json()["detail"].startswith("Internal error: WorkerExited: the worker process stopped")
        assert client.post("/ner", json={"text": "fine"}).json() == {"results": [{"text": "fine", "entities": []}]}
        (second,) = app.state.pool.pids
    assert first != second and gate.entered == ["ok", "CRASH", "fine"]


def test_small_requests_waiting_together_share_a_batch(tmp_path):
    app, gate = gated_app(tmp_path, batch_size=3, small_chars=20)
    large_text = "HOLD " + "x" * 40
    with TestClient(app) as client:
        large, large_out = in_thread(lambda: client.post("/ner", json={"text": large_text}))
        gate.wait_until_entered([large_text])
        smalls = [in_thread(lambda text=text: client.post("/ner", json={"text": text})) for text in ("s1", "s2", "s3", "s4")]
        wait_for_pending(client, 5)
        gate.release(1)
        for thread, _ in smalls:
            thread.join(WAIT_S)
        large.join(WAIT_S)
    assert large_out["result"].status_code == 200
    for text, (_, out) in zip(("s1", "s2", "s3", "s4"), smalls):
        assert out["result"].json() == {"results": [{"text": text, "entities": []}]}
    # Three small requests (batch_size) in one nlp.pipe call, then the fourth;
    # which three depends on the order they arrived in.
    batches = gate.batches()
    assert batches[0] == [large_text] and [len(b) for b in batches[1:]] == [3, 1]
    assert sorted(batches[1] + batches[2]) == ["s1", "s2", "s3", "s4"]


def test_batches_are_cut_by_texts_and_characters():
    assert split_batches([], 4, 10) == []
    assert split_batches(["a"] * 5, 2, 100) == [(0, ["a", "a"]), (2, ["a", "a"]), (4, ["a"])]
    texts = ["aaaa", "bbbb", "cc", "d" * 30, "e"]
    assert split_batches(texts, 16, 10) == [(0, ["aaaa", "bbbb", "cc"]), (3, ["d" * 30]), (4, ["e"])]


@contextmanager
def uvicorn_in_thread(app):
    """The app behind a real uvicorn server on 127.0.0.1, in this process."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    try:
        yield server.config.port
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_body_sent_too_slowly_gets_408(tmp_path):
    app, _ = gated_app(tmp_path, timeout=2.0)
    with uvicorn_in_thread(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            # Content-Length promises 100 bytes; 9 come.
            sock.sendall(b"POST /ner HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\": ")
            reply = sock.recv(65536)
            # Under load the status line and the body may come in separate packets.
            while not reply.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 ")
        assert reply.endswith(b'{"detail":"Request body not received within 2 s"}')
        # The server is fine.
        status, answer = post_json(f"http://127.0.0.1:{port}/ner", {"text": "fine"})
        assert (status, answer) == (200, {"results": [{"text": "fine", "entities": []}]})


def test_pipeline_errors_are_json_500_not_a_crash():
    nlp = spacy.blank("xx")
    nlp.add_pipe("serve_test_fails_on_boom")
    with TestClient(create_app(nlp, workers=1), raise_server_exceptions=False) as client:
        response = client.post("/ner", json={"text": "BOOM"})
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal error: RuntimeError: boom"}
        assert client.post("/ner", json={"text": "fine"}).status_code == 200


def test_hugging_face_checkpoint(tiny_encoder, tmp_path):
    from transformers import AutoTokenizer, XLMRobertaForTokenClassification

    id2label = dict(enumerate(["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]))
    model = XLMRobertaForTokenClassification.from_pretrained(
        str(tiny_encoder), id2label=id2label, label2id={v: k for k, v in id2label.items()}
    )
    model.save_pretrained(tmp_path / "hf")
    AutoTokenizer.from_pretrained(str(tiny_encoder)).save_pretrained(tmp_path / "hf")
    with pytest.raises(ValueError, match="looks like a Hugging Face checkpoint"):
        load_pipeline(tmp_path / "hf")
    with TestClient(create_app(str(tmp_path / "hf"), hf=True, workers=1)) as client:
        meta = client.get("/meta").json()
        assert meta["labels"] == ["LOC", "ORG", "PER"]
        results = client.post("/ner", json={"texts": [EXAMPLE_TEXT["ar"], EMOJI_TEXT]}).json()["results"]
    for text, result in zip([EXAMPLE_TEXT["ar"], EMOJI_TEXT], results):
        assert result["text"] == text
        for ent in result["entities"]:
            assert text[ent["start"] : ent["end"]] == ent["text"] and ent["label"] in meta["labels"]
