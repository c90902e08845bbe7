"""The issue #11 figures: one window per class, every channel titled, per-task losses and weights, per subject."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.evaluation.plots import plot_recurrence_gallery, plot_signal_snippets, plot_subject_weight, plot_task_losses

from ._model import CHANNELS, CLASSES, windows


def _labels(n):
    return pd.DataFrame({"activity": np.arange(n) % 3, "subject": [f"S{i % 4}" for i in range(n)]})


def test_recurrence_gallery_one_row_per_present_class_and_channel_titles():
    w = windows(9)
    fig = plot_recurrence_gallery(encode_recurrence_plots(w, 10.0, resolution=40), _labels(9), CLASSES, CHANNELS)
    axes = fig.axes
    assert len(axes) == 3 * 14
    assert [a.get_title() for a in axes[:14]] == CHANNELS
    assert [axes[14 * r].get_ylabel() for r in range(3)] == CLASSES[:3]
    assert fig.get_suptitle() == "Recurrence plots, one window per class"
    with pytest.raises(ValueError, match=r"plots must be \(n, 14, R, R\)"):
        plot_recurrence_gallery(np.zeros((9, 3, 40, 40)), _labels(9), CLASSES, CHANNELS)


def test_signal_snippets_split_motion_and_force():
    fig = plot_signal_snippets(windows(6), _labels(6), CLASSES, CHANNELS, 40.0)
    assert [a.get_title() for a in fig.axes[:2]] == ["Stand Still: motion", "Stand Still: force"]
    assert len(fig.axes[0].lines) == 6 and len(fig.axes[1].lines) == 8
    assert fig.axes[-1].get_xlabel() == "time (s)"
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata()[-1], 159 / 40.0)


def test_task_losses_and_weights():
    history = pd.DataFrame({"epoch": [1, 2, 3], **{f"train_{t}_loss": [3, 2, 1] for t in ("activity", "speed", "weight")},
                            **{f"val_{t}_loss": [3, 2.5, 2] for t in ("activity", "speed")},
                            **{f"weight_{t}": [1, 0.8, 0.6] for t in ("activity", "speed", "weight")}})  # fmt: skip
    fig = plot_task_losses(history)
    left, right = fig.axes
    assert left.get_title() == "Per-task loss" and right.get_title() == "Task weights"
    assert len(left.lines) == 5 and len(right.lines) == 3
    ensemble = plot_task_losses(pd.concat([history.assign(member=0), history.assign(member=1)], ignore_index=True))
    assert len(ensemble.axes[0].lines) == 10 and ensemble.axes[1].lines[-1].get_label() == "weight (member 1)"
    with pytest.raises(ValueError, match="no train_<task>_loss column"):
        plot_task_losses(history[["epoch"]])


def test_subject_weight_one_point_per_subject_with_a_label():
    predictions = pd.DataFrame({"subject": ["A", "A", "B", "B", "C"], "weight": [60, 60, 80, 80, np.nan],
                                "pred_weight": [62, 64, 79, 81, 70]})  # fmt: skip
    fig = plot_subject_weight(predictions)
    ax = fig.axes[0]
    assert ax.get_title() == "Body weight per subject (2 subjects)"
    assert sorted(t.get_text() for t in ax.texts) == ["A", "B"]
