"""The benchmark: `xlmr_ner`, the span component `xlmr_span_ner`, spaCy's
`transformer` + `ner`, the reference recipe and (optionally) SpanMarker,
trained on the same encoder, data and budget, and measured side by side in
one run. `BenchSettings.systems` picks which of them run.

Every training run and measurement is a process of its own, so that wall
time, threads and peak RSS belong to one system. Results of finished steps
are kept in the work directory, and a rerun with the same settings goes on
from there.
"""
import datetime
import hashlib
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import srsly
from wasabi import msg

from spacy_xlmr_ner.evaluation.report import markdown_table
from .. import child_env
from spacy_xlmr_ner.io.langs import split_list

from ..budget import Budget
from ..experiments.run import Experiment, machine_info, plan_steps, training_overrides
from spacy_xlmr_ner.io.docbin import convert_iob_file
from spacy_xlmr_ner.io.readers import read_gold_docs
from spacy_xlmr_ner.models.precision import PRECISIONS
from . import timing
from .measure import last_json

REFERENCE = "reference"
SPANMARKER = "spanmarker"
# Every system the benchmark knows, in the order they train and are reported.
SYSTEMS = ("xlmr_ner", "xlmr_span_ner", "spacy_ner", REFERENCE, SPANMARKER)
# The systems of a run that names none: SpanMarker is slow and optional.
DEFAULT_SYSTEMS = ("xlmr_ner", "xlmr_span_ner", "spacy_ner", REFERENCE)
# The speed variant of `xlmr_ner` with its entity vectors turned off at load.
NO_VECTORS = "novec"


@dataclass
class BenchSettings(Budget):
    """What the systems train on, with which budget (`Budget`'s fields, with
    200 dev sentences), and what is measured.

    encoder (str): Encoder directory or Hugging Face name, the same for all.
    iob_dir (str): Directory of `{lang}/{train,dev,test}.iob` files.
    lang (str): The training language.
    eval_langs (List[str]): Test languages: `lang` and the zero-shot ones.
    n_speed (int): Raw texts for the speed measurements: the first test
        sentences of `lang`.
    batch_size (int): Sentences per step, for every system.
    systems (List[str]): Which systems run, among `SYSTEMS`: "xlmr_ner",
        "xlmr_span_ner", "spacy_ner", "reference" (every learning rate of
        `reference_lrs`) and "spanmarker". Default: all but "spanmarker".
    xlmr_config (str): Config of `xlmr_ner`.
    span_config (str): Config of `xlmr_span_ner`.
    spacy_config (str): Config of spaCy's `transformer` + `ner`.
    reference_lrs (List[float]): Peak learning rates of the reference recipe;
        its best in-language F1 counts.
    threads (List[int]): Torch thread counts for the speed measurements.
    precisions (List[str]): Reduced CPU precisions to measure `xlmr_ner` at
        as well ("int8", "bf16"), on the same trained pipeline.
    hf_batch_size (int): Batch size of the reference's `transformers.pipeline`.
    spanmarker_lr (float): SpanMarker's peak learning rate.
    spanmarker_entity_max_length (int): SpanMarker's longest candidate span, in words.
    spanmarker_model_max_length (int): SpanMarker's encoder input length, in pieces.
    no_vector_speed (bool): Time `xlmr_ner` with `entity_vectors` off as
        well (variant "novec"; its accuracy is that of `xlmr_ner`).
    speed_passes (int): Rounds of speed measurements, each timing every
        system in turn in a fresh process; a system's fastest pass counts, and
        its median peak RSS. Changing it keeps the finished steps.
    seed (int): Random seed of every system.
    """

    encoder: str
    iob_dir: str
    lang: str = "de"
    eval_langs: List[str] = field(default_factory=lambda: ["de", "en", "ru"])
    # Only for spaCy's end-of-training evaluation.
    n_dev: int = field(default=200, kw_only=True)
    n_speed: int = 1000
    batch_size: int = 16
    systems: List[str] = field(default_factory=lambda: list(DEFAULT_SYSTEMS))
    xlmr_config: str = "configs/cpu.cfg"
    span_config: str = "configs/cpu_spans.cfg"
    spacy_config: str = "bench/spacy_ner.cfg"
    reference_lrs: List[float] = field(default_factory=lambda: [5e-5, 2e-4])
    threads: List[int] = field(default_factory=lambda: [1, os.cpu_count() or 1])
    precisions: List[str] = field(default_factory=lambda: ["int8", "bf16"])
    hf_batch_size: int = 32
    spanmarker_lr: float = 5e-5
    spanmarker_entity_max_length: int = 8
    spanmarker_model_max_length: int = 256
    no_vector_speed: bool = False
    speed_passes: int = 3
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        self.eval_langs = split_list(self.eval_langs)
        if self.lang not in self.eval_langs:
            self.eval_langs.insert(0, self.lang)
        self.encoder, self.iob_dir = str(self.encoder), str(self.iob_dir)
        self.reference_lrs = [float(lr) for lr in self.reference_lrs]
        self.threads = sorted({int(t) for t in self.threads})
        self.precisions = split_list(self.precisions)
        unknown = [p for p in self.precisions if p not in PRECISIONS or p == "fp32"]
        if unknown:
            reduced = [p for p in PRECISIONS if p != "fp32"]
            raise ValueError(f"precisions must be among {reduced}, not {unknown}")
        self.systems = split_list(self.systems)
        unknown = [name for name in self.systems if name not in SYSTEMS]
        if unknown or not self.systems:
            raise ValueError(f"systems must be one or more of {list(SYSTEMS)}, not {self.systems}")
        self.systems = [name for name in SYSTEMS if name in self.systems]
        if REFERENCE in self.systems and not self.reference_lrs:
            raise ValueError("The reference runs at the learning rates of reference_lrs: give at least one")
        if self.speed_passes < 1:
            raise ValueError(f"speed_passes must be at least 1, not {self.speed_passes}")


