"""A model card (README.md) for a trained pipeline directory, which
`spacy package` ships as the package's README, as SpanMarker's cards do:
languages, labels, data, hyperparameters, metrics and the training curve."""
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import srsly
from spacy.util import load_config

from ..evaluation.plots import learning_curve, plot_learning_curve, read_training_log
from ..evaluation.report import markdown_results, markdown_table, pct
from ..io.langs import ALL, parse_langs
from ..io.readers import DIRECTORY, FILE, LANGUAGES, corpus_layout, resolve_corpus_files
from ..pipeline.entity_pipe import entity_component_name

CURVE_FILE = "learning_curve.png"


def write_model_card(
    model_dir: Union[str, Path],
    metrics: Optional[Dict[str, Dict]] = None,
    log_path: Optional[Union[str, Path]] = None,
    data: Optional[str] = None,
    component: Optional[str] = None,
    *,
    name: Optional[str] = None,
    version: Optional[str] = None,
    license: Optional[str] = None,
) -> Path:
    """Write `README.md` (and `learning_curve.png` if there is a log) into a
    trained pipeline directory, and add the test metrics and languages to its
    `meta.json` (`performance["test"]`, `languages`), with the name, version
    and license given. Also write `LICENSE` and `LICENSES_SOURCES` (the
    encoder and the training data), the files `spacy package` ships beside
    the README.

    model_dir (Union[str, Path]): The pipeline directory (e.g. model-best).
    metrics (Optional[Dict[str, Dict]]): Test scores per language, as from
        `evaluate_per_language` (the JSON of `scripts/evaluate.py`).
    log_path (Optional[Union[str, Path]]): The training log (JSONL of
        `spacy.ConsoleLogger.v3`), for the curve.
    data (Optional[str]): A description of the training data.
    component (Optional[str]): The NER component's name; None for the
        pipeline's `xlmr_ner` or `xlmr_span_ner` component.
    name (Optional[str]): The pipeline's name in `meta.json`, which `spacy
        package` names the package after (`{lang}_{name}`); None keeps it.
    version (Optional[str]): The pipeline's version in `meta.json`; None keeps it.
    license (Optional[str]): The license of the pipeline, e.g. "MIT"; None
        keeps the one in `meta.json`.
    RETURNS (Path): The README written.
    """
    model_dir = Path(model_dir)
    meta = srsly.read_json(model_dir / "meta.json")
    if name is not None:
        if not name.isidentifier():
            raise ValueError(f"Pipeline name {name!r} is not a Python identifier (as `spacy package` requires)")
        meta["name"] = name
    if version is not None:
        meta["version"] = version
    if license is not None:
        meta["license"] = license
    config = load_config(model_dir / "config.cfg", interpolate=True)
    component = component or entity_component_name(config) or "xlmr_ner"
    train_langs = _train_langs(config)
    test_langs = [lang for lang in (metrics or {}) if lang != "all"]
    labels = list(meta.get("labels", {}).get(component, []))
    curve = learning_curve(read_training_log(log_path), component) if log_path else None
    if curve:
        plot_learning_curve(curve, model_dir / CURVE_FILE, title=f"{meta['name']}: dev F1 and train loss")
    package = f"{meta['lang']}_{meta['name']}"
    lines = [f"# {package} {meta['version']}", ""]
    if meta.get("description"):
        lines += [meta["description"], ""]
    lines += [
        "Multilingual named entity recognition for spaCy: a `transformer` encoder and an `xlmr_ner` token "
        "classifier over IOB2 tags with constrained Viterbi decoding (package `spacy-xlmr-ner`).",
        "",
        markdown_table(
            ["Feature", "Description"],
            [
                ["Name", f"`{package}`"],
                ["Version", meta["version"]],
                ["spaCy", f"`{meta.get('spacy_version', '')}`"],
                ["Components", ", ".join(f"`{p}`" for p in meta.get("pipeline", []))],
                ["Encoder", f"`{_get(config, 'components.transformer.model.name')}`"],
                ["Trained on", ", ".join(train_langs) or "-"],
                ["Evaluated on", ", ".join(test_langs) or "-"],
                ["Labels", ", ".join(f"`{label}`" for label in labels) or "-"],
                ["Training data", data or _data_description(config)],
                ["License", meta.get("license") or "-"],
            ],
            numeric=False,
        ),
        "",
        "## Usage",
        "",
        "```python",
        "import spacy",
        "",
        f'nlp = spacy.load("{package}")',
        'doc = nlp("Angela Merkel besuchte im Mai die Vereinten Nationen in New York.")',
        "print([(ent.text, ent.label_) for ent in doc.ents])",
        f'print(doc.spans["{_get(config, f"components.{component}.spans_key") or component}"].attrs["scores"])'
        "  # confidence per entity",
        "```",
        "",
        "## Hyperparameters",
        "",
        markdown_table(
            ["Setting", "Value"], [[k, f"`{v}`"] for k, v in _hyperparameters(config, component)], numeric=False
        ),
    ]
    if metrics:
        lines += ["", "## Evaluation", "", markdown_results(metrics)]
    if curve:
        lines += [
            "",
            "## Training curve",
            "",
            f"![learning curve]({CURVE_FILE})",
            "",
            markdown_table(
                ["step", "epoch", "train loss / step", "dev F1"],
                [[p["step"], p["epoch"], "-" if p["loss"] is None else f"{p['loss']:.3f}", pct(p["score"])]
                 for p in curve],
            ),
        ]
    readme = model_dir / "README.md"
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sources = [f"Encoder: {_get(config, 'components.transformer.model.name')}",
               f"Training data: {data or _data_description(config)}"]
    (model_dir / "LICENSES_SOURCES").write_text(
        f"# Sources of {package} {meta['version']}\n\n" + "\n".join(sources)
        + "\n\nThe licenses of these sources apply to the pipeline as well as its own (LICENSE).\n",
        encoding="utf-8",
    )
    if license is not None or not (model_dir / "LICENSE").exists():
        own = f"is released under the {meta['license']} license" if meta.get("license") else "has no license given"
        (model_dir / "LICENSE").write_text(
            f"{package} {meta['version']} {own}.\nIt derives from the sources in LICENSES_SOURCES, "
            "whose licenses apply as well.\n",
            encoding="utf-8",
        )
    meta["languages"] = list(dict.fromkeys(train_langs + test_langs))
    if metrics:
        keep = ("ents_p", "ents_r", "ents_f", "ents_per_type", "untyped_f", "token_acc", "n_docs")
        meta.setdefault("performance", {})["test"] = {
            lang: {k: r.get(k) for k in keep} for lang, r in metrics.items()
        }
    srsly.write_json(model_dir / "meta.json", meta)
    return readme


