"""The cross-domain study, after T-NER's dataset x dataset matrix: train on one
dataset of a language (WikiANN, CoNLL-2002, WikiNEuRal), test on every dataset
of that language, over the entity types the two share; and one model trained
on all of them at once, on the types they all share.

`prepare_domains` turns the IOB files into `{dataset}-{lang}/{split}.spacy`
corpora, splitting datasets that lack a test split; `run_domain_study` trains
`xlmr_ner` and the reference recipe on the same sentences and scores both on
the same gold tokens.
"""
import gc
import itertools
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple, Union

import spacy
import srsly
from spacy.tokens import Doc, DocBin
from spacy.training.iob_utils import biluo_to_iob, doc_to_biluo_tags
from wasabi import msg

from spacy_xlmr_ner.evaluation.metrics import restrict_doc, restrict_labels, score_examples
from spacy_xlmr_ner.evaluation.plots import plot_matrix
from spacy_xlmr_ner.evaluation.report import markdown_matrix, markdown_table, pct
from spacy_xlmr_ner.io.docbin import sentences_to_docs, write_files_atomic
from spacy_xlmr_ner.io.iob import read_iob
from spacy_xlmr_ner.io.label_map import map_tags
from spacy_xlmr_ner.io.langs import split_list

from ..budget import Budget
from .run import Experiment, machine_info, train_experiment

XLMR_NER, REFERENCE = "xlmr_ner", "reference"
SYSTEMS = (XLMR_NER, REFERENCE)
# The name of the all-domains model's row, and of its corpus beside the others.
ALL = "all"
UNIFIED = "unified"


@dataclass
class SplitRule:
    """Where one split of a prepared dataset comes from: `sentences[start:stop]`
    of `file`.iob (None for the file's start or end)."""

    file: str
    start: Optional[int] = None
    stop: Optional[int] = None

    def describe(self) -> str:
        """RETURNS (str): E.g. "train.iob[:-1000]"."""
        if self.start is None and self.stop is None:
            return f"{self.file}.iob"
        return f"{self.file}.iob[{'' if self.start is None else self.start}:{'' if self.stop is None else self.stop}]"


def split_rules(files: Set[str], n_select: int = 1000, n_report: int = 3000) -> Dict[str, SplitRule]:
    """Decide the train / dev / test splits of a dataset from the IOB files it
    has. Test is what results are reported on, dev what `spacy train` selects
    `model-best` on, so the two are never the same sentences:

    - train, dev and test: used as they are (WikiANN).
    - train and dev: test is the dev file (its test split is held out
      elsewhere), and dev is the last `n_select` sentences of the train file
      (CoNLL-2002).
    - dev only: cut in order into train, dev (`n_select` sentences) and test
      (the last `n_report`), so that no article is split between train and
      test more than once (WikiNEuRal).

    files (Set[str]): The stems of the dataset's IOB files ("train", "dev", "test").
    n_select (int): Sentences for model selection, where they must be cut out.
    n_report (int): Sentences to report on, where they must be cut out.
    RETURNS (Dict[str, SplitRule]): The rule of each of "train", "dev" and "test".
    """
    if {"train", "dev", "test"} <= files:
        return {split: SplitRule(split) for split in ("train", "dev", "test")}
    if {"train", "dev"} <= files:
        return {"train": SplitRule("train", stop=-n_select), "dev": SplitRule("train", start=-n_select),
                "test": SplitRule("dev")}
    if "dev" in files:
        held = n_select + n_report
        return {"train": SplitRule("dev", stop=-held), "dev": SplitRule("dev", start=-held, stop=-n_report),
                "test": SplitRule("dev", start=-n_report)}
    raise ValueError(f"Cannot split a dataset with files {sorted(files) or 'none'}: it needs at least dev.iob")


def domain_key(dataset: str, lang: str) -> str:
    """RETURNS (str): The corpus directory of a dataset in a language, e.g. "conll2002-es"."""
    return f"{dataset}-{lang}"


