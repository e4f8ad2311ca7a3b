"""Cross-lingual studies: train on some languages, test on others.

One `Experiment` is a `spacy train` run on the first N sentences of each
training language followed by an evaluation on every test language; the
zero-shot, joint and all-languages studies are single experiments, and the
matrix is one experiment per language.
"""
import datetime
import gc
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import spacy
import srsly
import torch
from spacy.cli.train import train as spacy_train
from spacy.tokens import DocBin
from wasabi import msg

from spacy_xlmr_ner.evaluation.plots import learning_curve, plot_learning_curve, plot_matrix, read_training_log
from spacy_xlmr_ner.evaluation.report import markdown_matrix, markdown_results
from spacy_xlmr_ner.evaluation.runner import evaluate_per_language
from spacy_xlmr_ner.io.langs import split_list
from spacy_xlmr_ner.io.readers import resolve_corpus_files

from ..budget import Budget


@dataclass
class Experiment(Budget):
    """What to train on and test on, with the budget (`Budget`'s fields:
    n_train, n_dev, n_test, epochs, keyword-only).

    train_langs (List[str]): Training languages (their train and dev splits).
    eval_langs (List[str]): Test languages.
    corpus (str): Directory of `{lang}/{split}.spacy` files.
    config (str): The training config.
    encoder (str): Encoder name or directory (`paths.encoder`).
    n_evals (int): Dev evaluations during training (points of the learning curve).
    warmup (float): Share of the steps with a rising learning rate.
    gpu_id (int): GPU, or -1 for CPU.
    name (Optional[str]): Name of the run; default "train-" + the training languages joined by "+".
    overrides (Dict[str, Any]): More config overrides.
    """

    train_langs: List[str]
    eval_langs: List[str]
    corpus: str
    config: str
    encoder: str
    n_evals: int = 10
    warmup: float = 0.1
    gpu_id: int = -1
    name: Optional[str] = None
    overrides: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        super().__post_init__()
        self.train_langs = split_list(self.train_langs)
        self.eval_langs = split_list(self.eval_langs)
        if not self.train_langs or not self.eval_langs:
            raise ValueError("An experiment needs at least one training and one test language")
        self.corpus, self.config, self.encoder = str(self.corpus), str(self.config), str(self.encoder)
        if self.name is None:
            self.name = "train-" + "+".join(self.train_langs)

    def settings(self) -> Dict[str, Any]:
        """RETURNS (Dict[str, Any]): Everything that defines the run, as JSON-able data."""
        return asdict(self)


def plan_steps(n_sentences: int, epochs: float, batch_size: int, n_evals: int) -> Dict[str, int]:
    """Turn an epoch budget into steps, rounded up to a whole number of
    evaluation intervals so that the last step is evaluated.

    n_sentences (int): Training sentences.
    epochs (float): Passes over them.
    batch_size (int): Sentences per step.
    n_evals (int): Evaluations wanted during training.
    RETURNS (Dict[str, int]): `steps` and `eval_frequency`.
    """
    if n_sentences <= 0 or epochs <= 0 or batch_size <= 0:
        raise ValueError(f"Nothing to train: {n_sentences} sentences, {epochs} epochs, batch size {batch_size}")
    steps = math.ceil(epochs * n_sentences / batch_size)
    eval_frequency = max(1, math.ceil(steps / max(n_evals, 1)))
    return {"steps": math.ceil(steps / eval_frequency) * eval_frequency, "eval_frequency": eval_frequency}


def count_docs(corpus: Union[str, Path], split: str, langs: Sequence[str], limit: int = 0) -> int:
    """corpus (Union[str, Path]): Directory of `{lang}/{split}.spacy` files. split (str): The split.
    langs (Sequence[str]): Languages. limit (int): Per-language cap, 0 for none.
    RETURNS (int): How many docs a reader with this limit yields."""
    total = 0
    for file in resolve_corpus_files(Path(corpus), split, list(langs)):
        n = len(DocBin().from_disk(file))
        total += min(n, limit) if limit else n
    return total


def batch_size_of(config_path: Union[str, Path]) -> int:
    """config_path (Union[str, Path]): A training config. RETURNS (int): Its fixed batch size."""
    size = spacy.util.load_config(config_path)["training"]["batcher"]["size"]
    if not isinstance(size, int):
        raise ValueError(f"{config_path}: [training.batcher] size must be a number for epoch budgets, not {size!r}")
    return size


