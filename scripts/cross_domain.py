"""The cross-domain study (T-NER's dataset x dataset matrix): xlmr_ner and the
reference recipe trained on one dataset, tested on the others.

python scripts/cross_domain.py prepare ../shared/data corpus/domains --datasets wikiann,conll2002,wikineural --langs es,nl
python scripts/cross_domain.py run corpus/domains --datasets wikiann,conll2002,wikineural --langs es,nl
python scripts/cross_domain.py run corpus/domains --variant lr1e-4 --set training.optimizer.learn_rate.initial_rate=1e-4
"""
import json
import shlex
import sys
from pathlib import Path
from typing import List, Optional

import srsly
import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.experiments.domains import DomainStudy, prepare_domains, run_domain_study  # noqa: E402
from spacy_xlmr_ner.io.iob import IOBFormatError  # noqa: E402
from spacy_xlmr_ner.io.label_map import load_label_map  # noqa: E402
from spacy_xlmr_ner.io.langs import split_list  # noqa: E402

app = typer.Typer(add_completion=False, help=__doc__)

DATASETS = typer.Option("wikiann,conll2002,wikineural", help="Comma-separated dataset directories")
LANGS = typer.Option("es,nl", help="Comma-separated languages")


@app.command()
def prepare(
    data_dir: Path = typer.Argument(..., exists=True, help="Directory of {dataset}/{lang}/{split}.iob files"),
    output_dir: Path = typer.Argument(..., help="Where {dataset}-{lang}/{split}.spacy go"),
    datasets: str = DATASETS,
    langs: str = LANGS,
    n_select: int = typer.Option(1000, min=1, help="Dev sentences cut from train where a dataset has no test split"),
    n_report: int = typer.Option(3000, min=1, help="Test sentences cut from dev where a dataset has only dev"),
    label_map: Optional[str] = typer.Option(None, help="Label renames for every dataset: SRC=DST,... or a JSON file"),
):
    """Convert and split the datasets, with a unified-label copy for the all-domains model."""
    try:
        record = prepare_domains(
            data_dir, output_dir, split_list(datasets), split_list(langs), n_select=n_select, n_report=n_report,
            label_map=load_label_map(label_map),
        )
    except (IOBFormatError, ValueError, OSError) as err:
        msg.fail(str(err), exits=1)
    srsly.write_json(output_dir / "splits.json", record)
    for key, splits in record["corpora"].items():
        print(key, "  ".join(f"{s}: {v['sentences']} from {v['source']}" for s, v in splits.items()))
    for lang, info in record["unified"].items():
        print(f"{lang} unified labels: {', '.join(info['labels'])}; dropped {json.dumps(info['dropped'])}")
    msg.good(f"Wrote {output_dir} (splits in {output_dir / 'splits.json'})")


@app.command()
def run(
    corpus: Path = typer.Argument(..., exists=True, help="As `prepare` writes"),
    datasets: str = DATASETS,
    langs: str = LANGS,
    systems: str = typer.Option("xlmr_ner,reference", help="Comma-separated, among xlmr_ner and reference"),
    config: Path = typer.Option(Path("configs/cpu.cfg"), exists=True, help="xlmr_ner's training config"),
    encoder: str = typer.Option("encoders/e5-small", help="Encoder name or directory, for both systems"),
    n_train: int = typer.Option(2000, min=1, help="Training sentences per run"),
    n_dev: int = typer.Option(300, min=1, help="Dev sentences for xlmr_ner's model selection"),
    n_test: int = typer.Option(1000, min=1, help="Test sentences per test set"),
    epochs: float = typer.Option(1.0, min=0.01, help="Passes over the training sentences"),
    n_evals: int = typer.Option(5, min=1, help="xlmr_ner's dev evaluations"),
    reference_lr: float = typer.Option(1e-4, help="The reference recipe's peak learning rate"),
    variant: str = typer.Option("default", help="Name of the xlmr_ner settings (--set) tried"),
    overrides: List[str] = typer.Option([], "--set", help="xlmr_ner config override KEY=VALUE (JSON value)"),
    all_domains: bool = typer.Option(True, help="Also train on every dataset of a language together"),
    train_datasets: str = typer.Option("", help="Train on these datasets only (part of the matrix); default all"),
    gpu_id: int = typer.Option(-1, help="GPU id for xlmr_ner, or -1 for CPU"),
    training: Path = typer.Option(Path("training/domains"), help="Where the models go"),
    metrics: Path = typer.Option(Path("metrics"), help="Where the results go"),
    rerun: bool = typer.Option(False, "--rerun", help="Train again even where a run with the same settings exists"),
):
    """Train and score the matrix; results in METRICS/domains-{variant}.json, .md and heatmaps."""
    parsed = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            msg.fail(f"--set {item!r}: expected KEY=VALUE", exits=1)
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    try:
        study = DomainStudy(
            str(corpus), langs, datasets, str(config), encoder, systems=systems, reference_lr=reference_lr,
            n_evals=n_evals, variant=variant, overrides=parsed, all_domains=all_domains, gpu_id=gpu_id,
            train_datasets=train_datasets,
            n_train=n_train, n_dev=n_dev, n_test=n_test, epochs=epochs,
        )
        run_domain_study(study, training, metrics, command=shlex.join(["python", *sys.argv]), reuse=not rerun)
    except (ImportError, ValueError) as err:
        msg.fail(str(err), exits=1)
    print((metrics / f"domains-{variant}.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    app()
