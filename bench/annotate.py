"""Batch annotation benchmark (issue 18): `xlmr-ner-annotate` with the local
engine and with Ray (1 and 2 single-threaded workers), side by side in one
run, on the German WikiANN test sentences repeated into a corpus of
`--docs` documents (JSONL). Each system runs as its own command, as a user
runs it; between them the machine does nothing else of ours. Writes
docs/s, words/s, ratios to the local engine, time outside the workers'
annotation, and peak RSS per worker to bench/results/annotate.{json,md}.

    python bench/annotate.py                       # an e5-small pipeline (untrained head) from encoders/e5-small
    python bench/annotate.py --pipeline training/xlmr_ner_demo/model-best --docs 50000

Not a test: it measures, on whatever machine runs it (the numbers say which).
"""
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Optional

import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # harness/ is the project's, not installed
from harness.benchmark.measure import untrained_pipeline, write_results  # noqa: E402
from harness.experiments.run import machine_info  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# (name, engine, workers, torch threads of the local engine or per Ray worker)
SYSTEMS = [
    ("local, 1 thread", "local", 1, 1),
    ("ray, 1 worker x 1 thread", "ray", 1, 1),
    ("ray, 2 workers x 1 thread", "ray", 2, 1),
    ("local, 2 threads", "local", 1, 2),
]
app = typer.Typer(add_completion=False)


def write_corpus(iob: Path, docs: int, out: Path) -> int:
    """Write `docs` JSONL rows from the sentences of `iob` (words joined by
    spaces), repeated as often as needed. RETURNS (int): Words in all."""
    from spacy_xlmr_ner.io.iob import read_iob

    sentences = [" ".join(s.words) for s in read_iob(iob).sentences]
    words = 0
    with out.open("w", encoding="utf-8") as lines:
        for i in range(docs):
            text = sentences[i % len(sentences)]
            words += len(text.split(" "))
            lines.write(json.dumps({"id": i, "text": text}, ensure_ascii=False) + "\n")
    return words


def run_system(pipeline: Path, corpus: Path, out: Path, engine: str, workers: int, threads: int, shard_size: int, batch_size: int) -> Dict:
    command = [
        sys.executable, "-m", "spacy_xlmr_ner.annotate.cli", str(pipeline), str(corpus), str(out),
        "--engine", engine, "--shard-size", str(shard_size), "--batch-size", str(batch_size), "--no-progress",
    ]
    command += ["--threads", str(threads)] if engine == "local" else ["--workers", str(workers), "--cpus-per-worker", str(threads)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{shlex.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    summary = json.loads((out / "_summary.json").read_text())
    return {"command": shlex.join(command), "wall_seconds": round(wall, 2), "summary": summary}


@app.command()
def main(
    pipeline: Optional[Path] = typer.Option(None, help="Pipeline to run (default: e5-small + untrained xlmr_ner head)"),
    encoder: Path = typer.Option(ROOT / "encoders" / "e5-small", help="Encoder for the default pipeline"),
    iob: Path = typer.Option(ROOT.parent / "shared" / "data" / "wikiann" / "de" / "test.iob", help="Sentences to annotate"),
    docs: int = typer.Option(20_000, min=1, help="Documents in the corpus (the sentences, repeated)"),
    shard_size: int = typer.Option(1000, min=1),
    batch_size: int = typer.Option(64, min=1),
    name: str = typer.Option("annotate", help="Results go to bench/results/NAME.{json,md}"),
):
    """Run every system on the same corpus and write the comparison."""
    with tempfile.TemporaryDirectory(prefix="bench-annotate-") as tmp:
        work = Path(tmp)
        described = str(pipeline) if pipeline is not None else f"{encoder.name} + untrained xlmr_ner head"
        if pipeline is None:
            pipeline = untrained_pipeline(encoder, work / "pipeline")
        corpus = work / "corpus.jsonl"
        words = write_corpus(iob, docs, corpus)
        runs = []
        for label, engine, workers, threads in SYSTEMS:
            print(f"[bench] {label} ...", flush=True)
            run = run_system(pipeline, corpus, work / label.replace(" ", "_").replace(",", ""), engine, workers, threads, shard_size, batch_size)
            summary = run["summary"]
            assert summary["documents"] == docs and summary["errors"] == 0, summary
            seconds = summary["seconds"]
            procs = summary["worker_processes"]
            # Time in the engine that no worker spent annotating a shard:
            # starting Ray and the actors, loading the pipeline, scheduling.
            busy = max(p["seconds"] for p in procs)
            runs.append({
                "system": label, "engine": engine, "workers": workers, "threads": threads,
                "seconds": seconds, "wall_seconds": run["wall_seconds"],
                "docs_per_second": round(docs / seconds, 1), "words_per_second": round(words / seconds, 1),
                "outside_annotation_seconds": round(seconds - busy, 2),
                "annotation_docs_per_second": round(docs / busy, 1),
                "peak_rss_mb_per_worker": [p["peak_rss_mb"] for p in procs],
                "worker_processes": len(procs),
                "command": run["command"],
            })
            print(f"[bench] {label}: {runs[-1]['docs_per_second']} docs/s", flush=True)
    base = runs[0]["docs_per_second"]
    for run in runs:
        run["ratio_to_local_1_thread"] = round(run["docs_per_second"] / base, 3)
    result = {
        "command": shlex.join([sys.executable.rsplit("/", 1)[-1], "bench/annotate.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "pipeline": described,
        "corpus": {"source": str(iob), "documents": docs, "words": words, "shard_size": shard_size, "batch_size": batch_size},
        "runs": runs,
    }
    write_results(RESULTS, name, result, markdown(result))
    print(markdown(result))


def markdown(result: Dict) -> str:
    corpus = result["corpus"]
    lines = [
        "# Batch annotation: local engine and Ray, side by side",
        "",
        f"Command: `{result['command']}` ({result['date']}, {result['machine']['cpu']}, "
        f"{result['machine']['cpu_count']} CPUs). Pipeline: {result['pipeline']}. Corpus: {corpus['documents']:,} "
        f"documents, {corpus['words']:,} words (German WikiANN test sentences, repeated); shards of "
        f"{corpus['shard_size']:,}, batches of {corpus['batch_size']}.",
        "",
        "| system | docs/s | words/s | ratio to local, 1 thread | engine s | outside annotation s | annotating docs/s | peak RSS per worker (MiB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in result["runs"]:
        rss = ", ".join(f"{x:,.0f}" for x in run["peak_rss_mb_per_worker"])
        lines.append(
            f"| {run['system']} | {run['docs_per_second']:,.1f} | {run['words_per_second']:,.0f} | "
            f"{run['ratio_to_local_1_thread']:.3f} | {run['seconds']:.1f} | {run['outside_annotation_seconds']:.1f} | "
            f"{run['annotation_docs_per_second']:,.1f} | {rss} |"
        )
    lines += [
        "",
        "docs/s: documents over the engine's time (from the start of the engine, pipeline and Ray start included,",
        "to the last shard written). Outside annotation: that time less the busiest worker's time in its shards",
        "(reading, annotating, writing). Annotating docs/s: documents over the busiest worker's shard time.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    app()
