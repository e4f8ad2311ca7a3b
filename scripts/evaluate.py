"""Evaluate a trained pipeline on each language's test split.

python scripts/evaluate.py training/xlmr_ner/model-best corpus/spacy --langs de,en,ru --output metrics.json
"""
from pathlib import Path
from typing import Optional

import spacy
import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.evaluation import evaluate_per_language, format_results

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model: Path = typer.Argument(..., exists=True, help="Pipeline directory or package"),
    corpus: Path = typer.Argument(..., exists=True, help="Directory of {lang}/{split}.spacy files"),
    langs: str = typer.Option("all", help="Comma-separated languages, or 'all'"),
    split: str = typer.Option("test", help="Split to evaluate"),
    limit: int = typer.Option(0, min=0, help="First N sentences per language (0: all)"),
    output: Optional[Path] = typer.Option(None, help="Write the scores as JSON"),
    gpu_id: int = typer.Option(-1, help="GPU id, or -1 for CPU"),
):
    """Print P/R/F per language and per entity type."""
    if gpu_id >= 0:
        spacy.require_gpu(gpu_id)
    nlp = spacy.load(model)
    try:
        results = evaluate_per_language(nlp, corpus, langs, split=split, limit=limit)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    print(format_results(results))
    if limit:
        msg.info(f"Limited to the first {limit} sentences of each language")
    if output is not None:
        srsly.write_json(output, results)
        msg.good(f"Saved scores to {output}")


if __name__ == "__main__":
    app()
