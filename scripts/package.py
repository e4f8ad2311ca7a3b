"""Build a wheel of a trained pipeline with `spacy package`, its output in a
log file and a one-line summary on the console; optionally of a copy whose
encoder vocabulary is first trimmed to the training corpus (see trim.py).

python scripts/package.py training/xlmr_ner/model-best packages --name xlmr_ner --version 0.0.1 --log training/xlmr_ner/package.log
python scripts/package.py training/xlmr_ner/model-best packages --trim yes --trim-output training/xlmr_ner/model-trimmed
"""
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import msg

from spacy_xlmr_ner.extras import MissingExtra
from spacy_xlmr_ner.packaging import PackagingError, build_pipeline_wheel
from spacy_xlmr_ner.packaging.trim import DEFAULT_FREQUENT, trim_pipeline

app = typer.Typer(add_completion=False)


class Trim(str, Enum):
    no = "no"
    yes = "yes"
    half = "half"
    bf16 = "bf16"


HALF = {Trim.half: "float16", Trim.bf16: "bfloat16"}


@app.command()
def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline directory"),
    output_dir: Path = typer.Argument(..., help="Directory for the package directory"),
    log: Optional[Path] = typer.Option(None, help="File for the output of `spacy package` (default: OUTPUT_DIR/package.log)"),
    name: Optional[str] = typer.Option(None, help="Package name (default: the meta's)"),
    version: Optional[str] = typer.Option(None, help="Package version (default: the meta's)"),
    trim: Trim = typer.Option(
        Trim.no, help="Package a copy whose encoder keeps only the word pieces of the training corpus "
        "(yes), stored as float16 too (half) or as bfloat16 (bf16), or the pipeline as it is (no)"
    ),
    trim_output: Optional[Path] = typer.Option(None, help="Where the trimmed copy goes (default: MODEL-trimmed)"),
    trim_text: Optional[List[Path]] = typer.Option(None, help="More texts whose pieces the trimmed copy keeps; repeatable"),
    trim_frequent: int = typer.Option(
        DEFAULT_FREQUENT, min=0, help="The trimmed copy also keeps up to N of the encoder's most frequent pieces in the texts' "
        "characters (0: only the texts' own pieces)"
    ),
):
    """Run `spacy package MODEL OUTPUT_DIR --build wheel --force` quietly; on failure, print the end of its log."""
    log = log or output_dir / "package.log"
    try:
        if trim != Trim.no:
            trimmed = trim_output or model.with_name(model.name + "-trimmed")
            report = trim_pipeline(
                model, trimmed, extra_texts=trim_text or (), half=HALF.get(trim, False), frequent=trim_frequent,
                overwrite=True,
            )
            msg.info(f"Trimmed to {report.pieces_after:,} of {report.pieces_before:,} word pieces: {trimmed}")
            model = trimmed
        wheel = build_pipeline_wheel(model, output_dir, log, name=name, version=version)
    except (MissingExtra, ImportError, PackagingError, ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Built {wheel} (spacy package output in {log})")


if __name__ == "__main__":
    app()
