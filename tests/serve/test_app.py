"""The FastAPI app (`create_app`) through Starlette's TestClient: results,
offsets, errors for bad input, /meta and the page, and a long request that
neither blocks /health nor outlives its timeout."""
import json
import re
import socket
import threading
import time
from contextlib import contextmanager

import pytest
import spacy
from spacy.language import Language

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

MAX_TEXTS, MAX_CHARS, MAX_BYTES = 16, 1000, 200_000


@pytest.fixture(scope="module")
def client(served_pipeline):
    app = create_app(served_pipeline, max_texts=MAX_TEXTS, max_chars=MAX_CHARS, max_bytes=MAX_BYTES)
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
    with TestClient(create_app(nlp)) as span_client:
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
    response = client.post("/ner", content=body)
    assert response.status_code == 200
    check_result(EXAMPLE_TEXT["ru"], response.json()["results"][0])


def test_body_over_max_bytes(client):
    big = json.dumps({"texts": ["a" * 900] * 250}).encode()
    assert len(big) > MAX_BYTES
    response = client.post("/ner", content=big)
    assert response.status_code == 413
    assert response.json()["detail"] == f"Request body of {len(big)} bytes is over the limit of {MAX_BYTES} bytes"
    # Streamed without Content-Length: counted while reading.
    chunks = (big[i : i + 8192] for i in range(0, len(big), 8192))
    response = client.post("/ner", content=chunks)
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
    with TestClient(create_app(nlp)) as client:
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
    with TestClient(create_app(source)) as client:
        meta = client.get("/meta").json()
        assert client.get("/openapi.json").json()["info"]["title"] == f"xx_{name} named entities"
        about = page_config(client.get("/").text)
    assert (meta["name"], meta["version"], meta["source"]) == (name, "", source)
    assert (about["name"], about["source"]) == (name, source)


def test_meta_source_of_a_pipeline_object(served_pipeline, tmp_path):
    nlp = spacy.load(served_pipeline)
    with TestClient(create_app(nlp)) as client:
        meta = client.get("/meta").json()
    assert (meta["name"], meta["version"], meta["source"]) == (META["name"], META["version"], str(served_pipeline))
    # Built in memory: nowhere to name it after.
    with TestClient(create_app(spacy.blank("xx"))) as client:
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


class Gate:
    """Holds each doc with "HOLD" in its text in the pipeline until the test
    lets it through (`release`), and records the texts in the order the
    pipeline got them."""

    def __init__(self):
        self.entered = []
        self._permits = threading.Semaphore(0)
        self._changed = threading.Condition()

    def __call__(self, doc):
        with self._changed:
            self.entered.append(doc.text)
            self._changed.notify_all()
        if "HOLD" in doc.text and not self._permits.acquire(timeout=WAIT_S):
            raise RuntimeError(f"{doc.text!r} was never released")
        return doc

    def release(self, n=1):
        for _ in range(n):
            self._permits.release()

    def wait_until_entered(self, texts):
        with self._changed:
            assert self._changed.wait_for(lambda: self.entered == texts, timeout=WAIT_S), self.entered


@Language.factory("serve_test_gate")
def make_gate(nlp, name):
    return Gate()


def gated_app(**kwargs):
    """A pipeline of a `Gate` alone behind the app, one text per batch."""
    nlp = spacy.blank("xx")
    gate = nlp.add_pipe("serve_test_gate")
    app = create_app(nlp, batch_size=1, **kwargs)
    gate.entered.clear()  # the warm-up text
    return app, gate


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


