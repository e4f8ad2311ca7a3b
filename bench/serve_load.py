"""Load benchmark of `xlmr-ner-serve` (issue 17): the real server on
127.0.0.1, 10 clients sending large requests (48 texts, about 41,000
characters) and 40 clients sending small ones (one sentence, then a pause),
for a bounded time, while /health is polled; then one 100,000-character
pathological text ('(' * 100000) while /health is polled. Writes the latency
percentiles of small requests and /health, the status counts and the
workers' peak memory to bench/results/serve-load.{json,md}.

    python bench/serve_load.py                      # an e5-small pipeline (untrained head) built from encoders/e5-small
    python bench/serve_load.py --pipeline training/xlmr_ner_demo/model-best --seconds 60

Not a test: it measures, on whatever machine runs it (the numbers say which).
"""
import http.client
import json
import os
import platform
import random
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import quantiles
from typing import Dict, List, Optional

import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # harness/ is the project's, not installed
from harness.benchmark.measure import untrained_pipeline, write_results  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SENTENCES = [
    "Angela Merkel besuchte gestern Berlin und sprach mit Vertretern der Siemens AG.",
    "Barack Obama visited the United Nations in New York on Monday.",
    "Pedro Sánchez viajó a Barcelona con directivos de Telefónica.",
    "Владимир Путин встретился с представителями Газпрома в Москве.",
    "زار محمد بن سلمان مدينة الرياض مع وفد من شركة أرامكو.",
    "नरेंद्र मोदी ने नई दिल्ली में टाटा समूह के अधिकारियों से मुलाकात की।",
    "习近平在北京会见了华为公司的代表。",
]
app = typer.Typer(add_completion=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port, self.timeout = port, timeout
        self.conn: Optional[http.client.HTTPConnection] = None

    def request(self, method: str, path: str, body: Optional[bytes] = None):
        """RETURNS: (status or an error name, seconds)."""
        started = time.perf_counter()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            headers = {"Content-Type": "application/json"} if body is not None else {}
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            response.read()
            status = response.status
            if response.getheader("connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as err:
            self.close()
            status = type(err).__name__
        return status, time.perf_counter() - started

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def large_body(rng: random.Random):
    texts = []
    for _ in range(48):
        words: List[str] = []
        while sum(map(len, words)) < 820:
            words.append(rng.choice(SENTENCES))
        texts.append(" ".join(words))
    return json.dumps({"texts": texts}, ensure_ascii=False).encode("utf-8"), sum(map(len, texts))


def pct(values: List[float]) -> Dict[str, float]:
    if not values:
        return {}
    ms = sorted(v * 1000 for v in values)
    if len(ms) == 1:
        return {"n": 1, "p50": round(ms[0], 1), "p95": round(ms[0], 1), "p99": round(ms[0], 1), "max": round(ms[0], 1)}
    cuts = quantiles(ms, n=100, method="inclusive")
    return {"n": len(ms), "p50": round(cuts[49], 1), "p95": round(cuts[94], 1), "p99": round(cuts[98], 1), "max": round(ms[-1], 1)}


def counts(statuses: List) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for status in statuses:
        out[str(status)] = out.get(str(status), 0) + 1
    return dict(sorted(out.items()))


def worker_memory(server_pid: int) -> List[Dict[str, float]]:
    """Peak and current RSS (MiB) of the server and its worker processes (Linux /proc)."""
    out = []
    pids = [server_pid]
    try:
        for task in Path(f"/proc/{server_pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
        # The workers are the fork server's children.
        for pid in list(pids[1:]):
            for task in Path(f"/proc/{pid}/task").iterdir():
                pids += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        pass
    for pid in dict.fromkeys(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")[:80]
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        kb = lambda name: int(fields.get(name, "0 kB").split()[0])  # noqa: E731
        out.append({"pid": pid, "cmd": cmd, "rss_mib": round(kb("VmRSS") / 1024, 1), "peak_rss_mib": round(kb("VmHWM") / 1024, 1)})
    return out


def poll_health(port: int, stop: threading.Event, interval: float, out: List[float], statuses: List) -> None:
    client = Client(port, timeout=60)
    while not stop.is_set():
        status, seconds = client.request("GET", "/health")
        out.append(seconds)
        statuses.append(status)
        stop.wait(interval)
    client.close()


@app.command()
def main(
    pipeline: Optional[Path] = typer.Option(None, help="Pipeline to serve; default: one built on encoders/e5-small"),
    seconds: float = typer.Option(90.0, help="How long the mixed load runs"),
    large_clients: int = typer.Option(10),
    small_clients: int = typer.Option(40),
    small_pause: float = typer.Option(0.5, help="Seconds a small client waits between its requests"),
    timeout: float = typer.Option(60.0, help="The server's --timeout"),
    workers: int = typer.Option(2, help="The server's --workers"),
    pathological_chars: int = typer.Option(100_000, help="Length of the '(' run sent alone; 0 to skip"),
    out_name: str = typer.Option("serve-load", help="Results file name, under bench/results"),
    server_args: str = typer.Option("", help="More options for xlmr-ner-serve"),
):
    command_line = "python bench/serve_load.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    tmp = Path(tempfile.mkdtemp(prefix="serve-load-"))
    if pipeline is None:
        encoder = ROOT / "encoders" / "e5-small"
        if not encoder.exists():
            raise SystemExit(f"No --pipeline and no {encoder}: pass --pipeline")
        print(f"Building an e5-small pipeline in {tmp}")
        pipeline = untrained_pipeline(encoder, tmp / "pipeline")
        pipeline_name = "e5-small (encoders/e5-small), untrained xlmr_ner head"
    else:
        pipeline_name = str(pipeline)
    port = free_port()
    serve = [
        str(Path(sys.executable).parent / "xlmr-ner-serve"), str(pipeline), "--host", "127.0.0.1", "--port", str(port),
        "--timeout", str(timeout), "--workers", str(workers), "--log-file", str(tmp / "serve.log"), *shlex.split(server_args),
    ]
    output = (tmp / "server-output.txt").open("wb")
    server = subprocess.Popen(serve, stdout=output, stderr=subprocess.STDOUT)
    result: Dict = {"command": command_line, "pipeline": pipeline_name, "server": " ".join(serve[1:]).replace(str(tmp), "$TMP")}
    try:
        probe = Client(port, timeout=5)
        deadline = time.monotonic() + 600
        while probe.request("GET", "/health")[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit((tmp / "server-output.txt").read_text(errors="replace"))
            time.sleep(0.5)
        probe.close()

        # 1. The mix.
        stop = threading.Event()
        small, small_status, large, large_status, health, health_status = [], [], [], [], [], []
        large_chars: List[int] = []

        def large_client(i: int) -> None:
            rng, client = random.Random(i), Client(port, timeout=timeout + 30)
            while not stop.is_set():
                body, chars = large_body(rng)
                large_chars.append(chars)
                status, took = client.request("POST", "/ner", body)
                large.append(took)
                large_status.append(status)
            client.close()

        def small_client(i: int) -> None:
            rng, client = random.Random(1000 + i), Client(port, timeout=timeout + 30)
            stop.wait(rng.uniform(0, small_pause))
            while not stop.is_set():
                body = json.dumps({"text": rng.choice(SENTENCES)}, ensure_ascii=False).encode("utf-8")
                status, took = client.request("POST", "/ner", body)
                small.append(took)
                small_status.append(status)
                stop.wait(small_pause)
            client.close()

        threads = [threading.Thread(target=large_client, args=(i,)) for i in range(large_clients)]
        threads += [threading.Thread(target=small_client, args=(i,)) for i in range(small_clients)]
        threads.append(threading.Thread(target=poll_health, args=(port, stop, 0.25, health, health_status)))
        print(f"Mixed load for {seconds:g} s: {large_clients} large clients, {small_clients} small ones")
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join(timeout + 60)
        wall = time.perf_counter() - started
        result["mix"] = {
            "seconds": round(wall, 1),
            "large_clients": large_clients,
            "small_clients": small_clients,
            "small_pause_s": small_pause,
            "large_request_chars_mean": round(sum(large_chars) / max(1, len(large_chars))),
            "small_latency_ms": pct(small),
            "small_status": counts(small_status),
            "large_latency_ms": pct(large),
            "large_status": counts(large_status),
            "health_latency_ms": pct(health),
            "health_status": counts(health_status),
            "memory_after": worker_memory(server.pid),
        }
        print(json.dumps(result["mix"], indent=1))

        # 2. One pathological text, /health polled meanwhile.
        if pathological_chars:
            health, health_status = [], []
            stop = threading.Event()
            poller = threading.Thread(target=poll_health, args=(port, stop, 0.1, health, health_status))
            poller.start()
            body = json.dumps({"text": "(" * pathological_chars}).encode()
            status, took = Client(port, timeout=timeout + 60).request("POST", "/ner", body)
            small_after = Client(port, timeout=timeout + 60).request("POST", "/ner", json.dumps({"text": SENTENCES[0]}).encode())
            stop.set()
            poller.join()
            result["pathological"] = {
                "text": f"'(' * {pathological_chars}",
                "status": status,
                "seconds": round(took, 2),
                "timeout_s": timeout,
                "health_latency_ms": pct(health),
                "health_status": counts(health_status),
                "small_request_after": {"status": small_after[0], "ms": round(small_after[1] * 1000, 1)},
                "memory_after": worker_memory(server.pid),
            }
            print(json.dumps(result["pathological"], indent=1))
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        output.close()
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    write_results(RESULTS, out_name, result, markdown(result))
    print(f"Wrote {RESULTS / out_name}.json and .md")


def markdown(r: Dict) -> str:
    lines = [
        "# Serving under load (issue 17)",
        "",
        f"Command: `{r['command']}`",
        "",
        f"Pipeline: {r['pipeline']}. Server: `xlmr-ner-serve {r['server']}`.",
        f"Machine: {r['machine']['cpus']} CPUs, load average {r['machine']['load_average_at_end']} at the end, {r['machine']['platform']}.",
        "",
    ]
    mix = r.get("mix")
    if mix:
        lines += [
            f"## Mixed load, {mix['seconds']} s: {mix['large_clients']} clients sending 48 texts (~{mix['large_request_chars_mean']:,} characters) "
            f"back to back, {mix['small_clients']} sending one sentence every {mix['small_pause_s']} s",
            "",
            "| | n | p50 ms | p95 ms | p99 ms | max ms | statuses |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, key, status in (("small POST /ner", "small_latency_ms", "small_status"), ("large POST /ner", "large_latency_ms", "large_status"), ("GET /health", "health_latency_ms", "health_status")):
            p = mix[key]
            lines.append(f"| {name} | {p.get('n', 0)} | {p.get('p50', '')} | {p.get('p95', '')} | {p.get('p99', '')} | {p.get('max', '')} | {mix[status]} |")
        lines += ["", "Peak RSS (MiB) per process after the mix: " + ", ".join(f"{m['peak_rss_mib']} ({m['cmd'].split()[0].rsplit('/', 1)[-1] if m['cmd'] else m['pid']})" for m in mix["memory_after"]), ""]
    p = r.get("pathological")
    if p:
        h = p["health_latency_ms"]
        lines += [
            f"## {p['text']} alone, /health polled every 0.1 s",
            "",
            f"POST /ner answered {p['status']} after {p['seconds']} s (timeout {p['timeout_s']:g} s); /health: {h.get('n')} polls, "
            f"p50 {h.get('p50')} ms, p99 {h.get('p99')} ms, max {h.get('max')} ms, statuses {p['health_status']}; "
            f"a small request right after: {p['small_request_after']['status']} in {p['small_request_after']['ms']} ms.",
            "",
            "Peak RSS (MiB) per process after it: " + ", ".join(str(m["peak_rss_mib"]) for m in p["memory_after"]),
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    app()