def prepare_domains(
    data_dir: Union[str, Path],
    output_dir: Union[str, Path],
    datasets: Sequence[str],
    langs: Sequence[str],
    *,
    n_select: int = 1000,
    n_report: int = 3000,
    label_map: Optional[Dict[str, str]] = None,
) -> Dict[str, Any]:
    """Convert `data_dir/{dataset}/{lang}/*.iob` into
    `output_dir/{dataset}-{lang}/{train,dev,test}.spacy`, and the train and dev
    splits again into `output_dir/unified/{dataset}-{lang}/` with only the
    entity types every dataset of the language has (the all-domains model's
    training data; the other types become "O" and are counted).

    data_dir (Union[str, Path]): Directory of `{dataset}/{lang}/{split}.iob`.
    output_dir (Union[str, Path]): Where the corpora go.
    datasets (Sequence[str]): Dataset directories, e.g. ["wikiann", "conll2002", "wikineural"].
    langs (Sequence[str]): Languages; every dataset must have each.
    n_select (int): See `split_rules`.
    n_report (int): See `split_rules`.
    label_map (Optional[Dict[str, str]]): Renames applied to every dataset
        first (see `io.label_map`), for datasets with other label names.
    RETURNS (Dict[str, Any]): Per corpus key: the rule, sentence and entity
        counts of each split; per language: the unified labels and what the
        unification dropped.
    """
    data_dir, output_dir = Path(data_dir), Path(output_dir)
    vocab = spacy.blank("xx").vocab
    outputs: Dict[Path, bytes] = {}
    record: Dict[str, Any] = {"corpora": {}, "unified": {}}
    for lang in langs:
        per_key: Dict[str, Dict[str, List[Doc]]] = {}
        for dataset in datasets:
            folder = data_dir / dataset / lang
            files = {p.stem for p in folder.glob("*.iob")}
            if not files:
                raise ValueError(f"{folder}: no IOB files for {dataset} in {lang}")
            rules = split_rules(files, n_select=n_select, n_report=n_report)
            read = {name: read_iob(folder / f"{name}.iob").sentences for name in {r.file for r in rules.values()}}
            key = domain_key(dataset, lang)
            per_key[key] = {}
            record["corpora"][key] = {}
            for split, rule in rules.items():
                sentences = read[rule.file][rule.start : rule.stop]
                if not sentences:
                    raise ValueError(f"{folder / rule.file}.iob: no sentences left for {split} ({rule.describe()})")
                if label_map:
                    for sent in sentences:
                        sent.tags = map_tags(sent.tags, label_map)[0]
                docs = sentences_to_docs(sentences, vocab)
                per_key[key][split] = docs
                outputs[output_dir / key / f"{split}.spacy"] = DocBin(docs=docs, store_user_data=False).to_bytes()
                record["corpora"][key][split] = {
                    "source": str(folder / rule.describe()),
                    "first_line": sentences[0].line_no,
                    "sentences": len(docs),
                    "entities": dict(Counter(ent.label_ for doc in docs for ent in doc.ents)),
                }
        shared = set.intersection(*(labels_of(splits["train"]) for splits in per_key.values()))
        dropped: Counter = Counter()
        for key, splits in per_key.items():
            for split in ("train", "dev"):
                docs = []
                for doc in splits[split]:
                    doc, removed = restrict_doc(doc, shared)
                    dropped.update(f"{key}/{split} {label}" for label in removed)
                    docs.append(doc)
                outputs[output_dir / UNIFIED / key / f"{split}.spacy"] = DocBin(docs=docs).to_bytes()
        record["unified"][lang] = {"labels": sorted(shared), "dropped": dict(dropped)}
    write_files_atomic(outputs)
    return record


def labels_of(docs: Sequence[Doc]) -> Set[str]:
    """docs (Sequence[Doc]): Annotated docs. RETURNS (Set[str]): Their entity types."""
    return {ent.label_ for doc in docs for ent in doc.ents}


