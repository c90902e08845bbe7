"""Physical body-weight baseline: mean total force, linearly calibrated on the training subjects.

A force sensor under the foot measures (a share of) the body's weight; averaged over a window,
the summed force of all sensors of both feet is roughly proportional to body mass whatever the
gait. This baseline asks how much of the weight task a one-feature linear model already solves:

1. per window: ``F = mean over time of (sum over force channels)`` (in the channels' unit:
   newtons for gaitpdb, relative FSR readings for the paper's insole);
2. per training subject: the mean ``F`` of their weight-labelled windows;
3. ordinary least squares ``weight = intercept + slope * F`` over the training subjects (one
   point per subject, so a subject with many windows does not dominate);
4. every labelled test window is predicted from its own ``F`` and scored with
   :func:`insole_mtl.evaluation.metrics.regression_metrics` (same windows as the model's
   ``weight_mae``).

Unlike the recurrence-plot model — whose input is invariant to per-window affine rescaling and
so never sees the force magnitude — this baseline uses nothing but the magnitude.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from insole_mtl.evaluation.metrics import regression_metrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ForceCalibration:
    """``weight = intercept + slope * mean_total_force``, fitted on ``n_subjects`` subjects."""

    slope: float
    intercept: float
    n_subjects: int
    n_windows: int

    def predict(self, force: np.ndarray) -> np.ndarray:
        """Weights (float64) for mean total forces ``force``."""
        return self.intercept + self.slope * np.asarray(force, dtype=np.float64)


def real_window_mask(labels: pd.DataFrame) -> np.ndarray:
    """Boolean ``(n,)``: True for windows cut from recordings, False for oversampled (``synthetic``) ones."""
    if "synthetic" in labels.columns:
        return ~labels["synthetic"].astype(bool).to_numpy()
    return np.ones(len(labels), dtype=bool)


def force_channel_indices(channels: Sequence[str], force_channels: Sequence[str]) -> list[int]:
    """Positions of ``force_channels`` on the window channel axis ``channels``.

    Raises:
        ValueError: empty ``force_channels``, or a force channel not among ``channels``.
    """
    channels, force_channels = list(channels), list(force_channels)
    if not force_channels:
        raise ValueError("physical baseline: 'force_channels' is empty; list the force/pressure channels to sum")
    missing = [c for c in force_channels if c not in channels]
    if missing:
        raise ValueError(
            f"physical baseline: force channel(s) {missing} are not model channels {channels}; "
            "set reports.physical_baseline.force_channels to a subset of params:channels"
        )
    return [channels.index(c) for c in force_channels]


def mean_total_force(windows: np.ndarray, channel_indices: Sequence[int]) -> np.ndarray:
    """Per window, the time mean of the summed force channels.

    Args:
        windows: ``(n, C, L)`` raw windows.
        channel_indices: channel positions to sum.

    Returns:
        float64 ``(n,)``.
    """
    windows = np.asarray(windows)
    if windows.ndim != 3:
        raise ValueError(f"mean_total_force: windows have shape {windows.shape}; expected (n, channels, length)")
    if len(windows) == 0:
        return np.zeros(0, dtype=np.float64)
    return windows[:, list(channel_indices), :].astype(np.float64).sum(axis=1).mean(axis=1)


def fit_force_calibration(force: np.ndarray, weight: np.ndarray, subjects: np.ndarray) -> ForceCalibration:
    """Least-squares line weight ~ force over subjects (their mean force and their weight).

    Args:
        force: Mean total force per window ``(n,)``.
        weight: Weight label per window ``(n,)``; NaN windows are ignored.
        subjects: Subject id per window ``(n,)``.

    Raises:
        ValueError: fewer than two subjects with a weight label, or all with the same force.
    """
    frame = pd.DataFrame(
        {"subject": np.asarray(subjects).astype(str), "force": np.asarray(force, np.float64), "weight": np.asarray(weight, np.float64)}
    )
    frame = frame[frame["weight"].notna()]
    per_subject = frame.groupby("subject").agg(force=("force", "mean"), weight=("weight", "mean"))
    if len(per_subject) < 2:
        raise ValueError(
            f"physical baseline: {len(per_subject)} training subject(s) with a weight label; expected at least 2 to fit a line"
        )
    x, y = per_subject["force"].to_numpy(), per_subject["weight"].to_numpy()
    if np.ptp(x) == 0:
        raise ValueError("physical baseline: every training subject has the same mean total force; cannot fit a line")
    slope, intercept = np.polyfit(x, y, deg=1)
    return ForceCalibration(slope=float(slope), intercept=float(intercept), n_subjects=len(per_subject), n_windows=len(frame))


def physical_weight_baseline(
    train_windows: np.ndarray,
    train_labels: pd.DataFrame,
    test_windows: np.ndarray,
    test_labels: pd.DataFrame,
    channels: Sequence[str],
    force_channels: Sequence[str],
) -> dict[str, float | int]:
    """Fit the calibration on the training windows and score it on the test windows.

    Args:
        train_windows, train_labels: original (not oversampled) training windows ``(n, C, L)`` and
            their labels (``subject``, ``weight``; synthetic rows, if any, are ignored).
        test_windows, test_labels: test windows and labels.
        channels: channel names of the window axis; force_channels: those to sum.

    Returns:
        ``weight_mae_physical``, ``weight_rmse_physical``, ``weight_mape_physical``,
        ``n_weight_physical`` (test windows scored), ``weight_mae_physical_subject_mean`` (the mean
        prediction of each test subject's windows against their weight), ``physical_slope``, ``physical_intercept``,
        ``physical_n_subjects`` (training subjects fitted), ``physical_r_train`` (Pearson r of
        subject mean force and weight on the training subjects).
    """
    if len(train_windows) != len(train_labels) or len(test_windows) != len(test_labels):
        raise ValueError(
            f"physical baseline: {len(train_windows)}/{len(test_windows)} train/test windows for "
            f"{len(train_labels)}/{len(test_labels)} label rows"
        )
    idx = force_channel_indices(channels, force_channels)
    train_labels = train_labels.reset_index(drop=True)
    keep = real_window_mask(train_labels)
    train_force = mean_total_force(np.asarray(train_windows)[keep], idx)
    kept = train_labels.loc[keep]
    calibration = fit_force_calibration(train_force, kept["weight"].to_numpy(), kept["subject"].to_numpy())
    per_subject = (
        pd.DataFrame({"s": kept["subject"].astype(str).to_numpy(), "f": train_force, "w": kept["weight"].to_numpy(np.float64)})
        .dropna()
        .groupby("s")
        .mean()
    )
    r = float(np.corrcoef(per_subject["f"], per_subject["w"])[0, 1]) if len(per_subject) > 2 else float("nan")
    test_force = mean_total_force(test_windows, idx)
    predicted = calibration.predict(test_force)
    truth = test_labels["weight"].to_numpy(np.float64)
    scores = regression_metrics(truth, predicted)
    subject_mae = float("nan")
    if "subject" in test_labels.columns and (~np.isnan(truth)).any():
        per_test_subject = (
            pd.DataFrame({"s": test_labels["subject"].astype(str).to_numpy(), "t": truth, "p": predicted})
            .dropna()
            .groupby("s")
            .mean()
        )
        subject_mae = float((per_test_subject["p"] - per_test_subject["t"]).abs().mean())
    logger.info(
        "Physical weight baseline: weight = %.3f + %.5f x mean total force (%d training subjects, r = %.2f); test MAE %.2f",
        calibration.intercept, calibration.slope, calibration.n_subjects, r, scores["mae"],
    )  # fmt: skip
    return {
        "weight_mae_physical": scores["mae"],
        "weight_rmse_physical": scores["rmse"],
        "weight_mape_physical": scores["mape"],
        "n_weight_physical": scores["n"],
        "weight_mae_physical_subject_mean": subject_mae,
        "physical_slope": calibration.slope,
        "physical_intercept": calibration.intercept,
        "physical_n_subjects": calibration.n_subjects,
        "physical_r_train": r,
    }
