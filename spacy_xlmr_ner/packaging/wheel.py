"""Build a pip-installable wheel of a trained pipeline with `spacy package`,
its setuptools output in a log file instead of on the console."""
import subprocess
import sys
from pathlib import Path
from typing import Optional, Union

import srsly

from ..extras import require_extra


class PackagingError(RuntimeError):
    """`spacy package` failed; the message ends with the end of its log."""


def build_pipeline_wheel(
    model_dir: Union[str, Path],
    output_dir: Union[str, Path],
    log_path: Union[str, Path],
    *,
    name: Optional[str] = None,
    version: Optional[str] = None,
    tail_lines: int = 40,
) -> Path:
    """Run `spacy package MODEL_DIR OUTPUT_DIR --build wheel --force`, with
    its output (stdout and stderr) written to `log_path`.

    model_dir (Union[str, Path]): The trained pipeline directory.
    output_dir (Union[str, Path]): The directory the package directory goes in.
    log_path (Union[str, Path]): The file for the output of `spacy package`.
    name (Optional[str]): The package's name, overriding the meta's.
    version (Optional[str]): The package's version, overriding the meta's.
    tail_lines (int): Lines of the log to put in the error on failure.
    RETURNS (Path): The wheel built.
    """
    require_extra("build", "package", "Building a wheel with `spacy package`")
    model_dir, output_dir, log_path = Path(model_dir), Path(output_dir), Path(log_path)
    meta = srsly.read_json(model_dir / "meta.json")
    name, version = name or meta["name"], version or meta["version"]
    cmd = [sys.executable, "-m", "spacy", "package", str(model_dir), str(output_dir), "--build", "wheel", "--force",
           "--name", name, "--version", version]
    output_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        run = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    package = f"{meta['lang']}_{name}-{version}"
    wheel = output_dir / package / "dist" / f"{package}-py3-none-any.whl"
    if run.returncode != 0 or not wheel.is_file():
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        what = f"exit status {run.returncode}" if run.returncode else f"no {wheel}"
        raise PackagingError(
            f"spacy package failed ({what}); the end of {log_path}:\n" + "\n".join(lines[-tail_lines:])
        )
    return wheel
