"""Windowing nodes: cut recordings into fixed-length windows and partition them by the subject split."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from insole_mtl.signals.validation import concat_drop_reports
from insole_mtl.signals.windows import make_windows, partition_windows

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


def window_recordings(
    recordings: pd.DataFrame,
    recording_labels: pd.DataFrame,
    ingest_drop_report: pd.DataFrame,
    channels: Sequence[str],
    windowing: Mapping[str, int],
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Cut every labelled recording into windows ``(n, C, length)`` float32 with the given stride.

    Returns:
        windows, their labels (one row per window) and the drop report extended with recordings too
        short for one window.
    """
    windows, labels, drops = make_windows(
        recordings, recording_labels, channels, length=int(windowing["length"]), stride=int(windowing["stride"])
    )
    logger.info("Cut %d windows of shape %s from %d recordings", len(windows), windows.shape[1:], recording_labels.shape[0])
    return windows, labels, concat_drop_reports(ingest_drop_report, drops)


def partition_by_split(
    windows: np.ndarray, window_labels: pd.DataFrame, subject_split: pd.DataFrame
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Route each window to the split of its subject (asserts no subject is in two splits) and require every
    activity class of the val / test windows in the training windows (:func:`check_classes_in_training`).

    Returns:
        ``(train windows, train labels, val windows, val labels, test windows, test labels)``.
    """
    parts = partition_windows(windows, window_labels, subject_split)
    check_classes_in_training(parts)
    for name in SPLITS:
        logger.info("%s: %d windows from %d subjects", name, len(parts[name][0]), parts[name][1]["subject"].nunique())
    return tuple(item for name in SPLITS for item in parts[name])  # type: ignore[return-value]


def check_classes_in_training(parts: Mapping[str, tuple[np.ndarray, pd.DataFrame]]) -> None:
    """Refuse a split whose training windows miss an activity class that the val or test windows hold.

    Args:
        parts: split name -> ``(windows (n, C, L), labels with an ``activity`` class id column)``.

    Raises:
        ValueError: naming the class id, where its windows are and how many, and which subjects hold them.
    """
    train = set(parts["train"][1]["activity"].astype("int64"))
    for split in ("val", "test"):
        labels = parts[split][1]
        missing = sorted(set(labels["activity"].astype("int64")) - train)
        if missing:
            held = labels[labels["activity"] == missing[0]]
            raise ValueError(
                f"subject_split: activity class {missing[0]} has {len(held)} window(s) in the {split} split (subjects "
                f"{sorted(held['subject'].astype(str).unique().tolist())[:5]}) but none in the training split "
                f"({len(missing)} class(es) missing: {missing}); expected every class in training: use more subjects "
                "with that class, another split.seed, or drop the class from tasks.activity"
            )
