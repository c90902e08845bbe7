"""Sliding windows over recordings and their split into train / val / test (paper Sec. IV-A).

Windows are 160 samples (4 s at 40 Hz) with stride 40 (3 s overlap) by default. A recording of
``T`` samples gives ``floor((T - length) / stride) + 1`` full windows (SPEC Sec. 2: the paper's
ceil is exact only when ``stride`` divides ``T - length``); windows never cross recordings.
Recordings shorter than one window are counted in the drop report, never silently skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from insole_mtl import schema
from insole_mtl.signals.split import SPLITS, assert_disjoint_splits
from insole_mtl.signals.validation import drop_report

logger = logging.getLogger(__name__)

STAGE = "windows"
_LABEL_INPUT_COLUMNS: tuple[str, ...] = ("recording", "subject", "experiment", *schema.TASKS)


def evenly_spaced(n: int, k: int | None) -> np.ndarray:
    """``min(k, n)`` indices spread evenly over ``range(n)`` (int64, ascending); all of them when ``k`` is None.

    Picks windows that cover a whole split (int8 calibration, accuracy checks): the first ``k`` windows of a
    split are a few recordings of one or two subjects."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if k is None or k >= n:
        return np.arange(n, dtype=np.int64)
    if k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def window_counts(lengths: np.ndarray, length: int, stride: int) -> np.ndarray:
    """Number of full windows per recording: ``floor((T - length) / stride) + 1``, 0 if ``T < length``.

    Args:
        lengths: Recording lengths ``T`` in samples, int array of any shape.
        length: Window length in samples.
        stride: Step between window starts in samples.

    Returns:
        int64 array, same shape as ``lengths``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.where(lengths >= length, (lengths - length) // stride + 1, 0).astype(np.int64)


def empty_window_labels() -> pd.DataFrame:
    """An empty window-label table with the schema dtypes."""
    return _window_label_frame(
        subject=np.array([], dtype=object),
        recording=np.array([], dtype=object),
        experiment=np.array([], dtype=np.int64),
        start=np.array([], dtype=np.int64),
        activity=np.array([], dtype=np.int64),
        speed=np.array([], dtype=np.float64),
        weight=np.array([], dtype=np.float64),
        synthetic=np.array([], dtype=bool),
    )


def _window_label_frame(**columns: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({c: columns[c] for c in schema.WINDOW_LABEL_COLUMNS})
    return frame.astype(schema.WINDOW_LABEL_DTYPES)


def _check_length_stride(length: int, stride: int) -> None:
    for name, value in (("length", length), ("stride", stride)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"make_windows: {name}={value!r}; expected a positive integer number of samples")


def make_windows(
    recordings: pd.DataFrame,
    recording_labels: pd.DataFrame,
    channels: Sequence[str],
    length: int = 160,
    stride: int = 40,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Cut every labelled recording into full, overlapping windows.

    Args:
        recordings: ``raw_recordings`` (long format, rows of a recording in time order, as
            checked by :func:`insole_mtl.signals.validation.validate_raw_cohort`).
        recording_labels: Output of :func:`insole_mtl.signals.labels.label_recordings`
            (``recording, subject, experiment, activity, speed, weight``, unique recordings).
            Recordings with samples but no label row were excluded upstream; they are counted
            again here (reason ``no label row``) so the window stage accounts for every recording.
        channels: Channel columns, in the order of the window's channel axis.
        length: Window length in samples (default 160 = 4 s at 40 Hz).
        stride: Step between window starts in samples (default 40 = 1 s).

    Returns:
        ``windows``: float32 array ``(n_windows, n_channels, length)``, C-contiguous.
        ``labels``: :data:`insole_mtl.schema.WINDOW_LABEL_COLUMNS`, one row per window, ``start``
        = index of the window's first sample within its recording, ``synthetic`` False.
        ``drop_report``: ``stage, item, reason, count`` for recordings not windowed (count 1).
        Windows are ordered by recording id (sorted), then start.

    Raises:
        ValueError: On a bad ``length``/``stride``, missing columns, duplicated label rows, a
            labelled recording without samples, or non-finite channel values.
    """
    _check_length_stride(length, stride)
    length, stride, channels = int(length), int(stride), list(channels)
    missing = [c for c in (schema.RECORDING, *channels) if c not in recordings.columns]
    if missing:
        raise ValueError(f"raw_recordings: missing column(s) {missing}; present: {list(recordings.columns)}")
    missing = [c for c in _LABEL_INPUT_COLUMNS if c not in recording_labels.columns]
    if missing:
        raise ValueError(f"recording_labels: missing column(s) {missing}; present: {list(recording_labels.columns)}")
    dup = recording_labels[schema.RECORDING][recording_labels[schema.RECORDING].duplicated()].tolist()
    if dup:
        raise ValueError(f"recording_labels: recording(s) {dup[:5]} appear more than once; expected one row each")

    # Group the sample rows by recording without reordering samples inside a recording: a
    # stable sort on the sorted recording codes makes every recording one contiguous block.
    codes, uniques = pd.factorize(recordings[schema.RECORDING].astype(str), sort=True)
    order = np.argsort(codes, kind="stable")
    data = recordings[channels].to_numpy(dtype=np.float32)[order]
    block_len = np.bincount(codes, minlength=len(uniques)).astype(np.int64)
    block_start = np.concatenate([[0], np.cumsum(block_len)[:-1]]).astype(np.int64)
    if not np.isfinite(data).all():
        row = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise ValueError(
            f"raw_recordings: non-finite channel value in recording {uniques[codes[order[row]]]!r}; expected finite values"
        )

    labels_by_rec = recording_labels.assign(**{schema.RECORDING: recording_labels[schema.RECORDING].astype(str)})
    labels_by_rec = labels_by_rec.set_index(schema.RECORDING)
    unknown = sorted(set(labels_by_rec.index) - set(uniques))
    if unknown:
        raise ValueError(f"recording_labels: recording(s) {unknown[:5]} have no samples in raw_recordings")

    report: list[dict[str, object]] = []
    labelled = np.isin(np.asarray(uniques), labels_by_rec.index.to_numpy())
    counts = np.where(labelled, window_counts(block_len, length, stride), 0)
    for i in np.flatnonzero(~labelled):
        report.append({"stage": STAGE, "item": uniques[i], "reason": "no label row (excluded at labelling)", "count": 1})
    for i in np.flatnonzero(labelled & (block_len < length)):
        report.append(
            {
                "stage": STAGE,
                "item": uniques[i],
                "reason": f"shorter than one window ({int(block_len[i])} < {length} samples)",
                "count": 1,
            }
        )

    # Window starts: recording i contributes starts 0, stride, ..., stride * (counts[i] - 1).
    rec_of_window = np.repeat(np.arange(len(uniques)), counts)
    first_window = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    local_start = (np.arange(rec_of_window.size) - np.repeat(first_window, counts)) * stride
    global_start = block_start[rec_of_window] + local_start
    n_channels = len(channels)
    if data.shape[0] >= length:
        # (n_samples - length + 1, n_channels, length) view; fancy indexing copies the windows.
        view = sliding_window_view(data, length, axis=0)
        windows = np.ascontiguousarray(view[global_start], dtype=np.float32)
    else:
        windows = np.empty((0, n_channels, length), dtype=np.float32)
    windows = windows.reshape(-1, n_channels, length)

    rec_ids = np.asarray(uniques, dtype=object)[rec_of_window]
    lookup = labels_by_rec.reindex(rec_ids)
    labels = _window_label_frame(
        subject=lookup["subject"].to_numpy(dtype=object),
        recording=rec_ids,
        experiment=lookup["experiment"].to_numpy(dtype=np.int64),
        start=local_start.astype(np.int64),
        activity=lookup["activity"].to_numpy(dtype=np.int64),
        speed=lookup["speed"].to_numpy(dtype=np.float64),
        weight=lookup["weight"].to_numpy(dtype=np.float64),
        synthetic=np.zeros(rec_ids.size, dtype=bool),
    )
    logger.info(
        "make_windows: %d windows (%d x %d) from %d recordings; %d recording(s) not windowed",
        len(labels),
        n_channels,
        length,
        int((counts > 0).sum()),
        len(report),
    )
    return windows, labels, drop_report(report)