# Settings that only add or drop measurements: a change keeps finished steps.
KEEPS_STEPS = ("speed_passes", "precisions", "systems", "no_vector_speed")


def run_measured(cmd: Sequence[str], log_path: Path) -> Dict[str, Any]:
    """Run a command as a child process and measure it.

    cmd (Sequence[str]): The command.
    log_path (Path): Where its stdout and stderr go.
    RETURNS (Dict[str, Any]): `seconds` (wall), `peak_rss_mb` of the child,
        and its last JSON line under `output`, if any.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + shlex.join(str(c) for c in cmd) + "\n")
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT, env=child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RuntimeError(f"Command failed (exit {proc.returncode}), log {log_path}:\n{tail}")
    return {"seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024, "output": last_json(text)}


class Bench:
    """One benchmark run in a work directory.

    settings (BenchSettings): The settings.
    work_dir (Path): Corpora, models, logs and finished steps.
    """

    def __init__(self, settings: BenchSettings, work_dir: Union[str, Path]):
        self.s = settings
        self.work = Path(work_dir)
        self.steps_dir = self.work / "steps"
        saved = self.work / "settings.json"
        current = settings_record(settings)
        if saved.exists() and _without(srsly.read_json(saved), KEEPS_STEPS) != _without(current, KEEPS_STEPS):
            msg.warn(f"Settings changed since the last run in {self.work}: measuring everything again")
            for path in self.steps_dir.glob("*.json"):
                path.unlink()
        self.work.mkdir(parents=True, exist_ok=True)
        srsly.write_json(saved, current)

    def step(self, key: str, cmd: Sequence[str]) -> Dict[str, Any]:
        """Run a measured command once; later runs reuse its result."""
        done = self.steps_dir / f"{key}.json"
        if done.exists():
            msg.info(f"{key}: reusing {done}")
            return srsly.read_json(done)
        msg.text(f"{key}: running")
        result = run_measured(cmd, self.work / "logs" / f"{key}.log")
        self.steps_dir.mkdir(parents=True, exist_ok=True)
        srsly.write_json(done, result)
        msg.good(f"{key}: {result['seconds']:.0f}s, peak RSS {result['peak_rss_mb']:.0f} MiB")
        return result

    def prepare(self) -> Dict[str, Any]:
        """Write the training and dev DocBins and the raw texts to time.
        RETURNS (Dict[str, Any]): Sentence counts."""
        s, src = self.s, Path(self.s.iob_dir)
        corpus = self.work / "corpus"
        train = convert_iob_file(src / s.lang / "train.iob", corpus / s.lang / "train.spacy", limit=s.n_train)
        dev = convert_iob_file(src / s.lang / "dev.iob", corpus / s.lang / "dev.spacy", limit=s.n_dev)
        import spacy

        gold = read_gold_docs(src, spacy.blank("xx").vocab, langs=[s.lang], limit=s.n_speed)[s.lang]
        texts = [doc.text for doc in gold]
        if any("\n" in text for text in texts):
            raise ValueError("A test sentence contains a line break; the texts file holds one per line")
        (self.work / "texts.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
        return {"n_train": train.sentences, "n_dev": dev.sentences, "n_speed_texts": len(texts), "n_speed_words": sum(len(d) for d in gold)}

    def spacy_train_cmd(self, config: str, name: str) -> List[str]:
        s = self.s
        exp = Experiment(
            train_langs=[s.lang], eval_langs=[s.lang], corpus=str(self.work / "corpus"), config=config,
            encoder=s.encoder, n_evals=1, **s.budget(),
        )
        plan = plan_steps(s.n_train, s.epochs, s.batch_size, 1)
        overrides = training_overrides(exp, plan, self.work / name / "train-log.jsonl")
        overrides.update({"training.batcher.size": s.batch_size, "system.seed": s.seed})
        cmd = [sys.executable, "-m", "spacy", "train", config, "--output", str(self.work / name)]
        for key, value in overrides.items():
            cmd += [f"--{key}", str(value)]
        return cmd

    def train_all(self) -> Dict[str, Dict]:
        """Train every system. RETURNS (Dict[str, Dict]): Per system, the
        training process's wall seconds and peak RSS, and the model path."""
        s = self.s
        trained = {}
        configs = (("xlmr_ner", s.xlmr_config), ("xlmr_span_ner", s.span_config), ("spacy_ner", s.spacy_config))
        for name, config in configs:
            if name not in s.systems:
                continue
            log = self.work / name / "train-log.jsonl"
            if log.exists() and not (self.steps_dir / f"train-{name}.json").exists():
                log.unlink()  # spaCy's logger will not overwrite a log
            result = self.step(f"train-{name}", self.spacy_train_cmd(config, name))
            trained[name] = {**result, "model": str(self.work / name / "model-last"), "system": "spacy"}
        for lr in s.reference_lrs if REFERENCE in s.systems else []:
            name = f"{REFERENCE}-lr{lr:g}"
            cmd = [
                sys.executable, "-m", "harness.benchmark.reference", s.encoder,
                str(Path(s.iob_dir) / s.lang / "train.iob"), str(self.work / name),
                "--n-train", str(s.n_train), "--epochs", str(s.epochs), "--batch-size", str(s.batch_size),
                "--learn-rate", str(lr), "--seed", str(s.seed),
            ]
            result = self.step(f"train-{name}", cmd)
            trained[name] = {**result, "model": str(self.work / name), "system": "hf", "learn_rate": lr}
        if SPANMARKER in s.systems:
            cmd = [
                sys.executable, "-m", "harness.benchmark.spanmarker", "train", s.encoder,
                str(Path(s.iob_dir) / s.lang / "train.iob"), str(self.work / SPANMARKER),
                "--n-train", str(s.n_train), "--epochs", str(s.epochs), "--batch-size", str(s.batch_size),
                "--learn-rate", str(s.spanmarker_lr), "--seed", str(s.seed),
                "--entity-max-length", str(s.spanmarker_entity_max_length),
                "--model-max-length", str(s.spanmarker_model_max_length), "--threads", str(max(s.threads)),
            ]
            result = self.step(f"train-{SPANMARKER}", cmd)
            trained[SPANMARKER] = {**result, "model": str(self.work / SPANMARKER), "system": SPANMARKER}
        return trained

    def accuracy(self, name: str, system: str, model: str, precision: str = "fp32") -> Dict[str, Any]:
        s = self.s
        key = f"accuracy-{name}" + ("" if precision == "fp32" else f"-{precision}")
        cmd = [
            sys.executable, "-m", "harness.benchmark.measure", "accuracy", system, model, s.iob_dir,
            "--langs", ",".join(s.eval_langs), "--limit", str(s.n_test), "--precision", precision,
            "--threads", str(max(s.threads)),
        ]
        return self.step(key, cmd)["output"]["accuracy"]

    def speed(
        self, name: str, system: str, model: str, threads: int, precision: str = "fp32", speed_pass: int = 0
    ) -> Dict[str, Any]:
        key = f"speed-{name}-{precision}-t{threads}-p{speed_pass}"
        texts = str(self.work / "texts.txt")
        if system == SPANMARKER:
            cmd = [
                sys.executable, "-m", "harness.benchmark.spanmarker", "speed", model, texts,
                "--threads", str(threads), "--batch-size", str(self.s.hf_batch_size),
            ]
        elif system == "hf":
            # By path, so that the process imports neither spaCy nor this package.
            cmd = [
                sys.executable, timing.__file__, model, texts, "--threads", str(threads),
                "--batch-size", str(self.s.hf_batch_size),
            ]
        else:
            cmd = [
                sys.executable, "-m", "harness.benchmark.measure", "speed", model, texts,
                "--threads", str(threads),
            ]
            cmd += ["--no-entity-vectors"] if precision == NO_VECTORS else ["--precision", precision]
        result = self.step(key, cmd)
        return {**result["output"], "process_peak_rss_mb": result["peak_rss_mb"]}

    def run(self, command: Optional[str] = None) -> Dict[str, Any]:
        """Train, measure and compare. RETURNS (Dict[str, Any]): The record."""
        s = self.s
        started = datetime.datetime.now(datetime.timezone.utc)
        data = self.prepare()
        trained = self.train_all()
        systems: Dict[str, Dict] = {}
        for name, info in trained.items():
            systems[name] = {
                "train_seconds": info["seconds"],
                "train_peak_rss_mb": info["peak_rss_mb"],
                "accuracy": self.accuracy(name, info["system"], info["model"]),
            }
        refs = [n for n in trained if n.startswith(REFERENCE)]
        best_ref = max(refs, key=lambda n: systems[n]["accuracy"][s.lang]["f"] or 0.0) if refs else None
        # Speed is measured for each system once (the reference at its best
        # learning rate), xlmr_ner also at each reduced precision.
        variants = [(n, "fp32") for n in trained if not n.startswith(REFERENCE) or n == best_ref]
        if "xlmr_ner" in trained:
            extra = list(s.precisions) + ([NO_VECTORS] if s.no_vector_speed else [])
            for i, precision in enumerate(extra, start=1):
                variants.insert(i, ("xlmr_ner", precision))
                systems[f"xlmr_ner-{precision}"] = {
                    "train_seconds": systems["xlmr_ner"]["train_seconds"],
                    "train_peak_rss_mb": systems["xlmr_ner"]["train_peak_rss_mb"],
                    # Vectors do not change the entities: novec's accuracy is xlmr_ner's.
                    "accuracy": systems["xlmr_ner"]["accuracy"] if precision == NO_VECTORS
                    else self.accuracy("xlmr_ner", "spacy", trained["xlmr_ner"]["model"], precision),
                }
        passes: Dict[Tuple[str, str, int], List[Dict[str, Any]]] = {}
        for speed_pass in range(s.speed_passes):
            for name, precision in variants:
                info = trained[name]
                for t in s.threads:
                    passes.setdefault((name, precision, t), []).append(
                        self.speed(name, info["system"], info["model"], t, precision, speed_pass)
                    )
        for name, precision in variants:
            row = systems[name if precision == "fp32" else f"{name}-{precision}"]
            row["speed"] = {str(t): summarize_passes(passes[name, precision, t]) for t in s.threads}
        record = {
            "settings": asdict(s),
            "command": command,
            "started": started.isoformat(timespec="seconds"),
            "machine": machine_info(),
            "data": data,
            "reference": best_ref,
            "baseline": best_ref or next(iter(trained)),
            "systems": systems,
        }
        record["ratios"] = ratios(record)
        return record


