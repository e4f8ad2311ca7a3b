"""The `xlmr-ner-serve` command: what it says without the serve extra or
without a pipeline, and how it stops (with the process that started it, on
SIGHUP). The extra is hidden from a subprocess by `sys.modules["fastapi"] =
None`, so these run whether it is installed or not."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers.serve import blank_pipeline, console_script, free_port, get_json, needs_serve_extra
from spacy_xlmr_ner.serve import SERVE_EXTRA
from spacy_xlmr_ner.serve.cli import app as cli_app

# A bound on waiting for something that should happen, so that a broken test
# fails instead of hanging; never a measurement.
WAIT_S = 180
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="signals and parent processes as POSIX has them")


def without_fastapi(code: str) -> str:
    """Python code that runs `code` as if the serve extra were not installed."""
    return f"import sys\nsys.modules['fastapi'] = sys.modules['uvicorn'] = None\n{code}"


@pytest.mark.parametrize(
    "code",
    [
        # What the console script's wrapper does.
        "from spacy_xlmr_ner.serve.cli import main\nsys.argv = ['xlmr-ner-serve', sys.argv[1]]\nsys.exit(main())",
        # python -m spacy_xlmr_ner.serve
        "import runpy\nsys.argv = ['serve', sys.argv[1]]\nrunpy.run_module('spacy_xlmr_ner.serve', run_name='__main__')",
    ],
    ids=["console-script", "python-m"],
)
def test_command_without_the_serve_extra_says_what_to_install(tmp_path, code):
    pipeline = blank_pipeline(tmp_path / "pipeline")
    result = subprocess.run(
        [sys.executable, "-c", without_fastapi(code), str(pipeline)], capture_output=True, text=True, timeout=WAIT_S
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Not installed: fastapi, from the serve extra. Install it with:" in output
    assert f"\n    {SERVE_EXTRA}\n" in output
    assert "Traceback" not in output
    # Not loaded: the check comes first.
    assert "Loading" not in output


def test_help_without_the_serve_extra():
    code = "from spacy_xlmr_ner.serve.cli import main\nsys.argv = ['xlmr-ner-serve', '--help']\nmain()"
    result = subprocess.run([sys.executable, "-c", without_fastapi(code)], capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stderr
    assert "--exit-with-parent" in result.stdout


def test_create_app_without_the_serve_extra(monkeypatch):
    monkeypatch.delitem(sys.modules, "spacy_xlmr_ner.serve.app", raising=False)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(ImportError, match=re.escape(SERVE_EXTRA)):
        from spacy_xlmr_ner.serve import create_app  # noqa: F401
    # What needs no extra still imports.
    from spacy_xlmr_ner.serve import Limits

    assert Limits().max_texts > 0


def test_console_script_is_installed():
    result = subprocess.run([console_script(), "--help"], capture_output=True, text=True, timeout=WAIT_S)
    assert result.returncode == 0, result.stderr
    for option in ("PIPELINE", "--host", "--port", "--max-bytes", "--max-texts", "--max-chars", "--timeout", "--hf"):
        assert option in result.stdout


def test_missing_pipeline_is_named(tmp_path):
    needs_serve_extra()
    missing = tmp_path / "training" / "nothing-here" / "model-best"
    result = CliRunner().invoke(cli_app, [str(missing), "--port", "0"])
    assert result.exit_code == 1
    assert f"Cannot load {missing}" in " ".join(result.output.split())
    assert isinstance(result.exception, SystemExit)


def process_ended(pid: int) -> bool:
    """Whether a process that is not this one's child has exited (a zombie
    nobody reaps counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return not stat.parent.exists()


