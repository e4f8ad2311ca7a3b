"""HTTP hardening: JSON-only `POST /ner`, security headers, /docs that loads
nothing from elsewhere, and uvicorn's limits (header timeout, idle
keep-alive, header size, concurrency) through a real server on 127.0.0.1
in this process. Events, not timings: a closed connection, a status."""
import base64
import hashlib
import re
import socket
import threading
import time
from contextlib import contextmanager
from html import unescape

import pytest
import spacy

from helpers.serve import free_port, needs_serve_extra

needs_serve_extra()
from fastapi.testclient import TestClient  # noqa: E402
from spacy_xlmr_ner.serve import create_app  # noqa: E402
from spacy_xlmr_ner.serve.cli import server_options  # noqa: E402

WAIT_S = 120  # a bound on waiting for what should happen; never a measurement


@pytest.fixture(scope="module")
def app():
    return create_app(spacy.blank("xx"), workers=1)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"],
)
def test_ner_needs_a_json_content_type(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/ner", content=b'{"text": "Berlin"}', headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": f"Content-Type must be application/json, got {content_type or 'none'}"}


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"])
def test_json_content_types_are_accepted(client, content_type):
    response = client.post("/ner", content=b'{"text": "Berlin"}', headers={"Content-Type": content_type})
    assert response.status_code == 200
    assert response.json() == {"results": [{"text": "Berlin", "entities": []}]}


def test_the_page_sends_json():
    from importlib.resources import files

    page = files("spacy_xlmr_ner.serve").joinpath("templates", "index.html").read_text(encoding="utf-8")
    fetches = re.findall(r"fetch\((.*?)\}\);", page, re.S)
    assert len(fetches) == 1 and '"Content-Type": "application/json"' in fetches[0]


@pytest.mark.parametrize("method,path", [("get", "/"), ("get", "/health"), ("get", "/meta"), ("get", "/docs"), ("get", "/openapi.json"), ("get", "/nothing"), ("post", "/ner")])
def test_security_headers_everywhere(client, method, path):
    response = getattr(client, method)(path)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp


def sha256(text):
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def directives(csp):
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in csp.split(";")) if part}


def test_page_csp_allows_its_own_script_and_style_only(client):
    response = client.get("/")
    html = response.text
    csp = directives(response.headers["content-security-policy"])
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.S)
    (style,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert csp["script-src"] == [sha256(script)]
    assert csp["style-src"] == [sha256(style)]
    assert csp["connect-src"] == ["'self'"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    # Nothing loaded from elsewhere.
    assert not re.search(r"(src|href)\s*=", html)


def test_docs_work_offline(client):
    response = client.get("/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "/ner" in html and "/health" in html and "/meta" in html and '"texts"' in unescape(html)
    # No URL of another host, no script, nothing loaded.
    assert not re.search(r"https?:|//[a-z]", html, re.I)
    assert "<script" not in html and not re.search(r"\bsrc\s*=", html)
    assert re.findall(r'href="([^"]*)"', html) == ["openapi.json"]
    assert "script-src 'none'" in response.headers["content-security-policy"]
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").json()["paths"]["/ner"]


@contextmanager
def real_server(app, **options):
    """The app behind uvicorn on 127.0.0.1, in this process, with the CLI's
    server options."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", **server_options(**options)))
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


def closed_by_server(sock):
    """Read until the server closes the connection. RETURNS: what came."""
    sock.settimeout(WAIT_S)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk


def get(port, path="/health"):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return closed_by_server(sock)


def test_connections_that_send_no_headers_are_closed(app):
    with real_server(app, header_timeout=0.5, keep_alive=0.5) as port:
        # Nothing sent at all.
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            assert closed_by_server(sock) == b""
        # Half a request line, and no more.
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            assert closed_by_server(sock) == b""
        # A request, then nothing: answered, then closed (keep-alive timeout).
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = closed_by_server(sock)
            assert reply.startswith(b"HTTP/1.1 200 ") and reply.endswith(b'{"status":"ok","pending":0}')
        assert get(port).startswith(b"HTTP/1.1 200 ")


def test_oversized_headers_are_refused(app):
    with real_server(app) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) as sock:
            # Headers not yet complete at 40 KB: h11 buffers at most 16 KiB of them.
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000)
            reply = closed_by_server(sock)
        assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
        assert get(port).startswith(b"HTTP/1.1 200 ")


def test_concurrency_limit(app):
    with real_server(app, limit_concurrency=3, header_timeout=60) as port:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=WAIT_S) for _ in range(2)]
        try:
            # Two idle connections and this one: the limit.
            deadline = time.monotonic() + WAIT_S
            while not (reply := get(port)).startswith(b"HTTP/1.1 503 "):
                assert time.monotonic() < deadline, reply
                time.sleep(0.05)
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + WAIT_S
        while not (reply := get(port)).startswith(b"HTTP/1.1 200 "):
            assert time.monotonic() < deadline, reply
            time.sleep(0.05)