def _get(config: Dict, dotted: str) -> Any:
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _train_layout(config: Dict) -> Optional[str]:
    try:
        return corpus_layout(Path(_get(config, "corpora.train.path")), "train")
    except (TypeError, ValueError):
        return None  # the corpus is not on this machine: the config says it all


def _train_langs(config: Dict) -> List[str]:
    path = _get(config, "corpora.train.path")
    layout = _train_layout(config)
    if layout in (FILE, DIRECTORY):
        return []  # `langs` selects from a {lang}/{split}.spacy corpus only
    langs = parse_langs(_get(config, "corpora.train.langs"))
    if langs == [ALL] and layout == LANGUAGES:
        return [p.parent.name for p in resolve_corpus_files(Path(path), "train", ALL)]
    return langs


def _data_description(config: Dict) -> str:
    limit = _get(config, "corpora.train.limit")
    if _train_layout(config) in (FILE, DIRECTORY):
        return f"`{_get(config, 'paths.train')}` ({f'first {limit} sentences of each file' if limit else 'all sentences'})"
    per_lang = f"first {limit} sentences per language" if limit else "all sentences"
    return f"`{_get(config, 'paths.train')}` (train split, {per_lang})"


def _hyperparameters(config: Dict, component: str) -> List[List[Any]]:
    paths = [
        ("encoder window / stride (pieces)", ("components.transformer.model.get_spans.window",
                                              "components.transformer.model.get_spans.stride")),
        ("pooling of word pieces", (f"components.{component}.model.tok2vec.pooling.@layers",)),
        ("head init scale", (f"components.{component}.model.init_scale",)),
        ("head dropout", (f"components.{component}.model.dropout",)),
        ("optimizer", ("training.optimizer.@optimizers",)),
        ("learning rate (peak)", ("training.optimizer.learn_rate.initial_rate",)),
        ("schedule", ("training.optimizer.learn_rate.@schedules",)),
        ("warmup steps", ("training.optimizer.learn_rate.warmup_steps",)),
        ("training steps", ("training.max_steps",)),
        ("batch size (sentences)", ("training.batcher.size",)),
        ("weight decay", ("training.optimizer.L2",)),
        ("gradient clipping", ("training.optimizer.grad_clip",)),
        ("mixed precision", ("components.transformer.model.mixed_precision",)),
        ("seed", ("training.seed",)),
    ]
    rows = []
    for name, keys in paths:
        values = [_get(config, key) for key in keys]
        if any(v is not None for v in values):
            rows.append([name, " / ".join(str(v) for v in values)])
    return rows
