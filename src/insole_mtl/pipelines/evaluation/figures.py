"""Evaluation figures of issue #11: a recurrence-plot gallery and raw-signal snippets (one test window per
class, every channel), per-task losses with the loss weighting's per-task weights, and per-subject predicted vs
true body weight. Saved by the catalog's ``{name}_plot`` pattern (08_reporting/<name>.png + the MLflow run)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from kedro.pipeline import Pipeline, node
from matplotlib.figure import Figure

from insole_mtl.evaluation.plots import (
    plot_signal_snippets,
    plot_subject_weight,
    plot_task_losses,
    plot_window_gallery,
)


def plot_test_recurrence_gallery(
    windows: np.ndarray, labels: pd.DataFrame, channels: Sequence[str], tasks: Mapping[str, Mapping[str, Any]], recurrence: Mapping[str, Any]
) -> Figure:
    """One test window per class x every channel, encoded with the run's ``recurrence_config`` (what a plot model reads).

    Args:
        windows: test windows ``(n, C, L)``; labels: their labels; channels: C names; tasks: ``params:tasks``.
    """
    resolution = recurrence.get("resolution")
    return plot_window_gallery(windows, labels, list(tasks["activity"]["classes"]), channels, float(recurrence["percentage"]), resolution)


def plot_test_signals(
    windows: np.ndarray, labels: pd.DataFrame, channels: Sequence[str], tasks: Mapping[str, Mapping[str, Any]], sampling: Mapping[str, float]
) -> Figure:
    """Raw signals of one test window per class (sensor units, time in s at ``sampling.target_rate_hz``)."""
    return plot_signal_snippets(np.asarray(windows), labels, list(tasks["activity"]["classes"]), channels, float(sampling["target_rate_hz"]))


def plot_test_weight_per_subject(predictions: pd.DataFrame) -> Figure:
    """Median predicted vs true body weight per test subject."""
    return plot_subject_weight(predictions)


def figures_pipeline() -> Pipeline:
    """The four figure nodes (inputs: the test split, its predictions, the training history)."""
    return Pipeline(
        [
            node(plot_test_recurrence_gallery, ["test.windows", "test.window_labels", "params:channels", "params:tasks", "recurrence_config"],
                 "recurrence_gallery_plot", name="plot_recurrence_gallery"),
            node(plot_test_signals, ["test.windows", "test.window_labels", "params:channels", "params:tasks", "params:sampling"],
                 "signal_snippets_plot", name="plot_signal_snippets"),
            node(plot_task_losses, "training_history", "task_losses_plot", name="plot_task_losses"),
            node(plot_test_weight_per_subject, "test.predictions", "weight_per_subject_plot", name="plot_weight_per_subject"),
        ],
        tags=["evaluation"],
    )  # fmt: skip