def summarize_passes(passes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """One system's speed passes as one measurement: the fastest pass (the
    least disturbed by the rest of the machine) and the median peak RSS.

    passes (Sequence[Dict[str, Any]]): As from `Bench.speed`.
    RETURNS (Dict[str, Any]): The fastest pass, with `peak_rss_mb` the median
        over passes and every pass's words/s and peak RSS under `passes`.
    """
    fastest = max(passes, key=lambda p: p["words_per_second"])
    return {
        **fastest,
        "peak_rss_mb": statistics.median(p["peak_rss_mb"] for p in passes),
        "passes": [{"words_per_second": p["words_per_second"], "peak_rss_mb": p["peak_rss_mb"]} for p in passes],
    }


def settings_record(settings: BenchSettings) -> Dict[str, Any]:
    """settings (BenchSettings): The settings. RETURNS (Dict[str, Any]): The
    settings with a SHA-256 digest of each training config's text, so that an
    edited config, not only a renamed one, is measured again."""
    record = asdict(settings)
    record["config_sha256"] = {
        key: hashlib.sha256(Path(path).read_bytes()).hexdigest() if Path(path).is_file() else None
        for key, path in (
            ("xlmr_config", settings.xlmr_config), ("span_config", settings.span_config),
            ("spacy_config", settings.spacy_config),
        )
    }
    return record


def _without(settings: Dict[str, Any], keys: Sequence[str]) -> Dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in keys}