def read_split(corpus: Union[str, Path], key: str, split: str, limit: int = 0, vocab=None) -> List[Doc]:
    """corpus (Union[str, Path]): As `prepare_domains` writes. key (str): The
    corpus key. split (str): The split. limit (int): First N docs; 0 for all.
    vocab: The vocab to read into (default: a blank one).
    RETURNS (List[Doc]): The docs."""
    path = Path(corpus) / key / f"{split}.spacy"
    if not path.exists():
        raise ValueError(f"{path} not found: run `scripts/cross_domain.py prepare` first")
    return list(itertools.islice(DocBin().from_disk(path).get_docs(vocab or spacy.blank("xx").vocab), limit or None))


@dataclass
class DomainStudy(Budget):
    """The study's settings (with `Budget`'s n_train, n_dev, n_test, epochs).

    corpus (str): As `prepare_domains` writes.
    langs (List[str]): Languages; each gets its own matrix.
    datasets (List[str]): The datasets of each language.
    config (str): `xlmr_ner`'s training config.
    encoder (str): Encoder directory or name, for both systems.
    systems (List[str]): Among "xlmr_ner" and "reference".
    reference_lr (float): The reference recipe's peak learning rate.
    n_evals (int): `xlmr_ner`'s dev evaluations (model-best is selected on dev).
    variant (str): Name of the `xlmr_ner` settings tried, "default" for the shipped config.
    overrides (Dict[str, Any]): Config overrides of the variant.
    all_domains (bool): Also train one model per language on every dataset
        together, `n_train / len(datasets)` sentences of each (the same total).
    train_datasets (List[str]): Train on these datasets only (a part of the
        matrix, e.g. to screen settings); empty for every dataset.
    seed (int): The reference's seed (xlmr_ner's is the config's).
    gpu_id (int): GPU for `xlmr_ner`, -1 for CPU.
    """

    corpus: str
    langs: List[str]
    datasets: List[str]
    config: str
    encoder: str
    systems: List[str] = field(default_factory=lambda: list(SYSTEMS))
    reference_lr: float = 1e-4
    n_evals: int = 5
    variant: str = "default"
    overrides: Dict[str, Any] = field(default_factory=dict)
    all_domains: bool = True
    train_datasets: List[str] = field(default_factory=list)
    seed: int = 0
    gpu_id: int = -1

    def __post_init__(self):
        super().__post_init__()
        self.langs, self.datasets, self.systems, self.train_datasets = (
            split_list(x) for x in (self.langs, self.datasets, self.systems, self.train_datasets)
        )
        if set(self.train_datasets) - set(self.datasets):
            raise ValueError(f"Training datasets {self.train_datasets} must be among the datasets {self.datasets}")
        unknown = set(self.systems) - set(SYSTEMS)
        if unknown:
            raise ValueError(f"Unknown systems {sorted(unknown)}: choose from {', '.join(SYSTEMS)}")
        if not self.langs or len(self.datasets) < 2:
            raise ValueError("The study needs at least one language and two datasets")
        self.corpus, self.config, self.encoder = str(self.corpus), str(self.config), str(self.encoder)

    def sources(self, lang: str) -> Dict[str, Tuple[str, List[str], int]]:
        """lang (str): A language. RETURNS (Dict[str, Tuple[str, List[str], int]]):
        The training runs of the language: row name -> (corpus, corpus keys,
        sentences per key)."""
        keys = [domain_key(d, lang) for d in self.datasets]
        rows = {d: (self.corpus, [domain_key(d, lang)], self.n_train) for d in self.train_datasets or self.datasets}
        if self.all_domains:
            rows[ALL] = (str(Path(self.corpus) / UNIFIED), keys, math.ceil(self.n_train / len(keys)))
        return rows


def run_name(study: DomainStudy, system: str, row: str, lang: str) -> str:
    """RETURNS (str): The name of one training run; `xlmr_ner`'s carry the
    variant, the reference's do not (its settings are not varied)."""
    return f"{system}-{study.variant}-{row}-{lang}" if system == XLMR_NER else f"{system}-{row}-{lang}"


def reference_sentences(docs: Sequence[Doc]) -> List[Tuple[List[str], List[str]]]:
    """docs (Sequence[Doc]): Gold docs. RETURNS (List[Tuple[List[str], List[str]]]):
    Their (words, IOB2 tags), as the reference recipe trains on them."""
    return [([t.text for t in doc], biluo_to_iob(doc_to_biluo_tags(doc))) for doc in docs]