def test_health_answers_while_a_request_is_in_the_pipeline():
    app, gate = gated_app()
    with TestClient(app) as client:
        thread, out = in_thread(lambda: client.post("/ner", json={"texts": ["HOLD"] * 3}))
        # The pipeline thread is stuck on the first text: /health is answered
        # all the same, and counts the request.
        gate.wait_until_entered(["HOLD"])
        assert client.get("/health").json() == {"status": "ok", "pending": 1}
        assert client.get("/meta").status_code == 200
        assert thread.is_alive()
        gate.release(3)
        thread.join(WAIT_S)
        assert client.get("/health").json() == {"status": "ok", "pending": 0}
    response = out["result"]
    assert response.status_code == 200
    assert response.json()["results"] == [{"text": "HOLD", "entities": []}] * 3


def test_small_request_waits_for_one_batch_of_a_large_one_not_all():
    app, gate = gated_app()  # one text per batch
    large_texts = [f"HOLD {i}" for i in range(10)]
    with TestClient(app) as client:
        large, large_out = in_thread(lambda: client.post("/ner", json={"texts": large_texts}))
        gate.wait_until_entered(["HOLD 0"])
        small, small_out = in_thread(lambda: client.post("/ner", json={"texts": ["quick"]}))
        wait_for_pending(client, 2)
        # Let the large request's first text through, and no more: the small
        # request is answered while the large one waits on its second text.
        gate.release(1)
        small.join(WAIT_S)
        assert not small.is_alive()
        assert large.is_alive() and client.get("/health").json()["pending"] == 1
        # In arrival order: the small request's batch went before the large
        # one's second.
        gate.wait_until_entered(["HOLD 0", "quick", "HOLD 1"])
        gate.release(9)
        large.join(WAIT_S)
    small_response, large_response = small_out["result"], large_out["result"]
    assert small_response.status_code == large_response.status_code == 200
    assert small_response.json()["results"] == [{"text": "quick", "entities": []}]
    assert [r["text"] for r in large_response.json()["results"]] == large_texts
    assert gate.entered == ["HOLD 0", "quick"] + large_texts[1:]


def test_timeout_stops_the_request_and_frees_the_worker():
    app, gate = gated_app(timeout=2.0)
    with TestClient(app) as client:
        # Its first text is held in the pipeline until after the 504.
        response = client.post("/ner", json={"texts": ["HOLD"] * 20})
        assert response.status_code == 504
        assert response.json()["detail"].startswith("Not done after 2 s (20 text(s), 80 characters)")
        assert client.get("/health").json()["pending"] == 0
        # The batch running at the timeout runs to its end, the later ones
        # are never submitted: with every text free to go, the next request
        # is the next thing in the pipeline.
        gate.release(20)
        after = client.post("/ner", json={"text": "fast"})
        assert after.status_code == 200, after.text
        assert after.json() == {"results": [{"text": "fast", "entities": []}]}
    assert gate.entered == ["HOLD", "fast"]


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


def test_a_body_sent_too_slowly_gets_408():
    app, _ = gated_app(timeout=2.0)
    with uvicorn_in_thread(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            # Content-Length promises 100 bytes; 9 come.
            sock.sendall(b"POST /ner HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"text\": ")
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


@Language.component("serve_test_fails_on_boom")
def fails_on_boom(doc):
    if "BOOM" in doc.text:
        raise RuntimeError("boom")
    return doc


def test_pipeline_errors_are_json_500_not_a_crash():
    nlp = spacy.blank("xx")
    nlp.add_pipe("serve_test_fails_on_boom")
    with TestClient(create_app(nlp), raise_server_exceptions=False) as client:
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
    with TestClient(create_app(str(tmp_path / "hf"), hf=True)) as client:
        meta = client.get("/meta").json()
        assert meta["labels"] == ["LOC", "ORG", "PER"]
        results = client.post("/ner", json={"texts": [EXAMPLE_TEXT["ar"], EMOJI_TEXT]}).json()["results"]
    for text, result in zip([EXAMPLE_TEXT["ar"], EMOJI_TEXT], results):
        assert result["text"] == text
        for ent in result["entities"]:
            assert text[ent["start"] : ent["end"]] == ent["text"] and ent["label"] in meta["labels"]
