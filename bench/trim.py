"""Vocabulary trimming benchmark (issue 19): a trained pipeline against its
trimmed copies, side by side in one run.

Variants: the pipeline as trained, and each `--variant`: trimmed to some
texts (by default its training corpus), optionally stored as float16 too
(`--half-of`), or stored as bfloat16 and run at precision bf16 (`--bf16-of`;
for "untrimmed": the pipeline as trained, run at precision bf16); a variant
trimmed to fewer languages shows what the languages left out lose. For each:
F1 on the test split of every language (first `--n-test` sentences), the
share of each test set's word pieces the trimmed encoder cuts differently,
the wheel's size (`spacy package`), and `spacy.load`'s time and the
process's peak RSS after `spacy.load`, after a first doc and after
`--n-serve` test sentences per language, measured in a fresh process per
load, the variants in turns for `--rounds` rounds (median kept).
Writes bench/results/trim-NAME.{json,md}.

    python bench/trim.py training/experiments/all-langs/model-best corpus/experiments --name all-langs \\
        --langs de,en,es,nl,pl,ru --variant "trimmed=" --variant "de only=corpus/experiments/de/train.spacy" \\
        --half-of trimmed --bf16-of trimmed --bf16-of untrimmed

Not a test: it measures, on whatever machine runs it (the numbers say which).
"""
import gc
import json
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import typer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # harness/ is the project's, not installed
from harness.benchmark.measure import write_results  # noqa: E402
from harness.experiments.run import machine_info  # noqa: E402

RESULTS = ROOT / "bench" / "results"
# Peak RSS from VmHWM: ru_maxrss would carry over the parent's peak across
# fork and exec.
LOAD = """
import json, sys, time
import spacy, spacy_xlmr_ner
def peak_mb():
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
imported = peak_mb()
start = time.perf_counter()
nlp = spacy.load(sys.argv[1], config={"components": {"transformer": {"precision": sys.argv[2]}}})
seconds = time.perf_counter() - start
loaded = peak_mb()
doc = nlp("Angela Merkel besuchte Berlin.")
first_doc = peak_mb()
from spacy.tokens import DocBin
for path in sys.argv[4:]:
    docs = DocBin().from_disk(path).get_docs(nlp.vocab)
    texts = [d.text for _, d in zip(range(int(sys.argv[3])), docs)]
    for _ in nlp.pipe(texts):
        pass
print(json.dumps({"seconds": seconds, "import_peak_rss_mb": imported, "load_peak_rss_mb": loaded,
                  "first_doc_peak_rss_mb": first_doc, "served_peak_rss_mb": peak_mb()}))
"""
# A blank pipeline of the pipeline's language loads every installed package's
# spaCy entry points (span_marker's, where installed, imports `datasets`):
# memory a trained pipeline's own weights and tokenizer do not account for.
BLANK = """
import json, sys
import spacy, spacy_xlmr_ner
nlp = spacy.blank(sys.argv[1])
line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"blank_peak_rss_mb": int(line.split()[1]) / 1024}))
"""
app = typer.Typer(add_completion=False)