def train_run(study: DomainStudy, system: str, lang: str, row: str, training_dir: Path) -> Dict[str, Any]:
    """Train one system on one row's data. RETURNS (Dict[str, Any]): `model`,
    `train_seconds`, `steps`, `n_train_sentences`, `labels`."""
    corpus, keys, n_train = study.sources(lang)[row]
    train_docs = [doc for key in keys for doc in read_split(corpus, key, "train", n_train)]
    labels = sorted(labels_of(train_docs))
    name = run_name(study, system, row, lang)
    if system == XLMR_NER:
        exp = Experiment(
            keys, keys, corpus, study.config, study.encoder, n_train=n_train, n_dev=study.n_dev,
            n_test=study.n_test, epochs=study.epochs, n_evals=study.n_evals, gpu_id=study.gpu_id, name=name,
            overrides=dict(study.overrides),
        )
        trained = train_experiment(exp, training_dir)
        return {**trained, "labels": labels}
    from ..benchmark.reference import train_reference

    out = Path(training_dir) / name
    result = train_reference(
        study.encoder, reference_sentences(train_docs), out, epochs=study.epochs, batch_size=16,
        learn_rate=study.reference_lr, seed=study.seed,
    )
    return {"model": str(out), "train_seconds": result["seconds"], "steps": result["steps"],
            "n_train_sentences": len(train_docs), "batch_size": 16, "labels": labels}


def score_run(
    system: str, model: str, test_sets: Dict[str, List[Doc]], train_labels: Sequence[str], unified: Sequence[str]
) -> Dict[str, Dict[str, Any]]:
    """Score a trained system on every test set, on the gold tokens.

    system (str): "xlmr_ner" or "reference".
    model (str): The trained model's directory.
    test_sets (Dict[str, List[Doc]]): Gold docs per corpus key.
    train_labels (Sequence[str]): The types the model was trained on.
    unified (Sequence[str]): The types every dataset of the language has.
    RETURNS (Dict[str, Dict[str, Any]]): Per test key: `shared` (scores over
        the types the training and test data share, with `labels`) and
        `unified` (scores over the unified types).
    """
    from ..benchmark.measure import load_system, predict_gold_tokens

    kind = "spacy" if system == XLMR_NER else "hf"
    predictor = load_system(kind, Path(model))
    out: Dict[str, Dict[str, Any]] = {}
    for key, gold in test_sets.items():
        start = time.perf_counter()
        examples = predict_gold_tokens(kind, predictor, gold)
        seconds = time.perf_counter() - start
        shared = sorted(set(train_labels) & labels_of(gold))
        out[key] = {"seconds": seconds}
        for name, labels in (("shared", shared), ("unified", sorted(unified))):
            restricted, removed = restrict_labels(examples, labels)
            scores = score_examples(restricted)
            out[key][name] = {
                "labels": labels,
                **{k: scores[k] for k in ("ents_p", "ents_r", "ents_f", "untyped_f", "ents_per_type", "n_gold_ents")},
                "removed": {f"{side} {label}": n for (side, label), n in sorted(removed.items())},
            }
    del predictor
    gc.collect()
    return out


