"""Measure entity vectors (nearest-neighbour type accuracy, surface-string
retrieval MRR) of trained pipelines' encoders and of the untrained encoder,
on gold entities and on each component's own predictions. Writes OUTPUT.json
and OUTPUT.md."""
import shlex
import sys
from pathlib import Path

import srsly
import typer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.benchmark.entity_vectors import UNTRAINED, markdown_report, measure  # noqa: E402
from spacy_xlmr_ner.io.langs import split_list  # noqa: E402
from spacy_xlmr_ner.io.readers import read_gold_docs  # noqa: E402


def main(
    encoder: str = typer.Argument(..., help="The untrained encoder (directory or name)"),
    iob_dir: Path = typer.Argument(..., help="Directory of {lang}/test.iob files", exists=True),
    output: Path = typer.Argument(..., help="Results path without suffix: writes .json and .md"),
    pipelines: str = typer.Option("", help="Trained pipelines as NAME=DIR, comma-separated"),
    lang: str = typer.Option("de", help="Test language"),
    limit: int = typer.Option(1000, help="First N test sentences"),
) -> None:
    """Entity-vector measurements for each pipeline and the untrained encoder."""
    import spacy

    named = dict(item.split("=", 1) for item in split_list(pipelines))
    gold = read_gold_docs(iob_dir, spacy.blank("xx").vocab, split="test", langs=[lang], limit=limit)[lang]
    results = measure({**named, UNTRAINED: encoder}, gold)
    record = {
        "settings": {"encoder": encoder, "iob_dir": str(iob_dir), "lang": lang, "limit": limit, "pipelines": named},
        "command": shlex.join(["python", *sys.argv]),
        "results": results,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output.with_suffix(".json"), record)
    output.with_suffix(".md").write_text(markdown_report(record) + "\n", encoding="utf-8")
    typer.echo(markdown_report(record))


if __name__ == "__main__":
    typer.run(main)
