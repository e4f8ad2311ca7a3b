"""The `xlmr-ner-annotate` console script.

xlmr-ner-annotate training/xlmr_ner_demo/model-best docs.jsonl annotated/
xlmr-ner-annotate xx_xlmr_ner_demo "crawl/*.parquet" annotated/ --engine ray --workers 4
xlmr-ner-annotate xx_xlmr_ner_demo texts.txt annotated/ --format jsonl --with-text
"""
from pathlib import Path
from typing import Any, Dict, List, Optional

import typer
from tqdm import tqdm
from wasabi import msg

from ..extras import MissingExtra
from .inputs import InputError
from .outputs import SUMMARY, OutputError
from .run import PipelineNotFound, annotate

app = typer.Typer(add_completion=False)


@app.command()
def main(
    pipeline: str = typer.Argument(..., help="Pipeline directory or installed package name"),
    input: str = typer.Argument(..., help="Input file, directory (its .jsonl, .parquet and .txt files) or glob pattern (quoted)"),
    output: Path = typer.Argument(..., help="Output directory: shards, _manifest.json, _summary.json"),
    engine: str = typer.Option("local", help="local (this process) or ray"),
    output_format: str = typer.Option("parquet", "--format", help="Output shards: parquet or jsonl"),
    input_format: Optional[str] = typer.Option(None, help="jsonl, parquet or text for every input (default: by suffix)"),
    text_field: str = typer.Option("text", help="Field or column with the text (JSONL, Parquet)"),
    id_field: str = typer.Option("id", help="Field or column with the id (JSONL, Parquet); text files: line numbers"),
    with_text: bool = typer.Option(False, "--with-text", help="Output rows have the text too"),
    vectors: bool = typer.Option(False, "--vectors", help="Output entities have their entity vectors"),
    shard_size: int = typer.Option(5000, min=1, help="Most rows per output shard (the unit of resume and retry)"),
    batch_size: int = typer.Option(64, min=1, help="Texts per nlp.pipe batch"),
    precision: str = typer.Option("fp32", help="fp32, bf16 or int8"),
    threads: int = typer.Option(0, min=0, help="torch threads (local; ray: default the worker's CPUs); 0: torch's default"),
    gpu_id: int = typer.Option(-1, help="GPU for the local engine; -1 for CPU"),
    workers: int = typer.Option(1, min=1, help="Ray workers (actors), each with the pipeline loaded once"),
    cpus_per_worker: float = typer.Option(1.0, min=0.0, help="CPUs per Ray worker"),
    gpus_per_worker: float = typer.Option(0.0, min=0.0, help="GPUs per Ray worker (above 0: it runs on its GPU)"),
    address: Optional[str] = typer.Option(None, help="Ray cluster to join (e.g. auto); default: a local Ray instance"),
    imports: List[str] = typer.Option([], "--import", help="Module to import first (where custom components are registered); repeatable"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the output of a different run in OUTPUT"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar"),
):
    """Annotate every input row with the pipeline's entities: one output row
    per input row (id, source, row, entities, error), in shards. Rerun the
    same command to finish an interrupted run."""
    bar: Dict[str, Any] = {}

    def on_start(plan: Dict[str, int]) -> None:
        done = plan["shards"] - plan["shards_todo"]
        if done:
            msg.info(f"{done} of {plan['shards']} shards are already in {output}: skipping them")
        if plan["shards_todo"]:
            shards = "1 shard" if plan["shards_todo"] == 1 else f"{plan['shards_todo']} shards"
            msg.info(f"Annotating {plan['documents_todo']:,} documents in {shards} ({engine} engine)")
        bar["bar"] = tqdm(
            total=plan["documents_todo"], unit="doc", disable=not progress or not plan["shards_todo"], dynamic_ncols=True
        )

    def on_docs(count: int) -> None:
        bar["bar"].update(count)

    try:
        summary = annotate(
            pipeline, input, output, engine=engine, input_format=input_format, output_format=output_format,
            text_field=text_field, id_field=id_field, with_text=with_text, vectors=vectors, shard_size=shard_size,
            batch_size=batch_size, precision=precision, threads=threads, gpu_id=gpu_id, workers=workers,
            cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, address=address, imports=imports,
            overwrite=overwrite, on_start=on_start, on_docs=on_docs,
        )
    except (InputError, OutputError, PipelineNotFound, MissingExtra, ValueError) as err:
        msg.fail(str(err), exits=1)
    finally:
        if "bar" in bar:
            bar["bar"].close()
    rate = summary["docs_per_second"]
    msg.good(
        f"{summary['documents']:,} documents in {output}: {sum(summary['entities'].values()):,} entities, "
        f"{summary['errors']:,} errors" + (f"; {rate:,.1f} docs/s" if rate else "")
    )
    if summary["entities"]:
        msg.text(", ".join(f"{label} {count:,}" for label, count in summary["entities"].items()))
    for example in summary["error_examples"][:5]:
        msg.warn(f"{example['source']}: {example['error']}")
    msg.text(f"Summary: {output / SUMMARY}")


def main_cli() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main_cli()
