"""Write the results document from the experiments' records.

python scripts/report.py metrics docs/results.md
"""
import sys
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.experiments.results import write_results_doc  # noqa: E402

app = typer.Typer(add_completion=False)


@app.command()
def main(
    metrics: Path = typer.Argument(..., exists=True, file_okay=False, help="Directory of experiment records"),
    output: Path = typer.Argument(..., help="Markdown file to write (figures go to img/ beside it)"),
    title: str = typer.Option("Results", help="Title of the document"),
    intro: Optional[Path] = typer.Option(None, exists=True, help="Markdown file to put after the title"),
):
    """Tables, heatmap, learning curves, commands and times of every run in METRICS."""
    try:
        text = intro.read_text(encoding="utf-8") if intro else None
        path = write_results_doc(metrics, output, title=title, intro=text)
    except (ImportError, ValueError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Wrote {path}")


if __name__ == "__main__":
    app()