def ratios(record: Dict[str, Any]) -> Dict[str, Dict[str, Optional[float]]]:
    """Each system's numbers divided by the baseline's (the reference at its
    best learning rate, or the first system when the reference did not run):
    F1 differences in points, speed, training time and RSS as ratios.

    record (Dict[str, Any]): As from `Bench.run`.
    RETURNS (Dict[str, Dict[str, Optional[float]]]): Per system.
    """
    return {name: compare(record, name, record.get("baseline") or record["reference"]) for name in record["systems"]}


def compare(record: Dict[str, Any], name: str, other: str) -> Dict[str, Optional[float]]:
    """One system against another: F1 differences in points, speed, training
    time and RSS as ratios.

    record (Dict[str, Any]): As from `Bench.run`.
    name (str): The system compared.
    other (str): The system it is compared with.
    RETURNS (Dict[str, Optional[float]]): `f1_points_{lang}`, `train_time`,
        `words_per_second_t{threads}`, `peak_rss_t{threads}`.
    """
    systems, ref = record["systems"], record["systems"][other]
    row = systems[name]
    r: Dict[str, Optional[float]] = {}
    for lang, acc in row["accuracy"].items():
        ref_f = ref["accuracy"].get(lang, {}).get("f")
        r[f"f1_points_{lang}"] = None if acc["f"] is None or ref_f is None else 100 * (acc["f"] - ref_f)
    r["train_time"] = row["train_seconds"] / ref["train_seconds"]
    for threads, speed in (row.get("speed") or {}).items():
        ref_speed = ref.get("speed", {}).get(threads)
        if ref_speed:
            r[f"words_per_second_t{threads}"] = speed["words_per_second"] / ref_speed["words_per_second"]
            r[f"peak_rss_t{threads}"] = speed["peak_rss_mb"] / ref_speed["peak_rss_mb"]
    return r