def partition_windows(
    windows: np.ndarray, labels: pd.DataFrame, split_table: pd.DataFrame
) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """Partition windows by their subject's split.

    Args:
        windows: ``(n, C, L)`` array aligned with ``labels``.
        labels: Window labels with a ``subject`` (and ``recording``) column.
        split_table: ``subject, split`` table from :func:`insole_mtl.signals.split.split_subjects`, or
            the LEAKY ``recording, subject, split`` table of :func:`insole_mtl.signals.split.file_level_split`
            (windows routed by recording; a recording may be listed under several splits, e.g. its test
            windows also used for validation, and a subject may then sit in several splits).

    Returns:
        ``{"train": (w, l), "val": (w, l), "test": (w, l)}``; every key is present (possibly
        with zero windows), windows keep their relative order, labels are re-indexed from 0.

    Raises:
        ValueError: If lengths differ, a window's subject (recording) is not in the split table, or a
            subject would end up in two splits of a subject-wise table (leakage).
    """
    if len(windows) != len(labels):
        raise ValueError(f"partition_windows: {len(windows)} windows but {len(labels)} label rows; expected equal")
    key = "recording" if "recording" in split_table.columns else "subject"
    if key == "subject":
        assert_disjoint_splits(split_table)
    table = split_table.assign(**{key: split_table[key].astype(str)})
    window_keys = labels[key].astype(str)
    unknown = sorted(set(window_keys) - set(table[key]))
    if unknown:
        raise ValueError(f"partition_windows: {key}(s) {unknown[:5]} of the windows are not in the split table")
    parts: dict[str, tuple[np.ndarray, pd.DataFrame]] = {}
    for split in SPLITS:
        mask = window_keys.isin(table.loc[table["split"] == split, key]).to_numpy()
        parts[split] = (windows[mask], labels.loc[mask].reset_index(drop=True))
    if key == "subject":
        # Leakage check on the result itself, not only on the table we derived it from.
        subjects_by_split = pd.concat(
            [pd.DataFrame({"subject": part[1]["subject"].astype(str).unique(), "split": s}) for s, part in parts.items()]
        )
        assert_disjoint_splits(subjects_by_split)
    logger.info("partition_windows (by %s): %s", key, {s: len(p[1]) for s, p in parts.items()})
    return parts