def run_domain_study(
    study: DomainStudy,
    training_dir: Union[str, Path],
    metrics_dir: Union[str, Path],
    command: Optional[str] = None,
    reuse: bool = True,
) -> Dict[str, Any]:
    """Train every row of every language's matrix with each system, score each
    on every test set, and write `metrics_dir/domains-{variant}.json`, `.md`
    and a heatmap per language and system. Every run is also written to
    `metrics_dir/domains/` as it ends, and reused by a later call with the same
    settings while its model is on disk (`reuse`).

    study (DomainStudy): The settings.
    training_dir (Union[str, Path]): Where the models go.
    metrics_dir (Union[str, Path]): Where the results go.
    command (Optional[str]): The command line, for the record.
    reuse (bool): Reuse finished runs with the same settings.
    RETURNS (Dict[str, Any]): The record.
    """
    training_dir, metrics_dir = Path(training_dir), Path(metrics_dir)
    runs_dir = metrics_dir / "domains"
    runs_dir.mkdir(parents=True, exist_ok=True)
    settings = asdict(study)
    runs: Dict[str, Dict[str, Any]] = {}
    for lang in study.langs:
        keys = [domain_key(d, lang) for d in study.datasets]
        unified = set.intersection(*(labels_of(read_split(study.corpus, key, "train", study.n_train)) for key in keys))
        test_sets = {key: read_split(study.corpus, key, "test", study.n_test) for key in keys}
        for system in study.systems:
            for row in study.sources(lang):
                run_settings = _run_settings(settings, system, lang, row)
                name = run_name(study, system, row, lang)
                path = runs_dir / f"{name}.json"
                if reuse and path.exists():
                    stored = srsly.read_json(path)
                    if stored.get("settings") == run_settings and Path(stored["model"]).exists():
                        msg.info(f"Reusing {path}")
                        runs[name] = stored
                        continue
                msg.divider(f"{name}: train on {row} ({lang}), test on {', '.join(keys)}")
                trained = train_run(study, system, lang, row, training_dir)
                start = time.perf_counter()
                results = score_run(system, trained["model"], test_sets, trained["labels"], sorted(unified))
                record = {
                    "name": name, "system": system, "lang": lang, "row": row, "settings": run_settings,
                    "command": command, **trained, "eval_seconds": time.perf_counter() - start,
                    "machine": machine_info(study.gpu_id if system == XLMR_NER else -1), "results": results,
                }
                srsly.write_json(path, record)
                runs[name] = record
                f1s = ", ".join(f"{k} {pct(v['shared']['ents_f'])}" for k, v in results.items())
                msg.good(f"{name}: {trained['train_seconds']:.0f}s; F1 {f1s}")
    record = summarize(study, runs, command)
    stem = f"domains-{study.variant}"
    srsly.write_json(metrics_dir / f"{stem}.json", record)
    (metrics_dir / f"{stem}.md").write_text(markdown_report(record) + "\n", encoding="utf-8")
    for lang, systems in record["matrix"].items():
        for system, matrix in systems.items():
            plot_matrix(
                matrix, metrics_dir / f"{stem}-{lang}-{system}.png", axis="data set",
                title=f"{system} ({lang}): entity F1 (%) over the shared types",
            )
    return record


def _run_settings(settings: Dict[str, Any], system: str, lang: str, row: str) -> Dict[str, Any]:
    """What defines one run, so that runs are reused only with the same settings."""
    common = {k: settings[k] for k in ("corpus", "encoder", "n_train", "n_dev", "n_test", "epochs", "datasets")}
    if system == XLMR_NER:
        extra = {k: settings[k] for k in ("config", "n_evals", "overrides", "gpu_id")}
    else:
        extra = {"reference_lr": settings["reference_lr"], "seed": settings["seed"]}
    return {**common, **extra, "system": system, "lang": lang, "row": row}


