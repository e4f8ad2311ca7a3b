"""Build a wheel of a trained pipeline with `spacy package`, its output in a
log file and a one-line summary on the console.

python scripts/package.py training/xlmr_ner/model-best packages --name xlmr_ner --version 0.0.1 --log training/xlmr_ner/package.log
"""
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from spacy_xlmr_ner.packaging import PackagingError, build_pipeline_wheel

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline directory"),
    output_dir: Path = typer.Argument(..., help="Directory for the package directory"),
    log: Optional[Path] = typer.Option(None, help="File for the output of `spacy package` (default: OUTPUT_DIR/package.log)"),
    name: Optional[str] = typer.Option(None, help="Package name (default: the meta's)"),
    version: Optional[str] = typer.Option(None, help="Package version (default: the meta's)"),
):
    """Run `spacy package MODEL OUTPUT_DIR --build wheel --force` quietly; on failure, print the end of its log."""
    log = log or output_dir / "package.log"
    try:
        wheel = build_pipeline_wheel(model, output_dir, log, name=name, version=version)
    except (ImportError, PackagingError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Built {wheel} (spacy package output in {log})")


if __name__ == "__main__":
    app()
