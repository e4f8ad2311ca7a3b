"""Write the model card (README.md, learning curve) into a trained pipeline
directory, for `spacy package` to ship.

python scripts/model_card.py training/xlmr_ner/model-best --metrics training/xlmr_ner/metrics.json --log training/xlmr_ner/train-log.jsonl --name xlmr_ner --version 0.0.1 --license MIT
"""
from pathlib import Path
from typing import Optional

import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.packaging import write_model_card

app = typer.Typer(add_completion=False)


@app.command()
def main(
    model: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline directory"),
    metrics: Optional[Path] = typer.Option(None, exists=True, help="Test scores JSON from scripts/evaluate.py"),
    log: Optional[Path] = typer.Option(None, exists=True, help="Training log (JSONL) for the learning curve"),
    data: Optional[str] = typer.Option(None, help="Description of the training data"),
    name: Optional[str] = typer.Option(None, help="Pipeline name for meta.json (the package is {lang}_{name})"),
    version: Optional[str] = typer.Option(None, help="Pipeline version for meta.json"),
    license: Optional[str] = typer.Option(None, help="Pipeline license for meta.json and LICENSE, e.g. MIT"),
):
    """Write MODEL/README.md (languages, labels, data, hyperparameters, metrics, curve), LICENSE and
    LICENSES_SOURCES, and update meta.json (name, version, license, languages, test scores)."""
    try:
        readme = write_model_card(
            model, srsly.read_json(metrics) if metrics else None, log, data=data,
            name=name, version=version, license=license,
        )
    except (ImportError, ValueError, KeyError) as err:
        msg.fail(f"Cannot write the model card: {err}", exits=1)
    msg.good(f"Wrote {readme}")


if __name__ == "__main__":
    app()