def summarize(study: DomainStudy, runs: Dict[str, Dict[str, Any]], command: Optional[str]) -> Dict[str, Any]:
    """Gather the runs into matrices and means.

    RETURNS (Dict[str, Any]): `matrix` and `untyped` ({lang: {system: {row: {test row: F1}}}},
    shared types, single-dataset rows), `all_domains` (the same over the unified types, every
    row), `means` (per system: in-domain, out-of-domain), and the settings and runs' times.
    """
    matrix: Dict[str, Dict[str, Dict]] = {}
    untyped: Dict[str, Dict[str, Dict]] = {}
    all_domains: Dict[str, Dict[str, Dict]] = {}
    for run in runs.values():
        lang, system, row = run["lang"], run["system"], run["row"]
        cells = {key.rsplit("-", 1)[0]: res for key, res in run["results"].items()}
        if row != ALL:
            matrix.setdefault(lang, {}).setdefault(system, {})[row] = {t: r["shared"]["ents_f"] for t, r in cells.items()}
            untyped.setdefault(lang, {}).setdefault(system, {})[row] = {t: r["shared"]["untyped_f"] for t, r in cells.items()}
        all_domains.setdefault(lang, {}).setdefault(system, {})[row] = {t: r["unified"]["ents_f"] for t, r in cells.items()}
    for table in (matrix, untyped, all_domains):
        for lang, systems in table.items():
            for system, rows in systems.items():
                order = [d for d in study.datasets if d in rows] + ([ALL] if ALL in rows else [])
                systems[system] = {r: {d: rows[r][d] for d in study.datasets if d in rows[r]} for r in order}
    means: Dict[str, Dict[str, Optional[float]]] = {}
    for system in study.systems:
        ind = [row[r] for sys_rows in _rows(matrix, system) for r, row in sys_rows.items() if r in row]
        ood = [v for sys_rows in _rows(matrix, system) for r, row in sys_rows.items() for t, v in row.items() if t != r]
        means[system] = {"in_domain": _mean(ind), "out_of_domain": _mean(ood), "n_in": len(ind), "n_out": len(ood)}
        wikiann = [rows[r][r] for rows in _rows(matrix, system) for r in rows if r == "wikiann" and r in rows[r]]
        means[system]["wikiann_in_domain"] = _mean(wikiann)
    return {
        "settings": asdict(study),
        "command": command,
        "matrix": matrix,
        "untyped": untyped,
        "all_domains": all_domains,
        "unified_labels": {lang: sorted(_unified(runs, lang)) for lang in study.langs},
        "shared_labels": {
            run["name"]: {k: v["shared"]["labels"] for k, v in run["results"].items()} for run in runs.values()
        },
        "means": means,
        "runs": {
            name: {k: run.get(k) for k in ("train_seconds", "eval_seconds", "steps", "n_train_sentences", "model")}
            for name, run in runs.items()
        },
        "machine": next(iter(runs.values()))["machine"] if runs else None,
    }


def _rows(table: Dict[str, Dict[str, Dict]], system: str) -> List[Dict[str, Dict[str, float]]]:
    return [systems[system] for systems in table.values() if system in systems]


def _unified(runs: Dict[str, Dict[str, Any]], lang: str) -> Set[str]:
    for run in runs.values():
        if run["lang"] == lang:
            return set(next(iter(run["results"].values()))["unified"]["labels"])
    return set()


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def markdown_report(record: Dict[str, Any]) -> str:
    """record (Dict[str, Any]): As from `run_domain_study`. RETURNS (str): The
    matrices, the all-domains tables and the means, in Markdown."""
    s = record["settings"]
    parts = [
        f"Variant `{s['variant']}` (xlmr_ner overrides: {s['overrides'] or 'none'}); encoder `{s['encoder']}`; "
        f"first {s['n_train']} training sentences per run ({s['epochs']:g} epoch(s), batch 16), model selection on "
        f"the first {s['n_dev']} dev sentences (xlmr_ner), first {s['n_test']} test sentences; reference recipe at "
        f"learning rate {s['reference_lr']:g}. Scores on the gold tokens.",
    ]
    means = record["means"]
    rows = [[system, pct(m["in_domain"]), pct(m["out_of_domain"]), pct(m.get("wikiann_in_domain"))]
            for system, m in means.items()]
    parts += ["Means over the matrices (strict F1, %):",
              markdown_table(["system", "in-domain", "out-of-domain", "WikiANN in-domain"], rows)]
    for lang, systems in record["matrix"].items():
        for system, matrix in systems.items():
            parts += [f"**{lang}, {system}**: strict F1 (%) over the types train and test data share:",
                      markdown_matrix(matrix, metric="F")]
            parts += [f"**{lang}, {system}**: type-ignored F1 (%):",
                      markdown_matrix(record["untyped"][lang][system], metric="F untyped")]
    for lang, systems in record["all_domains"].items():
        labels = ", ".join(record["unified_labels"].get(lang, []))
        for system, matrix in systems.items():
            parts += [f"**{lang}, {system}, all domains**: strict F1 (%) over {labels}:",
                      markdown_matrix(matrix, metric="F")]
    parts.append(f"Command: `{record['command']}`")
    return "\n\n".join(parts)