def port_closed(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {WAIT_S} s"
        time.sleep(0.2)


def server_pid(log_file: Path) -> int:
    """The pid uvicorn logs when it starts."""
    match = re.search(r"Started server process \[(\d+)\]", log_file.read_text(encoding="utf-8"))
    assert match, log_file.read_text(encoding="utf-8")
    return int(match.group(1))


def answers(port: int) -> bool:
    try:
        return get_json(f"http://127.0.0.1:{port}/health", timeout=5)[0] == 200
    except OSError:
        return False


# What `spacy project run` does with a script line: weasel's run_command, a
# plain subprocess.run.
WEASEL_PARENT = "import sys\nfrom weasel.util import run_command\nrun_command(sys.argv[1:])"


@POSIX_ONLY
def test_server_stops_when_the_process_that_started_it_is_killed(tmp_path):
    needs_serve_extra()
    pipeline = blank_pipeline(tmp_path / "pipeline")
    port, log_file = free_port(), tmp_path / "serve.log"
    serve = [console_script(), str(pipeline), "--port", str(port), "--log-file", str(log_file), "--exit-with-parent"]
    with (tmp_path / "output.txt").open("wb") as out:
        parent = subprocess.Popen([sys.executable, "-c", WEASEL_PARENT, *serve], stdout=out, stderr=subprocess.STDOUT)
    pid = None
    try:
        wait_until(lambda: answers(port) or parent.poll() is not None, "the server never answered")
        assert parent.poll() is None, (tmp_path / "output.txt").read_text(errors="replace")
        pid = server_pid(log_file)
        parent.kill()  # as weasel is when its terminal or a supervisor kills it
        parent.wait()
        wait_until(lambda: process_ended(pid), "the server outlived its parent")
        assert port_closed(port)
        # Stopped as on SIGTERM: uvicorn shut down cleanly.
        assert "Finished server process" in log_file.read_text(encoding="utf-8")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if pid is not None and not process_ended(pid):
            os.kill(pid, signal.SIGKILL)


# A child that calls exit_with_parent as if on sys.argv[1]'s platform, then
# waits; and a parent that starts it, prints its pid and waits for it.
CHILD = """import sys, time
from spacy_xlmr_ner.serve.cli import exit_with_parent
real, sys.platform = sys.platform, sys.argv[1]
exit_with_parent(poll_seconds=0.1)
sys.platform = real
print("ready", flush=True)
time.sleep(600)
"""
PARENT = """import subprocess, sys
with open(sys.argv[2], "wb") as out:
    child = subprocess.Popen([sys.executable, "-c", sys.argv[3], sys.argv[1]], stdout=out)
print(child.pid, flush=True)
child.wait()
"""


@POSIX_ONLY
@pytest.mark.parametrize(
    "platform",
    [
        pytest.param("linux", marks=pytest.mark.skipif(sys.platform != "linux", reason="prctl is Linux's")),
        "darwin",  # no prctl: the thread watching the parent's pid
    ],
)
def test_exit_with_parent(tmp_path, platform):
    output = tmp_path / "child.txt"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, platform, str(output), CHILD], stdout=subprocess.PIPE, text=True
    )
    pid = None
    try:
        pid = int(parent.stdout.readline())
        wait_until(lambda: output.exists() and output.read_text() == "ready\n" or process_ended(pid), "never ready")
        assert not process_ended(pid)
        parent.kill()
        parent.wait()
        wait_until(lambda: process_ended(pid), "the child outlived its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        if pid is not None and not process_ended(pid):
            os.kill(pid, signal.SIGKILL)


@POSIX_ONLY
def test_hangup_shuts_the_server_down_cleanly(tmp_path):
    needs_serve_extra()
    pipeline = blank_pipeline(tmp_path / "pipeline")
    port, log_file = free_port(), tmp_path / "serve.log"
    with (tmp_path / "output.txt").open("wb") as out:
        server = subprocess.Popen(
            [console_script(), str(pipeline), "--port", str(port), "--log-file", str(log_file)],
            stdout=out,
            stderr=subprocess.STDOUT,
            # A suite run under `nohup` would pass on SIGHUP ignored, which the
            # server (rightly) keeps ignoring.
            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL),
        )
    try:
        wait_until(lambda: answers(port) or server.poll() is not None, "the server never answered")
        assert server.poll() is None, (tmp_path / "output.txt").read_text(errors="replace")
        server.send_signal(signal.SIGHUP)
        server.wait(WAIT_S)
        assert port_closed(port)
        log = log_file.read_text(encoding="utf-8")
        assert "Shutting down" in log and "Finished server process" in log
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
