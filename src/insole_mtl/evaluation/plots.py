"""Evaluation figures (confusion matrix, predicted vs true, training curves).

Figures are built with the object-oriented API on an Agg canvas (no pyplot global state, so
nothing leaks between Kedro nodes and no display is needed); they are returned, not saved --
the catalog's matplotlib dataset writes them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

_VAL_METRIC = re.compile(r"^val_(?P<task>[a-z0-9]+)_(?P<metric>.+)$")


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def plot_confusion_matrix(cm: Sequence[Sequence[float]] | np.ndarray, class_names: Sequence[str], normalize: bool = True) -> Figure:
    """Heat map of a confusion matrix (rows = true class, columns = predicted class).

    Args:
        cm: ``(K, K)`` counts, e.g. ``classification_metrics(...)["confusion_matrix"]``.
        class_names: K class names, tick labels of both axes.
        normalize: Show each row as fractions of its true-class count (empty rows stay 0).

    Returns:
        Figure with one axes titled ``"Confusion matrix (row-normalised)"`` or
        ``"Confusion matrix (counts)"``, x label ``"Predicted"``, y label ``"True"``.
    """
    matrix = np.asarray(cm, dtype=np.float64)
    k = len(class_names)
    if matrix.shape != (k, k):
        raise ValueError(f"plot_confusion_matrix: cm has shape {matrix.shape}; expected ({k}, {k}) for {k} class names")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = 1.0 + 0.6 * k
    fig = _new_figure(size + 1.5, size)
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0 if normalize else max(matrix.max(), 1.0))
    fig.colorbar(image, ax=ax)
    threshold = (1.0 if normalize else matrix.max()) / 2
    for i in range(k):
        for j in range(k):
            text = f"{matrix[i, j]:.2f}" if normalize else f"{int(matrix[i, j])}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if matrix[i, j] > threshold else "black")
    ax.set_xticks(range(k), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(k), labels=list(class_names))
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title("Confusion matrix (row-normalised)" if normalize else "Confusion matrix (counts)")
    return fig


def plot_predicted_vs_true(y_true: np.ndarray, y_pred: np.ndarray, task: str, unit: str) -> Figure:
    """Scatter of predictions against targets with the identity line.

    Windows whose target is NaN (task masked) are left out.

    Args:
        y_true: Targets ``(n,)`` in ``unit``.
        y_pred: Predictions ``(n,)`` in ``unit``.
        task: Task name, e.g. ``"speed"``.
        unit: Unit for the axis labels, e.g. ``"km/h"``.

    Returns:
        Figure with one axes titled ``"<task>: predicted vs true (MAE <x> <unit>, n=<n>)"``,
        x label ``"true <task> (<unit>)"``, y label ``"predicted <task> (<unit>)"``.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"plot_predicted_vs_true: {y_true.size} targets but {y_pred.size} predictions")
    keep = ~np.isnan(y_true)
    t, p = y_true[keep], y_pred[keep]
    fig = _new_figure(5.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(t, p, s=6, alpha=0.4, label="windows")
    if t.size:
        low = float(np.nanmin([t.min(), np.nanmin(p)]))
        high = float(np.nanmax([t.max(), np.nanmax(p)]))
        ax.plot([low, high], [low, high], color="black", linewidth=1, label="y = x")
        mae = f"{np.nanmean(np.abs(t - p)):.3g}"
    else:
        mae = "n/a"
    ax.set_xlabel(f"true {task} ({unit})")
    ax.set_ylabel(f"predicted {task} ({unit})")
    ax.set_title(f"{task}: predicted vs true (MAE {mae} {unit}, n={t.size})")
    ax.legend(loc="upper left")
    return fig


def plot_training_curves(history: pd.DataFrame) -> Figure:
    """Per-epoch losses and per-task validation metrics.

    Args:
        history: One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` and any number of
            ``val_<task>_<metric>`` columns (e.g. ``val_activity_accuracy``, ``val_speed_mae``).

    Returns:
        Figure with one axes titled ``"Loss"`` (train and val loss against epoch) followed by one
        axes per task, titled ``"val <task>"``, with that task's metrics, in column order.

    Raises:
        ValueError: If ``epoch``, ``train_loss`` or ``val_loss`` is missing.
    """
    missing = [c for c in ("epoch", "train_loss", "val_loss") if c not in history.columns]
    if missing:
        raise ValueError(f"plot_training_curves: history misses column(s) {missing}; present: {list(history.columns)}")
    tasks: dict[str, list[tuple[str, str]]] = {}
    for column in history.columns:
        match = _VAL_METRIC.match(str(column))
        if match and column != "val_loss":
            tasks.setdefault(match["task"], []).append((str(column), match["metric"]))
    fig = _new_figure(4.5 * (1 + len(tasks)), 3.8)
    axes = fig.subplots(1, 1 + len(tasks), squeeze=False)[0]
    epoch = history["epoch"].to_numpy()
    axes[0].plot(epoch, history["train_loss"].to_numpy(dtype=np.float64), label="train")
    axes[0].plot(epoch, history["val_loss"].to_numpy(dtype=np.float64), label="val")
    axes[0].set_title("Loss")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    for ax, (task, columns) in zip(axes[1:], tasks.items(), strict=True):
        for column, metric in columns:
            ax.plot(epoch, history[column].to_numpy(dtype=np.float64), label=metric)
        ax.set_title(f"val {task}")
        ax.set_xlabel("epoch")
        ax.legend()
    return fig
