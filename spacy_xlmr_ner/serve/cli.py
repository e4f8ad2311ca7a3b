"""The `xlmr-ner-serve` console script.

xlmr-ner-serve training/xlmr_ner_demo/model-best --port 8000
xlmr-ner-serve xx_xlmr_ner_demo --host 0.0.0.0
xlmr-ner-serve path/to/hf-ner-checkpoint --hf

Imports nothing of the `serve` extra at module level: without it, the command
stops with a message saying what to install.
"""
import copy
import ctypes
import logging.config
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Optional

import typer
from wasabi import msg

from . import SERVE_EXTRA, MissingServeExtra, import_serve_module
from .body import Limits

app = typer.Typer(add_completion=False)
DEFAULT_LIMITS = Limits()
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
MAX_HEADER_BYTES = 16 * 1024


def _terminate_self(*_: Any) -> None:
    # SIGTERM is what uvicorn shuts down cleanly on (and, before uvicorn
    # runs, what ends the process at once).
    os.kill(os.getpid(), signal.SIGTERM)


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Get SIGTERM when the process that started this one ends, however it
    ends (SIGKILL included). `spacy project run` starts each script line as a
    child process and does not stop it when it is stopped itself, so without
    this the server would keep its port.

    On Linux the kernel sends the signal (`prctl(PR_SET_PDEATHSIG)`);
    elsewhere a daemon thread checks every `poll_seconds` whether the parent
    process changed.

    poll_seconds (float): How often the fallback thread checks.
    """
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0:
                # The parent may have ended before prctl took effect.
                if os.getppid() != parent:
                    _terminate_self()
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_seconds)
        _terminate_self()

    threading.Thread(target=watch, name="xlmr-ner-parent-watch", daemon=True).start()


def stop_on_hangup() -> None:
    """Shut the server down cleanly on SIGHUP (the terminal closed), as on
    SIGTERM, unless SIGHUP is ignored (`nohup`)."""
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        signal.signal(signal.SIGHUP, _terminate_self)


def logging_config(log_file: Optional[Path]) -> Dict[str, Any]:
    """uvicorn's logging set-up, plus this package's logger, and everything
    also appended to `log_file` when one is given.

    log_file (Optional[Path]): A file for the server and access log.
    RETURNS (Dict[str, Any]): A `logging.config.dictConfig` dictionary.
    """
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["spacy_xlmr_ner"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        config["formatters"]["file"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
        config["handlers"]["file"] = {
            "class": "logging.FileHandler",
            "filename": str(log_file),
            "encoding": "utf-8",
            "formatter": "file",
        }
        for name in ("uvicorn", "uvicorn.access", "spacy_xlmr_ner"):
            config["loggers"][name]["handlers"].append("file")
    return config


@app.command()
def serve(
    pipeline: str = typer.Argument(
        ..., help="Pipeline directory or installed package name (with --hf: a Hugging Face checkpoint)"
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)"),
    port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on"),
    hf: bool = typer.Option(
        False, "--hf", help="PIPELINE is a Hugging Face token-classification checkpoint (directory or hub name)"
    ),
    max_bytes: int = typer.Option(DEFAULT_LIMITS.max_bytes, min=1, help="Largest request body, in bytes (413 above)"),
    max_texts: int = typer.Option(DEFAULT_LIMITS.max_texts, min=1, help="Most texts per request (422 above)"),
    max_chars: int = typer.Option(DEFAULT_LIMITS.max_chars, min=1, help="Longest text, in characters (422 above)"),
    timeout: float = typer.Option(DEFAULT_LIMITS.timeout, min=0.001, help="Seconds to receive a request body (408 after), and again to process it, queueing included (504 after)"),
    batch_size: int = typer.Option(16, min=1, help="Most texts per batch (nlp.pipe call)"),
    batch_chars: int = typer.Option(20_000, min=1, help="Most characters per batch (a longer text goes alone): bounds a worker's memory"),
    workers: int = typer.Option(2, min=1, help="Worker processes, each with the pipeline loaded; with 2 or more, the first serves only small requests"),
    small_chars: int = typer.Option(2_000, min=0, help="A request of at most this many characters in all is small: its batches go first"),
    threads: int = typer.Option(0, min=0, help="torch threads per worker; 0: the CPUs shared out among the workers"),
    keep_alive: float = typer.Option(5.0, min=0.1, help="Seconds an idle keep-alive connection is kept"),
    header_timeout: float = typer.Option(10.0, min=0.1, help="Seconds a connection may take to send a request's headers"),
    limit_concurrency: int = typer.Option(256, min=1, help="Most connections and requests at once (503 above)"),
    gpu_id: int = typer.Option(-1, help="GPU to run the pipeline on; -1 for CPU"),
    log_file: Optional[Path] = typer.Option(None, help="Also append the server and access log to this file"),
    exit_with_parent_: bool = typer.Option(
        False,
        "--exit-with-parent",
        help="Stop when the process that started the server ends, even if it is killed (what `spacy project run serve` uses)",
    ),
):
    """Serve a pipeline: a demo page at /, entities at POST /ner, and GET
    /health and /meta (docs at /docs)."""
    if exit_with_parent_:
        exit_with_parent()
    try:
        create_app = import_serve_module(".app").create_app
        uvicorn = import_serve_module("uvicorn")
    except MissingServeExtra as err:
        # The command on a line of its own: wasabi would wrap it mid-way.
        msg.fail(f"Not installed: {err.name}, from the serve extra. Install it with:")
        print(f"    {SERVE_EXTRA}\n")
        sys.exit(1)
    log_config = logging_config(log_file)
    logging.config.dictConfig(log_config)
    msg.info(f"Loading {pipeline} in {workers} worker process(es)")
    try:
        api = create_app(
            pipeline,
            max_bytes=max_bytes,
            max_texts=max_texts,
            max_chars=max_chars,
            timeout=timeout,
            batch_size=batch_size,
            hf=hf,
            workers=workers,
            batch_chars=batch_chars,
            small_chars=small_chars,
            threads=threads,
            gpu_id=gpu_id,
        )
    except (OSError, ValueError) as err:
        msg.fail(f"Cannot load {pipeline}", str(err), exits=1)
    stop_on_hangup()
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_config=log_config,
        **server_options(keep_alive=keep_alive, header_timeout=header_timeout, limit_concurrency=limit_concurrency),
    )


def server_options(*, keep_alive: float = 5.0, header_timeout: float = 10.0, limit_concurrency: int = 256) -> Dict[str, Any]:
    """uvicorn settings that keep idle or slow clients from holding the
    server: idle keep-alive connections closed after `keep_alive` seconds, a
    request's headers due within `header_timeout` seconds of the connection
    (or of the last response), headers of at most 16 KiB (h11's incomplete
    event size), at most `limit_concurrency` connections and requests at once.

    RETURNS (Dict[str, Any]): Keyword arguments for `uvicorn.run` / `uvicorn.Config`.
    """
    from .protocol import protocol_with_header_timeout

    return {
        "http": protocol_with_header_timeout(header_timeout),
        "timeout_keep_alive": keep_alive,
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "limit_concurrency": limit_concurrency,
    }


def main() -> None:
    """Entry point of the `xlmr-ner-serve` console script."""
    app()


if __name__ == "__main__":
    main()
