"""Benchmark xlmr_ner and the span component xlmr_span_ner against spaCy's
transformer + ner, the reference recipe (AutoModelForTokenClassification,
first-subword labels) and, optionally, SpanMarker, on the same encoder, data and
budget, side by side in one run. Writes OUTPUT.json and OUTPUT.md."""
import shlex
import sys
from pathlib import Path

import srsly
import typer
from wasabi import msg

from spacy_xlmr_ner.io.langs import split_list

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.benchmark import Bench, BenchSettings, markdown_report  # noqa: E402
from harness.benchmark.run import DEFAULT_SYSTEMS, SYSTEMS  # noqa: E402


def main(
    encoder: str = typer.Argument(..., help="Encoder directory or Hugging Face name, used by every system"),
    iob_dir: Path = typer.Argument(..., help="Directory of {lang}/{train,dev,test}.iob files", exists=True),
    output: Path = typer.Argument(..., help="Results path without suffix: writes .json and .md"),
    work_dir: Path = typer.Option(Path("training/bench"), help="Models, logs and finished steps"),
    lang: str = typer.Option("de", help="Training language"),
    eval_langs: str = typer.Option("de,en,ru", help="Test languages (the training one and zero-shot ones)"),
    n_train: int = typer.Option(2000, help="Training sentences"),
    n_test: int = typer.Option(1000, help="Test sentences per language"),
    n_speed: int = typer.Option(1000, help="Raw texts to time"),
    epochs: float = typer.Option(2.0, help="Passes over the training sentences"),
    batch_size: int = typer.Option(16, help="Sentences per step, for every system"),
    systems: str = typer.Option(
        ",".join(DEFAULT_SYSTEMS), help=f"Systems to run, among {','.join(SYSTEMS)} (spanmarker needs span-marker)"
    ),
    xlmr_config: Path = typer.Option(Path("configs/cpu.cfg"), help="Config of xlmr_ner", exists=True),
    span_config: Path = typer.Option(Path("configs/cpu_spans.cfg"), help="Config of xlmr_span_ner", exists=True),
    spacy_config: Path = typer.Option(Path("bench/spacy_ner.cfg"), help="Config of spaCy's ner", exists=True),
    reference_lrs: str = typer.Option("5e-5,2e-4", help="Peak learning rates of the reference; its best counts"),
    threads: str = typer.Option("", help="Torch thread counts to time, e.g. 1,2; default 1 and all CPUs"),
    precisions: str = typer.Option("int8,bf16", help="Reduced CPU precisions to measure xlmr_ner at as well ('' for none)"),
    speed_passes: int = typer.Option(3, help="Rounds of speed measurements; each system's fastest counts"),
    spanmarker_lr: float = typer.Option(5e-5, help="SpanMarker's peak learning rate"),
    no_vector_speed: bool = typer.Option(False, help="Time xlmr_ner with its entity vectors off as well"),
) -> None:
    """Train all systems, measure them and write the comparison."""
    command = shlex.join(["python", *sys.argv])
    try:
        settings = BenchSettings(
            encoder=encoder, iob_dir=str(iob_dir), lang=lang, eval_langs=split_list(eval_langs), n_train=n_train,
            n_test=n_test, n_speed=n_speed, epochs=epochs, batch_size=batch_size, systems=split_list(systems),
            xlmr_config=str(xlmr_config), span_config=str(span_config), spacy_config=str(spacy_config),
            spanmarker_lr=spanmarker_lr, no_vector_speed=no_vector_speed,
            reference_lrs=[float(x) for x in split_list(reference_lrs)], precisions=split_list(precisions),
            speed_passes=speed_passes, **({"threads": [int(t) for t in split_list(threads)]} if threads else {}),
        )
        record = Bench(settings, work_dir).run(command=command)
    except (FileNotFoundError, RuntimeError, ValueError) as err:
        msg.fail("Benchmark stopped", str(err), exits=1)
    output.parent.mkdir(parents=True, exist_ok=True)
    srsly.write_json(output.with_suffix(".json"), record)
    output.with_suffix(".md").write_text(markdown_report(record) + "\n", encoding="utf-8")
    typer.echo(markdown_report(record))


if __name__ == "__main__":
    typer.run(main)
