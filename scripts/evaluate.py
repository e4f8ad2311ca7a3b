"""Evaluate a trained pipeline on DocBin or IOB test data, per language and entity type.

python scripts/evaluate.py training/xlmr_ner/model-best corpus/spacy --langs de,en,ru --output metrics.json
python scripts/evaluate.py training/xlmr_ner/model-best ../data/wikiann --langs de --limit 1000 --markdown de.md
python scripts/evaluate.py xx_xlmr_ner other-domain/test.iob --label-map PERSON=PER,GPE=LOC
"""
from pathlib import Path
from typing import Optional

import spacy
import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.evaluation import evaluate_per_language, format_results, markdown_results
from spacy_xlmr_ner.io.iob import IOBFormatError
from spacy_xlmr_ner.io.label_map import load_label_map

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    test_data: Path = typer.Argument(
        ..., exists=True, help="Directory of {lang}/{split}.spacy or .iob files, or one .spacy or IOB file"
    ),
    langs: str = typer.Option("all", help="Comma-separated languages, or 'all'"),
    split: str = typer.Option("test", help="Split to evaluate"),
    limit: int = typer.Option(0, min=0, help="First N sentences per language (0: all)"),
    label_map: Optional[str] = typer.Option(None, help="Rename gold labels: JSON file or SRC=DST,... (DST 'O' drops)"),
    output: Optional[Path] = typer.Option(None, help="Write the scores as JSON"),
    markdown: Optional[Path] = typer.Option(None, help="Write the tables (per language, per type, confusion) as Markdown"),
    gpu_id: int = typer.Option(-1, help="GPU id, or -1 for CPU"),
):
    """Print P/R/F (strict, as seqeval), type-ignored F and token accuracy per language, and F per type."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    try:
        mapping = load_label_map(label_map)
        nlp = spacy.load(model)
        results = evaluate_per_language(nlp, test_data, langs, split=split, limit=limit, label_map=mapping)
    except (ValueError, IOBFormatError, OSError) as err:
        msg.fail(str(err), exits=1)
    print(format_results(results))
    if limit:
        msg.info(f"Limited to the first {limit} sentences of each language")
    if output is not None:
        srsly.write_json(output, results)
        msg.good(f"Saved scores to {output}")
    if markdown is not None:
        markdown.write_text(markdown_results(results) + "\n", encoding="utf-8")
        msg.good(f"Saved tables to {markdown}")


if __name__ == "__main__":
    app()