def training_overrides(exp: Experiment, plan: Dict[str, int], log_path: Union[str, Path]) -> Dict[str, Any]:
    """The config overrides of one experiment's `spacy train` run.

    exp (Experiment): The experiment.
    plan (Dict[str, int]): As from `plan_steps`.
    log_path (Union[str, Path]): Where the training log goes.
    RETURNS (Dict[str, Any]): Overrides by dotted config path.
    """
    langs = ",".join(exp.train_langs)
    overrides = {
        "paths.train": exp.corpus,
        "paths.dev": exp.corpus,
        "paths.encoder": exp.encoder,
        "paths.log": str(log_path),
        "corpora.train.langs": langs,
        "corpora.dev.langs": langs,
        "corpora.train.limit": exp.n_train,
        "corpora.dev.limit": exp.n_dev,
        "training.max_epochs": 0,
        "training.max_steps": plan["steps"],
        "training.eval_frequency": plan["eval_frequency"],
        "training.optimizer.learn_rate.total_steps": plan["steps"],
        "training.optimizer.learn_rate.warmup_steps": round(exp.warmup * plan["steps"]),
    }
    overrides.update(exp.overrides)
    return overrides


def machine_info(gpu_id: int = -1) -> Dict[str, Any]:
    """gpu_id (int): The GPU used, or -1. RETURNS (Dict[str, Any]): What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "spacy": spacy.__version__,
        "gpu": torch.cuda.get_device_name(gpu_id) if gpu_id >= 0 else None,
    }
    return info


def train_experiment(exp: Experiment, training_dir: Union[str, Path]) -> Dict[str, Any]:
    """Train one experiment's pipeline with `spacy train` (no evaluation).

    exp (Experiment): The experiment; its test languages are not used.
    training_dir (Union[str, Path]): The run goes to `training_dir/{name}`,
        its training log to `train-log.jsonl` there.
    RETURNS (Dict[str, Any]): `model` (the `model-best` path),
        `n_train_sentences`, `batch_size`, `steps`, `eval_frequency` and
        `train_seconds`.
    """
    out = Path(training_dir) / exp.name
    n_sentences = count_docs(exp.corpus, "train", exp.train_langs, exp.n_train)
    batch_size = batch_size_of(exp.config)
    plan = plan_steps(n_sentences, exp.epochs, batch_size, exp.n_evals)
    log_path = out / "train-log.jsonl"
    if log_path.exists():
        log_path.unlink()  # spaCy's logger refuses to overwrite a log
    msg.divider(f"{exp.name}: {n_sentences} sentences, {plan['steps']} steps at batch {batch_size}")
    start = time.perf_counter()
    spacy_train(exp.config, out, use_gpu=exp.gpu_id, overrides=training_overrides(exp, plan, log_path))
    return {
        "model": str(out / "model-best"),
        "n_train_sentences": n_sentences,
        "batch_size": batch_size,
        **plan,
        "train_seconds": time.perf_counter() - start,
    }


def run_experiment(
    exp: Experiment,
    training_dir: Union[str, Path],
    metrics_dir: Union[str, Path],
    command: Optional[str] = None,
    reuse: bool = True,
) -> Dict[str, Any]:
    """Train, evaluate, and write `metrics_dir/{name}.json`, `{name}.md` and
    the learning curve `{name}-curve.png`.

    exp (Experiment): The experiment.
    training_dir (Union[str, Path]): The run goes to `training_dir/{name}`.
    metrics_dir (Union[str, Path]): Where the results go.
    command (Optional[str]): The command line that ran this, for the record.
    reuse (bool): Return the stored results of an earlier run with the same
        settings (and its model still on disk) instead of training again.
    RETURNS (Dict[str, Any]): The record written to the JSON file.
    """
    out = Path(training_dir) / exp.name
    metrics_dir = Path(metrics_dir)
    json_path = metrics_dir / f"{exp.name}.json"
    if reuse and json_path.exists() and (out / "model-best").exists():
        stored = srsly.read_json(json_path)
        if stored.get("settings") == exp.settings():
            msg.info(f"Reusing {json_path}: a run with the same settings")
            return stored
    started = datetime.datetime.now(datetime.timezone.utc)
    trained = train_experiment(exp, training_dir)
    nlp = spacy.load(trained["model"])
    start = time.perf_counter()
    results = evaluate_per_language(nlp, exp.corpus, exp.eval_langs, limit=exp.n_test)
    eval_seconds = time.perf_counter() - start
    del nlp
    gc.collect()
    log_path = out / "train-log.jsonl"
    curve = learning_curve(read_training_log(log_path))
    record = {
        "name": exp.name,
        "settings": exp.settings(),
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        **{key: trained[key] for key in ("n_train_sentences", "batch_size", "steps", "eval_frequency")},
        "train_seconds": trained["train_seconds"],
        "eval_seconds": eval_seconds,
        "machine": machine_info(exp.gpu_id),
        "model": trained["model"],
        "results": results,
        "curve": curve,
    }
    metrics_dir.mkdir(parents=True, exist_ok=True)
    srsly.write_json(json_path, record)
    (metrics_dir / f"{exp.name}.md").write_text(markdown_record(record) + "\n", encoding="utf-8")
    plot_learning_curve(curve, metrics_dir / f"{exp.name}-curve.png", title=f"{exp.name}: dev F1 and train loss")
    msg.good(f"{exp.name}: trained in {trained['train_seconds']:.0f}s, evaluated in {eval_seconds:.0f}s -> {json_path}")
    return record


def run_matrix(
    base: Experiment,
    langs: Sequence[str],
    training_dir: Union[str, Path],
    metrics_dir: Union[str, Path],
    command: Optional[str] = None,
    reuse: bool = True,
) -> Dict[str, Any]:
    """Train on each language alone and test on every language; write
    `metrics_dir/matrix.json`, `matrix.md` and the heatmap `matrix.png`.

    base (Experiment): Settings shared by the runs (languages are replaced).
    langs (Sequence[str]): Train and test languages.
    training_dir (Union[str, Path]): Runs go to `training_dir/train-{lang}`.
    metrics_dir (Union[str, Path]): Where the results go.
    command (Optional[str]): The command line that ran this, for the record.
    reuse (bool): Reuse earlier runs with the same settings (see `run_experiment`).
    RETURNS (Dict[str, Any]): `matrix` and `untyped` ({train: {test: F1}}) and the runs' names and times.
    """
    langs = split_list(langs)
    runs = {}
    for lang in langs:
        exp = replace(base, train_langs=[lang], eval_langs=list(langs), name=None)
        runs[lang] = run_experiment(exp, training_dir, metrics_dir, command=command, reuse=reuse)
    record = {
        "langs": langs,
        "command": command,
        "matrix": {tr: {te: run["results"][te]["ents_f"] for te in langs} for tr, run in runs.items()},
        "untyped": {tr: {te: run["results"][te]["untyped_f"] for te in langs} for tr, run in runs.items()},
        "runs": {
            tr: {"name": run["name"], "train_seconds": run["train_seconds"], "eval_seconds": run["eval_seconds"]}
            for tr, run in runs.items()
        },
    }
    metrics_dir = Path(metrics_dir)
    srsly.write_json(metrics_dir / "matrix.json", record)
    text = "\n\n".join(
        [
            "Strict entity F1 (%):",
            markdown_matrix(record["matrix"]),
            "Type-ignored span F1 (%):",
            markdown_matrix(record["untyped"], metric="F untyped"),
        ]
    )
    (metrics_dir / "matrix.md").write_text(text + "\n", encoding="utf-8")
    plot_matrix(record["matrix"], metrics_dir / "matrix.png")
    return record


def markdown_record(record: Dict[str, Any]) -> str:
    """record (Dict[str, Any]): As from `run_experiment`. RETURNS (str): Its results in Markdown."""
    s = record["settings"]
    head = (
        f"Trained on {', '.join(s['train_langs'])} ({record['n_train_sentences']} sentences, "
        f"{record['steps']} steps at batch {record['batch_size']}, {record['train_seconds']:.0f} s); "
        f"tested on the first {s['n_test'] or 'all'} test sentences of each language "
        f"({record['eval_seconds']:.0f} s)."
    )
    return head + "\n\n" + markdown_results(record["results"])
