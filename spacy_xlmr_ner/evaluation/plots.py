"""Figures: the cross-lingual F1 heatmap and the learning curve of a run."""
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Union

import srsly

from ..extras import import_extra


def _pyplot():
    # Imported here so that the package works without matplotlib.
    matplotlib = import_extra("matplotlib", "package", "Drawing figures (the learning curve, the F1 matrix)")
    matplotlib.use("Agg")
    return import_extra("matplotlib.pyplot", "package", "Drawing figures")


def plot_matrix(
    matrix: Mapping[str, Mapping[str, Optional[float]]],
    path: Union[str, Path],
    title: str = "Entity F1 (%), train language x test language",
    axis: str = "language",
) -> Path:
    """Draw a train x test heatmap of F1 scores, values written in the cells.

    matrix (Mapping[str, Mapping[str, Optional[float]]]): {train: {test: F1 in [0, 1]}}.
    path (Union[str, Path]): The PNG to write.
    title (str): The figure title.
    axis (str): What the rows and columns are, for the axis labels
        ("test language", "train language(s)").
    RETURNS (Path): The path written.
    """
    plt = _pyplot()
    trains = list(matrix)
    tests = list(dict.fromkeys(t for row in matrix.values() for t in row))
    values = [[matrix[tr].get(te) for te in tests] for tr in trains]
    grid = [[float("nan") if v is None else 100 * v for v in row] for row in values]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(tests), 1.0 + 0.7 * len(trains)))
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(tests)), labels=tests)
    ax.set_yticks(range(len(trains)), labels=trains)
    ax.set_xlabel(f"test {axis}")
    ax.set_ylabel(f"train {axis}(s)")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.1f}", ha="center", va="center", color="white" if v < 60 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_title(title, fontsize=10)
    return _save(plt, fig, path)


def read_training_log(path: Union[str, Path]) -> List[Dict]:
    """Read the JSONL log that `spacy.ConsoleLogger.v3` writes (`output_file`).

    path (Union[str, Path]): The log file.
    RETURNS (List[Dict]): One record per evaluation: `epoch`, `step`, `losses`
        (summed over the steps since the previous evaluation), `scores`
        (in percent) and `score` (the weighted score in [0, 1]).
    """
    records = list(srsly.read_jsonl(path))
    if not records:
        raise ValueError(f"{path}: empty training log")
    return records


def learning_curve(records: List[Dict], component: str = "xlmr_ner") -> List[Dict]:
    """Turn log records into curve points.

    records (List[Dict]): As from `read_training_log`.
    component (str): The component whose loss to report.
    RETURNS (List[Dict]): Per evaluation: `step`, `epoch`, `loss` (mean loss
        per step since the previous evaluation) and `score` (dev score in [0, 1]).
    """
    points, last_step = [], 0
    for record in records:
        steps = max(record["step"] - last_step, 1)
        loss = record["losses"].get(component)
        points.append(
            {
                "step": record["step"],
                "epoch": record["epoch"],
                "loss": None if loss is None else loss / steps,
                "score": record["score"],
            }
        )
        last_step = record["step"]
    return points


def plot_learning_curve(points: List[Dict], path: Union[str, Path], title: str = "Learning curve") -> Path:
    """Draw training loss and dev score against the step.

    points (List[Dict]): As from `learning_curve`.
    path (Union[str, Path]): The PNG to write.
    title (str): The figure title.
    RETURNS (Path): The path written.
    """
    plt = _pyplot()
    fig, ax_loss = plt.subplots(figsize=(6, 3.4))
    steps = [p["step"] for p in points]
    loss_points = [(p["step"], p["loss"]) for p in points if p["loss"] is not None and p["step"] > 0]
    if loss_points:
        ax_loss.plot(*zip(*loss_points), color="tab:red", marker="o", label="train loss / step")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("train loss per step", color="tab:red")
    ax_score = ax_loss.twinx()
    ax_score.plot(steps, [100 * p["score"] for p in points], color="tab:blue", marker="s", label="dev F1")
    ax_score.set_ylabel("dev entity F1 (%)", color="tab:blue")
    ax_score.set_ylim(0, 100)
    ax_loss.set_title(title, fontsize=10)
    return _save(plt, fig, path)


def _save(plt, fig, path: Union[str, Path]) -> Path:
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
