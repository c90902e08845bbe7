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

from insole_mtl.encoding.recurrence import encode_recurrence_plots

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


def _members(history: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """``[(label suffix, rows)]``: the whole history, or one entry per member of an ensemble's history (a
    ``member`` column, :func:`insole_mtl.pipelines.training.nodes.train_multitask_model`)."""
    if "member" not in history.columns:
        return [("", history)]
    return [(f" (member {int(member)})", part) for member, part in history.groupby("member", sort=True)]


def plot_training_curves(history: pd.DataFrame) -> Figure:
    """Per-epoch losses and per-task validation metrics.

    Args:
        history: One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` and any number of
            ``val_<task>_<metric>`` columns (e.g. ``val_activity_accuracy``, ``val_speed_mae``); an
            ensemble's history also a ``member`` column (one line per member).

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
    for suffix, part in _members(history):
        epoch = part["epoch"].to_numpy()
        axes[0].plot(epoch, part["train_loss"].to_numpy(dtype=np.float64), label=f"train{suffix}")
        axes[0].plot(epoch, part["val_loss"].to_numpy(dtype=np.float64), label=f"val{suffix}")
        for ax, columns in zip(axes[1:], tasks.values(), strict=True):
            for column, metric in columns:
                ax.plot(epoch, part[column].to_numpy(dtype=np.float64), label=f"{metric}{suffix}")
    axes[0].set_title("Loss")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("loss")
    axes[0].legend()
    for ax, task in zip(axes[1:], tasks, strict=True):
        ax.set_title(f"val {task}")
        ax.set_xlabel("epoch")
        ax.legend()
    return fig


# --------------------------------------------------------------------------------------------------
# Issue #11: the figures users look at first (recurrence plots and signals per class, per-task losses with the
# learnt weights, per-subject weight).
# --------------------------------------------------------------------------------------------------
def one_window_per_class(labels: pd.DataFrame, n_classes: int, column: str = "activity") -> list[tuple[int, int]]:
    """``(class, row)`` of one window of each class present in ``labels[column]`` (class order).

    Raises:
        ValueError: no window carries a class ``0 .. n_classes - 1``.
    """
    values = labels[column].to_numpy()
    picked = []
    for k in range(n_classes):
        rows = np.flatnonzero(values == k)
        if rows.size:
            picked.append((k, int(rows[len(rows) // 2])))  # a window from the middle of the class's windows
    if not picked:
        raise ValueError(f"no window carries a class in labels[{column!r}]")
    return picked


def plot_recurrence_gallery(
    plots: np.ndarray, labels: pd.DataFrame, class_names: Sequence[str], channels: Sequence[str], column: str = "activity"
) -> Figure:
    """One window per class (rows) x every channel (columns): its recurrence plot as the model reads it.

    Args:
        plots: recurrence plots ``(n, C, R, R)``: 0/1 plots or recurrence counts per cell (any numeric dtype;
            shown as the local recurrence rate, scaled to [0, 1] per figure).
        labels: one row per window, class ids in ``labels[column]``; class_names: K names; channels: C names.

    Returns:
        Figure titled ``"Recurrence plots, one window per class"``; each axes titled with the channel name, each
        row labelled with the class name.
    """
    plots = np.asarray(plots)
    if plots.ndim != 4 or plots.shape[1] != len(channels):
        raise ValueError(f"plots must be (n, {len(channels)}, R, R) for channels {list(channels)}, got shape {plots.shape}")
    picked = one_window_per_class(labels, len(class_names), column)
    top = max(float(plots.max()), 1.0)
    fig = _new_figure(1.25 * len(channels) + 1, 1.3 * len(picked) + 0.8)
    axes = fig.subplots(len(picked), len(channels), squeeze=False)
    for r, (k, row) in enumerate(picked):
        for c, channel in enumerate(channels):
            ax = axes[r, c]
            ax.imshow(plots[row, c] / top, cmap="Greys", vmin=0, vmax=1, origin="lower", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(str(channel), fontsize=8)
            if c == 0:
                ax.set_ylabel(str(class_names[k]), fontsize=8)
    fig.suptitle("Recurrence plots, one window per class")
    return fig


def plot_window_gallery(
    windows: np.ndarray,
    labels: pd.DataFrame,
    class_names: Sequence[str],
    channels: Sequence[str],
    percentage: float,
    resolution: int | None,
    column: str = "activity",
) -> Figure:
    """:func:`plot_recurrence_gallery` of one raw window per class, encoded as the model reads it.

    Args:
        windows: raw windows ``(n, C, L)``; labels: one row per window (class ids in ``labels[column]``).
        percentage, resolution: the recurrence threshold (% of the max distance) and plot size (None: full L x L).
    """
    rows = [row for _, row in one_window_per_class(labels, len(class_names), column)]
    picked = np.asarray(windows[rows], dtype=np.float32)
    plots = encode_recurrence_plots(picked, float(percentage), resolution=int(resolution) if resolution else None)
    if not resolution:
        plots = np.unpackbits(plots, axis=-1, count=picked.shape[-1], bitorder="little")
    return plot_recurrence_gallery(plots, labels.iloc[rows].reset_index(drop=True), class_names, channels, column)


def plot_signal_snippets(
    windows: np.ndarray, labels: pd.DataFrame, class_names: Sequence[str], channels: Sequence[str], rate_hz: float, column: str = "activity"
) -> Figure:
    """Raw signals of one window per class (rows): accelerometer channels and force channels in two columns.

    Args:
        windows: raw windows ``(n, C, L)`` in sensor units; rate_hz: their sampling rate (x axis in seconds).
        channels: C names; names starting with ``fsr`` or a foot letter + digit (gaitpdb ``L1``) are forces.

    Returns:
        Figure titled ``"Raw signals, one window per class"``, axes titled ``"<class>: motion"`` / ``"<class>: force"``.
    """
    windows = np.asarray(windows)
    if windows.ndim != 3 or windows.shape[1] != len(channels):
        raise ValueError(f"windows must be (n, {len(channels)}, L) for channels {list(channels)}, got shape {windows.shape}")
    picked = one_window_per_class(labels, len(class_names), column)
    force = [bool(re.match(r"^(fsr|[LR]\d)", str(c))) for c in channels]
    groups = [("motion", [i for i, f in enumerate(force) if not f]), ("force", [i for i, f in enumerate(force) if f])]
    groups = [g for g in groups if g[1]]
    t = np.arange(windows.shape[-1]) / float(rate_hz)
    fig = _new_figure(6.0 * len(groups), 1.8 * len(picked) + 0.8)
    axes = fig.subplots(len(picked), len(groups), squeeze=False, sharex=True)
    for r, (k, row) in enumerate(picked):
        for g, (name, index) in enumerate(groups):
            ax = axes[r, g]
            for i in index:
                ax.plot(t, windows[row, i], linewidth=0.8, label=str(channels[i]))
            ax.set_title(f"{class_names[k]}: {name}", fontsize=9)
            if r == len(picked) - 1:
                ax.set_xlabel("time (s)")
            if r == 0:
                ax.legend(fontsize=6, ncol=4, loc="upper right")
    fig.suptitle("Raw signals, one window per class")
    return fig


def plot_task_losses(history: pd.DataFrame) -> Figure:
    """Per-task training/validation losses per epoch (left) and the loss weighting's per-task weights (right;
    for ``uncertainty`` the learnt ``exp(-log_var)`` of Kendall et al.).

    Args:
        history: the training history (``epoch``, ``train_<task>_loss``, ``val_<task>_loss``, ``weight_<task>``;
            an ensemble's also ``member``: one line per member).

    Returns:
        Figure with axes titled ``"Per-task loss"`` and ``"Task weights"``.
    """
    if "epoch" not in history.columns:
        raise ValueError(f"history needs an 'epoch' column, got {list(history.columns)}")
    tasks = [m.group(1) for c in history.columns if (m := re.match(r"^train_([a-z0-9]+)_loss$", c))]
    if not tasks:
        raise ValueError(f"history has no train_<task>_loss column: {list(history.columns)}")
    fig = _new_figure(10, 4)
    left, right = fig.subplots(1, 2)
    for suffix, part in _members(history):
        epochs = part["epoch"].to_numpy()
        for i, task in enumerate(tasks):
            colour = f"C{i}"
            left.plot(epochs, part[f"train_{task}_loss"], color=colour, marker="o", label=f"{task} train{suffix}")
            if f"val_{task}_loss" in part.columns:
                left.plot(epochs, part[f"val_{task}_loss"], color=colour, linestyle="--", marker="s", label=f"{task} val{suffix}")
            if f"weight_{task}" in part.columns:
                right.plot(epochs, part[f"weight_{task}"], color=colour, marker="o", label=f"{task}{suffix}")
    left.set(title="Per-task loss", xlabel="epoch", ylabel="loss (standardised targets)")
    right.set(title="Task weights", xlabel="epoch", ylabel="weight")
    left.legend(fontsize=7)
    if right.lines:
        right.legend(fontsize=7)
    return fig


def plot_subject_weight(predictions: pd.DataFrame, pred: str = "pred_weight", true: str = "weight") -> Figure:
    """Per-subject body weight: the median prediction over a subject's weight windows (with its interquartile
    range) against the subject's true weight, identity line dashed.

    Args:
        predictions: one row per window with ``subject``, the predicted (``pred``) and true (``true``) weight in
            kg; windows without a true weight are ignored.

    Returns:
        Figure titled ``"Body weight per subject (n subjects)"``.
    """
    for column in ("subject", pred, true):
        if column not in predictions.columns:
            raise ValueError(f"predictions need a {column!r} column, got {list(predictions.columns)}")
    known = predictions[predictions[true].notna()]
    grouped = known.groupby("subject")
    table = pd.DataFrame(
        {"true": grouped[true].first(), "median": grouped[pred].median(),
         "q25": grouped[pred].quantile(0.25), "q75": grouped[pred].quantile(0.75)}
    )  # fmt: skip
    fig = _new_figure(5, 5)
    ax = fig.subplots()
    if len(table):
        ax.errorbar(table["true"], table["median"], yerr=[table["median"] - table["q25"], table["q75"] - table["median"]],
                    fmt="o", capsize=3)  # fmt: skip
        for subject, row in table.iterrows():
            ax.annotate(str(subject), (row["true"], row["median"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        low, high = float(min(table["true"].min(), table["q25"].min())), float(max(table["true"].max(), table["q75"].max()))
        ax.plot([low, high], [low, high], linestyle="--", color="grey")
    ax.set(title=f"Body weight per subject ({len(table)} subjects)", xlabel="true weight (kg)", ylabel="predicted weight (kg)")
    return fig


def amplitude_by_class(windows: np.ndarray, labels: pd.DataFrame, class_names: Sequence[str], channels: Sequence[str]) -> pd.DataFrame:
    """Mean over each class's windows of the amplitude statistics the model reads (per channel: mean, std, min,
    max of the raw window, sensor units): rows = classes, columns = ``<channel>_<statistic>``."""
    from insole_mtl.models.amplitude import AMPLITUDE_STATISTICS, amplitude_statistics_numpy

    stats = amplitude_statistics_numpy(np.asarray(windows))
    columns = [f"{c}_{s}" for c in channels for s in AMPLITUDE_STATISTICS]
    table = pd.DataFrame(stats, columns=columns)
    table["activity"] = [class_names[int(k)] for k in labels["activity"].to_numpy()]
    return table.groupby("activity", sort=False).mean().reindex([c for c in class_names if c in set(table["activity"])])


def plot_amplitude_by_class(table: pd.DataFrame, statistic: str = "std") -> Figure:
    """Heat map of one amplitude statistic per class (rows) and channel (columns), from :func:`amplitude_by_class`;
    each column scaled to its maximum so accelerometer and force channels share one colour scale."""
    columns = [c for c in table.columns if c.endswith(f"_{statistic}")]
    if not columns:
        raise ValueError(f"no '<channel>_{statistic}' column in {list(table.columns)[:8]}...")
    values = table[columns].to_numpy(np.float64)
    scaled = values / np.maximum(np.abs(values).max(axis=0, keepdims=True), 1e-12)
    fig = _new_figure(0.55 * len(columns) + 2.5, 0.45 * len(table) + 1.5)
    ax = fig.subplots()
    image = ax.imshow(scaled, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(columns)), [c[: -len(statistic) - 1] for c in columns], rotation=60, fontsize=7)
    ax.set_yticks(range(len(table)), list(table.index), fontsize=8)
    ax.set_title(f"Amplitude statistic '{statistic}' per class (column-scaled)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig
