"""The results document: every experiment in a metrics directory as
Markdown tables and figures, with the commands and times that produced them."""
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import srsly

from spacy_xlmr_ner.evaluation.report import markdown_matrix, markdown_results, markdown_table, pct

MATRIX = "matrix.json"


def load_records(metrics_dir: Union[str, Path]) -> Dict[str, Any]:
    """metrics_dir (Union[str, Path]): Where `run_experiment` / `run_matrix` wrote.
    RETURNS (Dict[str, Any]): `runs` ({name: record}, sorted by start time) and `matrix` (or None)."""
    metrics_dir = Path(metrics_dir)
    runs = [srsly.read_json(p) for p in sorted(metrics_dir.glob("*.json")) if p.name != MATRIX]
    runs = [r for r in runs if isinstance(r, dict) and "results" in r and "settings" in r]
    if not runs:
        raise ValueError(f"No experiment results (*.json from scripts/experiment.py) in {metrics_dir}")
    runs.sort(key=lambda r: r.get("started") or "")
    matrix_path = metrics_dir / MATRIX
    return {"runs": {r["name"]: r for r in runs}, "matrix": srsly.read_json(matrix_path) if matrix_path.exists() else None}


def write_results_doc(
    metrics_dir: Union[str, Path], output: Union[str, Path], title: str = "Results", intro: Optional[str] = None
) -> Path:
    """Write the Markdown document, and copy the figures to `img/` beside it.

    metrics_dir (Union[str, Path]): The experiments' output directory.
    output (Union[str, Path]): The Markdown file to write.
    title (str): Its title.
    intro (Optional[str]): Markdown put after the title, e.g. the workflow
        commands that produced the runs.
    RETURNS (Path): The file written.
    """
    metrics_dir, output = Path(metrics_dir), Path(output)
    data = load_records(metrics_dir)
    runs, matrix = data["runs"], data["matrix"]
    img_dir = output.parent / "img"
    img_dir.mkdir(parents=True, exist_ok=True)

    def figure(name: str) -> str:
        source = metrics_dir / name
        if not source.exists():
            return ""
        shutil.copy(source, img_dir / name)
        return f"![{name}](img/{name})"

    parts: List[str] = [f"# {title}", ""]
    if intro:
        parts += [intro.strip(), ""]
    parts += [
        f"Written by `python scripts/report.py {metrics_dir} {output}` from the JSON records that "
        "`scripts/experiment.py` wrote; every number below comes from those records.",
        "",
        "## Machines and settings",
        "",
        _settings_table(runs),
        "",
        "## Summary: entity F1 (%) per test language",
        "",
        "Strict span match (label and boundaries), as seqeval's default IOB2 mode. "
        "Bold: languages the run was trained on.",
        "",
        _summary_table(runs),
    ]
    if matrix:
        parts += ["", "## Cross-lingual matrix", "", f"Command: `{matrix.get('command')}`", ""]
        parts += ["Strict entity F1 (%), rows: training language, columns: test language.", ""]
        parts += [markdown_matrix(matrix["matrix"]), "", figure("matrix.png"), ""]
        parts += ["Type-ignored span F1 (%):", "", markdown_matrix(matrix["untyped"], metric="F untyped")]
    for name, run in runs.items():
        s = run["settings"]
        parts += ["", f"## {name}: trained on {', '.join(s['train_langs'])}", ""]
        parts += [
            f"Command: `{run.get('command')}`",
            "",
            f"{run['n_train_sentences']} training sentences, {run['steps']} steps at batch {run['batch_size']}; "
            f"training took {run['train_seconds']:.0f} s, evaluation {run['eval_seconds']:.0f} s "
            f"(started {run.get('started')}).",
            "",
            markdown_results(run["results"]),
            "",
            "Learning curve (dev F1 on the first "
            f"{s['n_dev']} dev sentences of each training language; mean training loss per step):",
            "",
            markdown_table(
                ["step", "epoch", "loss / step", "dev F1"],
                [[p["step"], p["epoch"], "-" if p["loss"] is None else f"{p['loss']:.3f}", pct(p["score"])]
                 for p in run["curve"]],
            ),
            "",
            figure(f"{name}-curve.png"),
        ]
    output.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    return output


def _settings_table(runs: Dict[str, Dict]) -> str:
    header = ["run", "train langs", "encoder", "config", "train sent./lang", "test sent./lang", "epochs",
              "steps", "train s", "eval s", "machine"]
    rows = []
    for name, run in runs.items():
        s, m = run["settings"], run["machine"]
        where = f"{m['gpu']}" if m.get("gpu") else f"CPU {m['cpu']}, {m['torch_threads']} threads"
        rows.append([name, ",".join(s["train_langs"]), s["encoder"], s["config"], s["n_train"] or "all",
                     s["n_test"] or "all", s["epochs"], run["steps"], f"{run['train_seconds']:.0f}",
                     f"{run['eval_seconds']:.0f}", where])
    return markdown_table(header, rows)


def _summary_table(runs: Dict[str, Dict]) -> str:
    tests = list(dict.fromkeys(t for run in runs.values() for t in run["results"] if t != "all"))
    rows = []
    for name, run in runs.items():
        trained = set(run["settings"]["train_langs"])
        cells = []
        for t in tests:
            f = run["results"].get(t, {}).get("ents_f")
            cells.append(f"**{pct(f)}**" if t in trained and f is not None else pct(f))
        values = [run["results"][t]["ents_f"] for t in tests if run["results"].get(t, {}).get("ents_f") is not None]
        unseen = [run["results"][t]["ents_f"] for t in tests
                  if t not in trained and run["results"].get(t, {}).get("ents_f") is not None]
        rows.append([name, *cells, pct(sum(values) / len(values)) if values else "-",
                     pct(sum(unseen) / len(unseen)) if unseen else "-"])
    return markdown_table(["run", *tests, "mean", "mean unseen"], rows)