# The issue-16 targets: the span component against these systems, if they ran.
SPAN_COMPARED_WITH = ("xlmr_ner", SPANMARKER)


def markdown_report(record: Dict[str, Any]) -> str:
    """record (Dict[str, Any]): As from `Bench.run`. RETURNS (str): Tables of
    accuracy, training time, speed and memory, with ratios to the reference."""
    s, systems, rat = record["settings"], record["systems"], record["ratios"]
    baseline = record.get("baseline") or record["reference"]
    langs, threads = s["eval_langs"], [str(t) for t in s["threads"]]

    def f1(row, lang):
        f = row["accuracy"].get(lang, {}).get("f")
        return "" if f is None else f"{100 * f:.1f}"

    header = ["system"] + [f"{lang} F1" + ("" if lang == s["lang"] else " (zero-shot)") for lang in langs]
    header += ["train s"] + [f"words/s {t} thr" for t in threads] + [f"peak RSS MiB ({threads[-1]} thr)"]
    rows = []
    for name, row in systems.items():
        speed = row.get("speed", {})
        cells = [name + (" (3)" if name == baseline else "")]
        cells += [f1(row, lang) for lang in langs]
        cells += [f"{row['train_seconds']:.0f}"]
        cells += [f"{speed[t]['words_per_second']:.0f}" if t in speed else "" for t in threads]
        cells += [f"{speed[threads[-1]]['peak_rss_mb']:.0f}" if threads[-1] in speed else ""]
        rows.append(cells)
    ratio_header = ["system"] + [f"Δ{lang} F1 (points)" for lang in langs] + ["train time ×"]
    ratio_header += [f"words/s {t} thr ×" for t in threads] + [f"peak RSS ({threads[-1]} thr) ×"]

    def ratio_row(name, r):
        def fmt(key, signed=False):
            value = r.get(key)
            if value is None:
                return ""
            return f"{value:+.1f}" if signed else f"{value:.2f}"

        return (
            [name]
            + [fmt(f"f1_points_{lang}", True) for lang in langs]
            + [fmt("train_time")]
            + [fmt(f"words_per_second_t{t}") for t in threads]
            + [fmt(f"peak_rss_t{threads[-1]}")]
        )

    ratio_rows = [ratio_row(name, r) for name, r in rat.items()]
    span_rows = [
        ratio_row(f"xlmr_span_ner vs {other}", compare(record, "xlmr_span_ner", other))
        for other in SPAN_COMPARED_WITH
        if "xlmr_span_ner" in systems and other in systems
    ]
    labels = sorted({label for row in systems.values() for acc in row["accuracy"].values() for label in acc["per_type"]})
    per_type_header = ["system"] + [f"{lang} {label}" for lang in langs for label in labels]
    per_type = [
        [name] + [
            "" if row["accuracy"].get(lang, {}).get("per_type", {}).get(label) is None
            else f"{100 * row['accuracy'][lang]['per_type'][label]:.1f}"
            for lang in langs for label in labels
        ]
        for name, row in systems.items()
    ]
    m = record["machine"]
    ran = s.get("systems") or [n for n in SYSTEMS if any(k == n or k.startswith(n + "-") for k in systems)]
    if baseline == record["reference"]:
        note = f"(3) = the reference recipe at its best learning rate ({baseline})."
    else:
        note = f"(3) = {baseline}, the baseline of the ratios (the reference did not run)."
    lines = [
        f"Encoder `{s['encoder']}`; {s['n_train']} {s['lang']} training sentences, {s['epochs']:g} epochs at "
        f"batch {s['batch_size']}; F1 on the first {s['n_test']} test sentences per language (gold tokens, "
        f"strict spans); speed on the first {s['n_speed']} {s['lang']} test sentences as raw text, "
        f"the fastest of {s.get('speed_passes', 1)} passes per system (taken in turns, each a fresh process), "
        f"with the median peak RSS of those passes. "
        f"Machine: {m['cpu']}, {m['cpu_count']} CPUs; torch {m['torch']}, spaCy {m['spacy']}. "
        f"Systems run: {', '.join(ran)}. {note}"
        + (" xlmr_ner-novec: xlmr_ner timed with its entity vectors off." if f"xlmr_ner-{NO_VECTORS}" in systems else ""),
        "",
        markdown_table(header, rows, numeric=False),
        "",
        "Ratios to (3): F1 in points, the rest as multiples.",
        "",
        markdown_table(ratio_header, ratio_rows, numeric=False),
        "",
    ]
    if span_rows:
        lines += [
            "The span component against the others (F1 in points, the rest as multiples):",
            "",
            markdown_table(ratio_header, span_rows, numeric=False),
            "",
        ]
    lines += [
        "F1 per type:",
        "",
        markdown_table(per_type_header, per_type, numeric=False),
    ]
    if record.get("command"):
        lines += ["", "Command:", "", "```bash", record["command"], "```"]
    return "\n".join(lines)
