"""FSR3 window means by body-weight group (Fig. 5)."""

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.analysis.fsr import (
    channel_window_means,
    fsr_weight_frame,
    fsr_weight_summary,
    plot_fsr_boxplots,
    weight_group_labels,
    weight_groups,
)

CHANNELS = ["x_R", "fsr3_R", "fsr3_L"]


def _windows():
    # window i: fsr3_R constant i, fsr3_L constant 10 * i -> mean over both = 5.5 * i
    windows = np.zeros((4, 3, 5), dtype=np.float32)
    for i in range(4):
        windows[i, 1, :] = i
        windows[i, 2, :] = 10 * i
    labels = pd.DataFrame(
        {"subject": ["A", "A", "B", "C"], "experiment": [9, 10, 9, 9], "synthetic": [False, False, False, True]}
    )
    subjects = pd.DataFrame({"subject": ["A", "B", "C"], "weight_kg": [55.0, 70.0, 95.0]})
    return windows, labels, subjects


def test_weight_groups_edges_fall_in_the_upper_group():
    assert weight_group_labels([60, 70.5]) == ["<60", "60-70.5", ">=70.5"]
    groups = weight_groups(np.array([59.9, 60.0, 70.4, 71.0, np.nan]), [60, 70.5])
    assert list(groups.astype(object)[:4]) == ["<60", "60-70.5", "60-70.5", ">=70.5"]
    assert pd.isna(groups[4])
    with pytest.raises(ValueError, match="strictly increasing"):
        weight_group_labels([70, 60])


def test_window_means_and_frame_are_exact():
    windows, labels, subjects = _windows()
    assert channel_window_means(windows, CHANNELS, ["fsr3_R", "fsr3_L"]).tolist() == [0.0, 5.5, 11.0, 16.5]
    frame = fsr_weight_frame(windows, labels, subjects, CHANNELS, ["fsr3_R", "fsr3_L"], [60, 80])
    assert frame["subject"].tolist() == ["A", "A", "B"]  # the synthetic window is dropped
    assert frame["fsr_mean"].tolist() == [0.0, 5.5, 11.0]
    assert frame["group"].astype(str).tolist() == ["<60", "<60", "60-80"]
    summary = fsr_weight_summary(frame)
    exp9 = summary[summary["experiment"] == 9].set_index("group")
    assert exp9.loc["<60", "n_windows"] == 1 and exp9.loc["60-80", "median"] == 11.0
    with pytest.raises(ValueError, match=re.escape("channels ['fsr9'] not among the window channels")):
        channel_window_means(windows, CHANNELS, ["fsr9"])


def test_box_plots_have_one_panel_per_experiment():
    windows, labels, subjects = _windows()
    frame = fsr_weight_frame(windows, labels, subjects, CHANNELS, ["fsr3_R"], [60, 80])
    fig = plot_fsr_boxplots(frame)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["EXP09", "EXP10"]
