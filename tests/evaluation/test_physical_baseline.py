from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.evaluation.physical_baseline import (
    fit_force_calibration,
    force_channel_indices,
    mean_total_force,
    physical_weight_baseline,
)

CHANNELS = ["acc", "f1", "f2"]


def _windows(force_per_window: list[float], length: int = 8) -> np.ndarray:
    """(n, 3, length): 'acc' noise, f1 + f2 = the given total force on average (f1 oscillates, f2 constant)."""
    n = len(force_per_window)
    out = np.zeros((n, 3, length), dtype=np.float32)
    wave = np.sin(np.linspace(0, 2 * np.pi, length, endpoint=False))
    for i, total in enumerate(force_per_window):
        out[i, 0] = 1000.0  # not a force channel: must not count
        out[i, 1] = total / 2 + 10 * wave
        out[i, 2] = total / 2
    return out


def test_mean_total_force_sums_force_channels_and_averages_time() -> None:
    windows = _windows([700.0, 900.0])
    np.testing.assert_allclose(mean_total_force(windows, force_channel_indices(CHANNELS, ["f1", "f2"])), [700.0, 900.0], atol=1e-3)
    assert mean_total_force(np.zeros((0, 3, 8)), [1]).shape == (0,)


def test_force_channels_must_be_model_channels() -> None:
    with pytest.raises(ValueError, match=re.escape("force channel(s) ['fsr9'] are not model channels")):
        force_channel_indices(CHANNELS, ["f1", "fsr9"])
    with pytest.raises(ValueError, match="'force_channels' is empty"):
        force_channel_indices(CHANNELS, [])


def test_calibration_is_one_point_per_subject() -> None:
    # subject a: 3 windows at force 600 (weight 60), subject b: 1 window at 800 (weight 80): a line through both
    force = np.array([600.0, 600.0, 600.0, 800.0, 5000.0])
    weight = np.array([60.0, 60.0, 60.0, 80.0, np.nan])  # the NaN window is ignored
    calibration = fit_force_calibration(force, weight, np.array(["a", "a", "a", "b", "b"]))
    assert calibration.slope == pytest.approx(0.1) and calibration.intercept == pytest.approx(0.0, abs=1e-9)
    assert calibration.n_subjects == 2 and calibration.n_windows == 4
    with pytest.raises(ValueError, match="1 training subject"):
        fit_force_calibration(force[:3], weight[:3], np.array(["a"] * 3))
    with pytest.raises(ValueError, match="same mean total force"):
        fit_force_calibration(np.array([1.0, 1.0]), np.array([50.0, 60.0]), np.array(["a", "b"]))


def test_physical_weight_baseline_recovers_a_linear_scale() -> None:
    # weight = 0.1 x force + 5 on training subjects; test windows follow the same physics
    train_force = [600.0, 620.0, 800.0, 900.0]
    train_labels = pd.DataFrame(
        {"subject": ["a", "a", "b", "c"], "weight": [66.0, 66.0, 85.0, 95.0], "synthetic": [False] * 4}
    )
    # subject a: mean force 610 -> 66 kg; b 800 -> 85; c 900 -> 95: exact line 0.1 x F + 5
    train = _windows(train_force)
    # a synthetic (oversampled) row with an absurd force must be ignored
    train = np.concatenate([train, _windows([10_000.0])])
    train_labels = pd.concat(
        [train_labels, pd.DataFrame({"subject": ["synthetic"], "weight": [np.nan], "synthetic": [True]})], ignore_index=True
    )
    test = _windows([700.0, 1000.0, 750.0])
    test_labels = pd.DataFrame({"subject": ["d", "e", "f"], "weight": [75.0, 105.0, np.nan]})
    result = physical_weight_baseline(train, train_labels, test, test_labels, CHANNELS, ["f1", "f2"])
    assert result["physical_slope"] == pytest.approx(0.1, rel=1e-6)
    assert result["physical_intercept"] == pytest.approx(5.0, abs=1e-4)
    assert result["weight_mae_physical"] == pytest.approx(0.0, abs=1e-4)
    assert result["n_weight_physical"] == 2 and result["physical_n_subjects"] == 3
    assert result["physical_r_train"] == pytest.approx(1.0)


def test_physical_weight_baseline_checks_alignment() -> None:
    labels = pd.DataFrame({"subject": ["a"], "weight": [60.0]})
    with pytest.raises(ValueError, match="train/test windows"):
        physical_weight_baseline(_windows([1.0, 2.0]), labels, _windows([1.0]), labels, CHANNELS, ["f1"])
