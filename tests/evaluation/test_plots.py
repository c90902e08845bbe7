from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from insole_mtl.evaluation.plots import plot_confusion_matrix, plot_predicted_vs_true, plot_training_curves


def test_confusion_matrix_figure():
    fig = plot_confusion_matrix([[3, 1], [0, 0]], ["walk", "run"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "Confusion matrix (row-normalised)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Predicted", "True")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["walk", "run"]
    assert [t.get_text() for t in ax.texts] == ["0.75", "0.25", "0.00", "0.00"]  # empty row stays 0
    counts = plot_confusion_matrix(np.array([[3, 1], [0, 2]]), ["walk", "run"], normalize=False)
    assert counts.axes[0].get_title() == "Confusion matrix (counts)"
    assert [t.get_text() for t in counts.axes[0].texts] == ["3", "1", "0", "2"]
    with pytest.raises(ValueError, match=re.escape("cm has shape (2, 2); expected (3, 3)")):
        plot_confusion_matrix([[1, 0], [0, 1]], ["a", "b", "c"])


def test_predicted_vs_true_figure(tmp_path):
    fig = plot_predicted_vs_true(np.array([1.0, 2.0, np.nan]), np.array([1.5, 2.5, 9.0]), "speed", "km/h")
    ax = fig.axes[0]
    assert ax.get_title() == "speed: predicted vs true (MAE 0.5 km/h, n=2)"
    assert ax.get_xlabel() == "true speed (km/h)" and ax.get_ylabel() == "predicted speed (km/h)"
    fig.savefig(tmp_path / "p.png")  # Agg canvas attached: saving works without pyplot
    assert (tmp_path / "p.png").stat().st_size > 0
    assert plot_predicted_vs_true(np.array([np.nan]), np.array([1.0]), "weight", "kg").axes[0].get_title().endswith("n=0)")


def test_training_curves_figure():
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "train_loss": [3.0, 2.0, 1.5],
            "val_loss": [3.2, 2.5, 2.4],
            "val_activity_accuracy": [0.5, 0.7, 0.8],
            "val_speed_mae": [1.0, 0.6, 0.5],
            "val_speed_rmse": [1.2, 0.8, 0.6],
            "val_weight_mae": [12.0, 9.0, 8.0],
            "lr": [0.002] * 3,
        }
    )
    fig = plot_training_curves(history)
    assert [ax.get_title() for ax in fig.axes] == ["Loss", "val activity", "val speed", "val weight"]
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train", "val"]
    assert [line.get_label() for line in fig.axes[2].get_lines()] == ["mae", "rmse"]
    np.testing.assert_array_equal(fig.axes[0].get_lines()[1].get_ydata(), [3.2, 2.5, 2.4])
    only_loss = plot_training_curves(history[["epoch", "train_loss", "val_loss"]])
    assert [ax.get_title() for ax in only_loss.axes] == ["Loss"]
    with pytest.raises(ValueError, match=re.escape("history misses column(s) ['val_loss']")):
        plot_training_curves(history.drop(columns="val_loss"))
    # an ensemble's history: one line per member, not one zigzag through both
    both = pd.concat([history.assign(member=0), history.assign(member=1, val_loss=[3.0, 2.0, 1.0])], ignore_index=True)
    lines = plot_training_curves(both).axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["train (member 0)", "val (member 0)", "train (member 1)", "val (member 1)"]
    np.testing.assert_array_equal(lines[3].get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(lines[3].get_ydata(), [3.0, 2.0, 1.0])
