"""Cross-lingual experiments: train on some languages, evaluate on others.

python scripts/experiment.py run corpus/experiments --train-langs de --eval-langs de,en,es,nl,pl,ru
python scripts/experiment.py run corpus/experiments --train-langs de,es --eval-langs de,en,es,nl,pl,ru
python scripts/experiment.py matrix corpus/experiments --langs de,en,es,nl,pl,ru
"""
import shlex
import sys
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # harness/ is the project's, not installed
from harness.experiments import Experiment, run_experiment, run_matrix  # noqa: E402

app = typer.Typer(add_completion=False, help=__doc__)

CORPUS = typer.Argument(..., exists=True, help="Directory of {lang}/{train,dev,test}.spacy files")
CONFIG = typer.Option(Path("configs/cpu.cfg"), exists=True, help="Training config")
ENCODER = typer.Option("encoders/e5-small", help="Encoder name or directory (paths.encoder)")
N_TRAIN = typer.Option(2000, min=0, help="First N training sentences per language (0: all)")
N_DEV = typer.Option(300, min=0, help="First N dev sentences per training language (0: all)")
N_TEST = typer.Option(1000, min=0, help="First N test sentences per test language (0: all)")
EPOCHS = typer.Option(2.0, min=0.01, help="Passes over the training sentences")
N_EVALS = typer.Option(10, min=1, help="Dev evaluations during training (learning-curve points)")
GPU = typer.Option(-1, help="GPU id, or -1 for CPU")
TRAINING = typer.Option(Path("training/experiments"), help="Directory for the trained pipelines")
METRICS = typer.Option(Path("metrics"), help="Directory for the results (JSON, Markdown, PNG)")
RERUN = typer.Option(False, "--rerun", help="Train again even if a run with the same settings exists")


def _command() -> str:
    return shlex.join(["python", *sys.argv])


@app.command()
def run(
    corpus: Path = CORPUS,
    train_langs: str = typer.Option(..., help="Comma-separated training languages"),
    eval_langs: str = typer.Option(..., help="Comma-separated test languages"),
    name: Optional[str] = typer.Option(None, help="Name of the run (default: train-<langs joined by +>)"),
    config: Path = CONFIG,
    encoder: str = ENCODER,
    n_train: int = N_TRAIN,
    n_dev: int = N_DEV,
    n_test: int = N_TEST,
    epochs: float = EPOCHS,
    n_evals: int = N_EVALS,
    gpu_id: int = GPU,
    training: Path = TRAINING,
    metrics: Path = METRICS,
    rerun: bool = RERUN,
):
    """Train on --train-langs (zero-shot: one language; joint: several) and evaluate on --eval-langs."""
    exp = Experiment(
        train_langs, eval_langs, corpus, config, encoder, n_train=n_train, n_dev=n_dev, n_test=n_test,
        epochs=epochs, n_evals=n_evals, gpu_id=gpu_id, name=name,
    )
    try:
        record = run_experiment(exp, training, metrics, command=_command(), reuse=not rerun)
    except (ImportError, ValueError) as err:
        msg.fail(str(err), exits=1)
    print((metrics / f"{record['name']}.md").read_text(encoding="utf-8"))


@app.command()
def matrix(
    corpus: Path = CORPUS,
    langs: str = typer.Option(..., help="Comma-separated languages: each is trained on alone and tested on all"),
    config: Path = CONFIG,
    encoder: str = ENCODER,
    n_train: int = N_TRAIN,
    n_dev: int = N_DEV,
    n_test: int = N_TEST,
    epochs: float = EPOCHS,
    n_evals: int = N_EVALS,
    gpu_id: int = GPU,
    training: Path = TRAINING,
    metrics: Path = METRICS,
    rerun: bool = RERUN,
):
    """The train x test matrix: one run per language, F1 on every language, a table and a heatmap."""
    base = Experiment(
        langs, langs, corpus, config, encoder, n_train=n_train, n_dev=n_dev, n_test=n_test,
        epochs=epochs, n_evals=n_evals, gpu_id=gpu_id,
    )
    try:
        run_matrix(base, langs, training, metrics, command=_command(), reuse=not rerun)
    except (ImportError, ValueError) as err:
        msg.fail(str(err), exits=1)
    print((metrics / "matrix.md").read_text(encoding="utf-8"))


if __name__ == "__main__":
    app()
