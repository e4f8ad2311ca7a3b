"""Trim a trained pipeline's encoder vocabulary to the word pieces of some
texts (by default its training corpus), for a smaller pipeline and wheel.

python scripts/trim.py training/xlmr_ner/model-best training/xlmr_ner/model-trimmed
python scripts/trim.py training/xlmr_ner/model-best trimmed --corpus corpus/spacy/de/train.spacy --extra-text de.txt --half
python scripts/trim.py training/xlmr_ner/model-best trimmed --frequent 50000 --bf16
"""
from pathlib import Path
from typing import List, Optional

import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.extras import MissingExtra
from spacy_xlmr_ner.packaging.trim import DEFAULT_FREQUENT, trim_pipeline

app = typer.Typer(add_completion=False)


@app.command()
def main(
    pipeline: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline directory"),
    output: Path = typer.Argument(..., help="Directory for the trimmed pipeline"),
    corpus: Optional[List[Path]] = typer.Option(
        None, help="Texts whose pieces to keep: .spacy file or directory, or text file (a document per line); "
        "repeat for more (default: the pipeline's training corpus, [corpora.train] of its config)"
    ),
    extra_text: Optional[List[Path]] = typer.Option(None, help="More texts whose pieces to keep (same kinds); repeatable"),
    check: Optional[List[Path]] = typer.Option(None, help="Held-out texts: report the share of their pieces that change"),
    half: bool = typer.Option(False, "--half", help="Store the encoder's weights as float16 (loaded back as float32)"),
    bf16: bool = typer.Option(
        False, "--bf16", help="Store the encoder's weights as bfloat16: used as stored at precision bf16 (the least memory)"
    ),
    frequent: int = typer.Option(
        DEFAULT_FREQUENT, min=0, help="Also keep up to N of the encoder's most frequent pieces written in the texts' characters, "
        "so that words the texts lack are cut less finely (0: only the texts' own pieces)"
    ),
    keep_strings: bool = typer.Option(
        False, "--keep-strings", help="Keep every string of spaCy's string store (by default only labels and vector keys)"
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUTPUT if it exists"),
    report: Optional[Path] = typer.Option(None, help="Write the report as JSON"),
):
    """Keep the encoder's word pieces that the texts use, every single-character piece and the special tokens;
    rewrite the tokenizer and embedding table, and save the pipeline to OUTPUT."""
    if half and bf16:
        msg.fail("Choose one of --half and --bf16", exits=1)
    try:
        result = trim_pipeline(
            pipeline, output, corpus or (), extra_texts=extra_text or (), check=check or (),
            half="bfloat16" if bf16 else half, frequent=frequent,
            prune_strings=not keep_strings, overwrite=overwrite,
        )
    except (MissingExtra, ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    msg.table(result.summary(), header=("", str(output)), divider=True)
    if report is not None:
        srsly.write_json(report, result.to_dict())
        msg.good(f"Saved the report to {report}")
    msg.good(f"Saved the trimmed pipeline to {output}")


if __name__ == "__main__":
    app()
