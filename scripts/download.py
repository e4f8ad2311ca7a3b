"""Download WikiANN or PAN-X from the Hugging Face Hub as IOB files.

python scripts/download.py wikiann de,en,es OUTPUT_DIR
"""
from pathlib import Path

import typer
from wasabi import msg

from spacy_xlmr_ner.io.hub import SOURCES, download
from spacy_xlmr_ner.io.langs import parse_langs

app = typer.Typer(add_completion=False)


@app.command()
def main(
    source: str = typer.Argument(..., help=f"One of: {', '.join(SOURCES)}"),
    langs: str = typer.Argument(..., help="Comma-separated language codes, e.g. de,en"),
    output_dir: Path = typer.Argument(..., help="Directory for {lang}/{train,dev,test}.iob"),
):
    """Download the train/validation/test splits of each language."""
    for lang in parse_langs(langs):
        try:
            paths = download(source, lang, output_dir)
        except (ImportError, ValueError) as err:
            msg.fail(str(err), exits=1)
        msg.good(f"{source} {lang}: " + ", ".join(str(path) for path in paths.values()))


if __name__ == "__main__":
    app()