def load_cost(python: str, pipeline: Path, precision: str, n_serve: int, serve_files: List[Path]) -> Dict[str, float]:
    args = [str(pipeline), precision, str(n_serve), *map(str, serve_files)]
    done = subprocess.run([python, "-c", LOAD, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Loading {pipeline} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def slug(label: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in label.lower()).split())


def test_files(corpus: Path, langs: List[str]) -> Dict[str, Path]:
    return {lang: corpus / lang / "test.spacy" for lang in langs}


@app.command()
def main(
    pipeline: Path = typer.Argument(..., exists=True, file_okay=False, help="Trained pipeline"),
    corpus: Path = typer.Argument(..., exists=True, file_okay=False, help="Directory of {lang}/test.spacy"),
    name: str = typer.Option(..., help="Results go to bench/results/trim-NAME.{json,md}"),
    langs: str = typer.Option(..., help="Comma-separated test languages"),
    variant: Optional[List[str]] = typer.Option(
        None, help="LABEL=PATH,PATH...: a trimmed variant and the texts it keeps the pieces of (none after '=': "
        "the training corpus); repeatable (default: 'trimmed=')"
    ),
    frequent: Optional[List[str]] = typer.Option(
        None, help="LABEL=N: the variant LABEL also keeps up to N of the encoder's most frequent pieces in its texts' "
        "characters (scripts/trim.py --frequent); repeatable"
    ),
    half_of: Optional[List[str]] = typer.Option(None, help="LABEL of a variant to measure stored as float16 too; repeatable"),
    bf16_of: Optional[List[str]] = typer.Option(
        None, help="LABEL of a variant to measure stored as bfloat16 and run at precision bf16 too ('untrimmed': run at "
        "bf16 as it is); repeatable"
    ),
    n_serve: int = typer.Option(100, min=0, help="Test sentences per language each load process then annotates"),
    extra_text: Optional[List[Path]] = typer.Option(None, help="More texts every variant keeps the pieces of; repeatable"),
    n_test: int = typer.Option(1000, min=0, help="First N test sentences per language (0: all)"),
    rounds: int = typer.Option(3, min=1, help="Load-time rounds (median kept)"),
    work_dir: Path = typer.Option(ROOT / "training" / "bench-trim", help="Where the trimmed pipelines and wheels go"),
    python: str = typer.Option(
        sys.executable, help="The interpreter that loads each pipeline, e.g. of a virtual environment with only this "
        "package and its dependencies: every installed package's spaCy entry points are imported by spacy.load"
    ),
):
    """Trim, evaluate, package and load every variant; write the comparison."""
    import spacy

    from spacy_xlmr_ner.evaluation import evaluate_per_language
    from spacy_xlmr_ner.io.langs import split_list
    from spacy_xlmr_ner.packaging import build_pipeline_wheel
    from spacy_xlmr_ner.packaging.trim import trim_pipeline

    lang_list = split_list(langs)
    tests = test_files(corpus, lang_list)
    work_dir.mkdir(parents=True, exist_ok=True)
    variants = {"untrimmed": {"path": pipeline, "precision": "fp32"}}
    if "untrimmed" in (bf16_of or ()):
        variants["untrimmed, bf16"] = {"path": pipeline, "precision": "bf16"}
    n_frequent = {label: int(n) for label, _, n in (spec.rpartition("=") for spec in frequent or ())}
    specs = []
    for spec in variant or ["trimmed="]:
        label, _, paths = spec.partition("=")
        texts = [Path(p) for p in paths.split(",") if p]
        top = n_frequent.get(label, 0)
        specs.append((label, texts, False, top))
        if label in (half_of or ()):
            specs.append((f"{label}, fp16", texts, True, top))
        if label in (bf16_of or ()):
            specs.append((f"{label}, bf16", texts, "bfloat16", top))
    unknown = set(n_frequent) - {label for label, *_ in specs}
    if unknown:
        raise typer.BadParameter(f"--frequent names no variant: {sorted(unknown)}")
    for label, texts, is_half, top in specs:
        out = work_dir / slug(label)
        print(f"[bench] trimming: {label} -> {out}", flush=True)
        start = time.perf_counter()
        report = trim_pipeline(
            pipeline, out, texts, extra_texts=list(extra_text or ()),
            check=list(tests.values()), half=is_half, frequent=top, overwrite=True,
        )
        variants[label] = {
            "path": out, "precision": "bf16" if is_half == "bfloat16" else "fp32",
            "trim_seconds": round(time.perf_counter() - start, 1), "report": report.to_dict(),
        }
    wheels: Dict[Path, Path] = {}
    for label, variant in variants.items():
        print(f"[bench] evaluating: {label}", flush=True)
        nlp = spacy.load(variant["path"], config={"components": {"transformer": {"precision": variant["precision"]}}})
        results = evaluate_per_language(nlp, corpus, lang_list, limit=n_test)
        variant["f1"] = {lang: round(100 * results[lang]["ents_f"], 2) for lang in lang_list}
        del nlp
        gc.collect()
        print(f"[bench] packaging: {label}", flush=True)
        if variant["path"] not in wheels:  # the same pipeline at another precision: the same wheel
            package = f"bench_trim_{slug(label).replace('-', '_')}"
            wheels[variant["path"]] = build_pipeline_wheel(
                variant["path"], work_dir / "packages", work_dir / f"{package}.log", name=package, version="0.0.1"
            )
        variant["wheel_mb"] = round(wheels[variant["path"]].stat().st_size / 2**20, 1)
        variant["pipeline_mb"] = round(sum(f.stat().st_size for f in Path(variant["path"]).rglob("*") if f.is_file()) / 2**20, 1)
    loads: Dict[str, List[Dict[str, float]]] = {label: [] for label in variants}
    serve_files = list(tests.values()) if n_serve else []
    for round_ in range(rounds):
        for label, variant in variants.items():
            loads[label].append(load_cost(python, variant["path"], variant["precision"], n_serve, serve_files))
        print(f"[bench] load round {round_ + 1}: " + ", ".join(f"{k} {v[-1]['seconds']:.1f}s" for k, v in loads.items()), flush=True)
    lang = spacy.util.load_config(pipeline / "config.cfg")["nlp"]["lang"]
    blank = [
        json.loads(subprocess.run([python, "-c", BLANK, lang], capture_output=True, text=True, check=True).stdout)
        for _ in range(rounds)
    ]
    for label, variant in variants.items():
        variant["load_seconds"] = round(statistics.median(x["seconds"] for x in loads[label]), 2)
        for key in ("load_peak_rss_mb", "first_doc_peak_rss_mb", "served_peak_rss_mb"):
            variant[key] = round(statistics.median(x[key] for x in loads[label]), 0)
        variant["load_rounds"] = loads[label]
        variant["path"] = str(variant["path"])
    result = {
        "command": shlex.join([sys.executable.rsplit("/", 1)[-1], "bench/trim.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "pipeline": str(pipeline),
        "langs": lang_list,
        "n_test": n_test,
        "n_serve": n_serve,
        "load_python": python,
        "load_packages": subprocess.run(
            [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
        ).stdout.count("\n"),
        "import_only_peak_rss_mb": round(statistics.median(x["import_peak_rss_mb"] for xs in loads.values() for x in xs), 0),
        "blank_peak_rss_mb": round(statistics.median(x["blank_peak_rss_mb"] for x in blank), 0),
        "variants": variants,
    }
    write_results(RESULTS, f"trim-{name}", result, markdown(result))
    print(markdown(result))


def markdown(result: Dict) -> str:
    langs = result["langs"]
    variants = result["variants"]
    base = variants["untrimmed"]
    pieces_before = next((v["report"]["pieces_before"] for v in variants.values() if "report" in v), 0)
    sentences = f"the first {result['n_test']:,}" if result["n_test"] else "all the"
    imported = result["import_only_peak_rss_mb"]
    lines = [
        f"# Vocabulary trimming: {result['pipeline']}",
        "",
        f"Command: `{result['command']}` ({result['date']}, {result['machine']['cpu']}, "
        f"{result['machine']['cpu_count']} CPUs). F1: strict entity F1 (%) on {sentences} "
        f"test sentences of each language, at the variant's precision. Load: `spacy.load` in a fresh process "
        f"of `{result.get('load_python', 'python')}` ({result.get('load_packages', '?')} packages installed), "
        f"median of {len(base['load_rounds'])} rounds in turns. Peak RSS (`VmHWM`) over the imports of spaCy and "
        f"this package ({imported:.0f} MiB), after `spacy.load`, after a first doc and after "
        f"{result['n_serve']} test sentences of each language; a blank pipeline of the same language, which "
        f"loads every installed package's spaCy entry points, peaks at "
        f"{result['blank_peak_rss_mb'] - imported:.0f} MiB over the imports.",
        "",
        "| variant | word pieces | " + " | ".join(f"{lang} F1" for lang in langs)
        + " | wheel MiB | pipeline MiB | load s | RSS over import MiB: loaded | first doc | served |",
        "|---|---|" + "---|" * len(langs) + "---|---|---|---|---|---|",
    ]
    for label, v in variants.items():
        pieces = f"{v['report']['pieces_after']:,}" if "report" in v else f"{pieces_before:,}"
        f1 = " | ".join(
            f"{v['f1'][lang]:.1f}" + ("" if label == "untrimmed" else f" ({v['f1'][lang] - base['f1'][lang]:+.1f})")
            for lang in langs
        )
        lines.append(
            f"| {label} | {pieces} | {f1} | {v['wheel_mb']:.1f} | {v['pipeline_mb']:.1f} | "
            f"{v['load_seconds']:.2f} | {v['load_peak_rss_mb'] - imported:.0f} | "
            f"{v['first_doc_peak_rss_mb'] - imported:.0f} | {v['served_peak_rss_mb'] - imported:.0f} |"
        )
    lines += ["", "Share of each test set's word pieces that a trimmed encoder cuts differently:", ""]
    lines += ["| variant | " + " | ".join(langs) + " |", "|---|" + "---|" * len(langs)]
    for label, v in variants.items():
        if "report" not in v:
            continue
        checks = v["report"]["check"]
        cells = []
        for lang in langs:
            c = next(c for path, c in checks.items() if Path(path).parent.name == lang)
            cells.append(f"{100 * c['changed'] / max(c['pieces'], 1):.2f}%")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "Trim reports (pieces kept, texts, seconds):", ""]
    for label, v in variants.items():
        if "report" in v:
            r = v["report"]
            lines.append(
                f"- {label}: {r['pieces_after']:,} of {r['pieces_before']:,} pieces kept ({r['pieces_used']:,} used by "
                f"{r['docs']:,} docs, {r['text_pieces']:,} pieces; {r.get('pieces_frequent', 0):,} kept as frequent); encoder parameters {r['params_before']:,} -> "
                f"{r['params_after']:,}; {v['trim_seconds']} s"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    app()
