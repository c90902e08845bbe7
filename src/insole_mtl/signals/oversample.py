"""Borderline-SMOTE oversampling of training windows (SPEC Sec. 10, MAG-Res2Net ``003``).

Applied to the training split only, after the subject-wise split, so synthetic windows never
reach validation or test. Each window ``(C, L)`` is flattened to one ``C * L`` feature vector;
imbalanced-learn's ``BorderlineSMOTE`` (defaults k = 5, m = 10) interpolates new vectors of
under-represented ``activity`` classes between "danger" samples and their same-class
neighbours. ``target_ratio`` limits how far a class is raised (fully equalising classes created
about 10x synthetic data for small classes in ``003``).

Synthetic windows carry only an activity label: imbalanced-learn does not expose which two
windows (possibly from different subjects and speeds) or which factor produced a sample, so a
regression label cannot be interpolated from its API; speed and weight are NaN (masked in the
regression losses) and ``subject``/``recording`` are ``"synthetic"``.

Small classes: a class with ``n_c <= k_neighbors`` samples cannot have ``k_neighbors`` same-class
neighbours; ``k_neighbors`` is then reduced to ``min(n_c) - 1`` for the whole call and a warning
is logged (likewise ``m_neighbors`` when the training set has ``<= m_neighbors`` windows). A
class to raise with a single window cannot be interpolated: ValueError.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from imblearn.over_sampling import BorderlineSMOTE

from insole_mtl import schema

logger = logging.getLogger(__name__)

SYNTHETIC_ID = "synthetic"
COUNT_COLUMNS: tuple[str, ...] = ("activity", "before", "target", "after", "synthetic")
_KINDS = ("borderline-1", "borderline-2")


def _targets(counts: pd.Series, target_ratio: float) -> dict[int, int]:
    """Per class, the count it should reach: ``ceil(target_ratio * majority)``, never lower than now."""
    # Round before ceil so 0.3 * 10 = 3.0000000000000004 gives 3, not 4.
    goal = math.ceil(round(target_ratio * int(counts.max()), 9))
    return {int(c): max(int(n), goal) for c, n in counts.items()}


def _synthetic_labels(classes: np.ndarray) -> pd.DataFrame:
    n = classes.size
    frame = pd.DataFrame(
        {
            "subject": np.full(n, SYNTHETIC_ID, dtype=object),
            "recording": np.full(n, SYNTHETIC_ID, dtype=object),
            "experiment": np.full(n, -1, dtype=np.int64),
            "start": np.full(n, -1, dtype=np.int64),
            "activity": classes.astype(np.int64),
            "speed": np.full(n, np.nan),
            "weight": np.full(n, np.nan),
            "synthetic": np.ones(n, dtype=bool),
        }
    )
    return frame[list(schema.WINDOW_LABEL_COLUMNS)]


def _label_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype(schema.WINDOW_LABEL_DTYPES)


def oversample_windows(
    windows: np.ndarray,
    labels: pd.DataFrame,
    target_ratio: float = 1.0,
    k_neighbors: int = 5,
    m_neighbors: int = 10,
    kind: str = "borderline-1",
    seed: int = 0,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Raise every activity class below ``target_ratio`` x the majority count with Borderline-SMOTE.

    Args:
        windows: Training windows, float ``(n, C, L)``.
        labels: Window labels aligned with ``windows`` (:data:`insole_mtl.schema.WINDOW_LABEL_COLUMNS`),
            none of them synthetic yet.
        target_ratio: In (0, 1]; class ``c`` is raised to ``ceil(target_ratio * n_majority)`` if it
            has fewer windows, never reduced. 1.0 equalises all classes. (Disabling oversampling,
            ratio 0, is the caller's decision: do not call this function.)
        k_neighbors: Same-class neighbours used to interpolate (imbalanced-learn default 5).
        m_neighbors: Neighbours used to find "danger" samples (default 10).
        kind: ``"borderline-1"`` or ``"borderline-2"``.
        seed: ``random_state`` of the sampler; same inputs and seed give identical outputs.

    Returns:
        ``windows_out``: ``(n + n_synthetic, C, L)``, same dtype as ``windows`` (float32 stays
        float32); the first ``n`` rows are ``windows`` unchanged and in order.
        ``labels_out``: ``labels`` (reset index) followed by one row per synthetic window:
        ``activity`` = its class, ``subject = recording = "synthetic"``, ``experiment = start = -1``,
        ``speed = weight = NaN``, ``synthetic = True``.
        ``counts``: one row per class present, ``activity, before, target, after, synthetic``
        (int64). ``after`` can stay below ``target`` when a class has no "danger" sample
        (Borderline-SMOTE only samples near the class border); a warning is logged then.

    Raises:
        ValueError: On misaligned inputs, a non-3-D window array, labels already containing
            synthetic rows, invalid parameters, or a class to raise that has a single window.
    """
    windows = np.asarray(windows)
    if windows.ndim != 3:
        raise ValueError(f"oversample_windows: windows has shape {windows.shape}; expected (n, channels, length)")
    if len(windows) != len(labels):
        raise ValueError(f"oversample_windows: {len(windows)} windows but {len(labels)} label rows; expected equal")
    missing = [c for c in schema.WINDOW_LABEL_COLUMNS if c not in labels.columns]
    if missing:
        raise ValueError(f"oversample_windows: labels miss column(s) {missing}")
    if labels["synthetic"].astype(bool).any():
        raise ValueError("oversample_windows: labels already contain synthetic windows; oversample original windows only")
    if not 0.0 < target_ratio <= 1.0:
        raise ValueError(f"oversample_windows: target_ratio={target_ratio}; expected 0 < target_ratio <= 1")
    if kind not in _KINDS:
        raise ValueError(f"oversample_windows: kind={kind!r}; expected one of {list(_KINDS)}")
    for name, value in (("k_neighbors", k_neighbors), ("m_neighbors", m_neighbors)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"oversample_windows: {name}={value!r}; expected a positive integer")

    y = labels["activity"].to_numpy(dtype=np.int64)
    counts = pd.Series(y).value_counts().sort_index()
    targets = _targets(counts, target_ratio)
    to_raise = {c: t for c, t in targets.items() if t > counts[c]}
    labels_in = _label_dtypes(labels[list(schema.WINDOW_LABEL_COLUMNS)].reset_index(drop=True))

    synthetic_windows = np.empty((0, *windows.shape[1:]), dtype=windows.dtype)
    synthetic_classes = np.empty(0, dtype=np.int64)
    if to_raise and len(counts) > 1:
        smallest = min(int(counts[c]) for c in to_raise)
        if smallest < 2:
            singles = [c for c in to_raise if counts[c] < 2]
            raise ValueError(
                f"oversample_windows: activity class(es) {singles} have a single window; "
                "Borderline-SMOTE needs at least 2 windows of a class to interpolate"
            )
        k = min(int(k_neighbors), smallest - 1)
        if k < k_neighbors:
            logger.warning(
                "oversample_windows: k_neighbors reduced from %d to %d (smallest class to raise has %d windows)",
                k_neighbors,
                k,
                smallest,
            )
        m = min(int(m_neighbors), len(y) - 1)
        if m < m_neighbors:
            logger.warning("oversample_windows: m_neighbors reduced from %d to %d (%d windows)", m_neighbors, m, len(y))
        sampler = BorderlineSMOTE(
            sampling_strategy=to_raise, k_neighbors=k, m_neighbors=m, kind=kind, random_state=seed
        )
        flat = windows.reshape(len(windows), -1)
        flat_out, y_out = sampler.fit_resample(flat, y)
        # imbalanced-learn stacks the originals first, unchanged; rely on it but verify cheaply.
        if len(y_out) < len(y) or not np.array_equal(y_out[: len(y)], y):
            raise RuntimeError("oversample_windows: BorderlineSMOTE did not keep the original windows first")
        synthetic_windows = np.asarray(flat_out[len(y) :], dtype=windows.dtype).reshape(-1, *windows.shape[1:])
        synthetic_classes = np.asarray(y_out[len(y) :], dtype=np.int64)
    elif to_raise:
        logger.warning("oversample_windows: a single activity class present; nothing to balance")

    added = pd.Series(synthetic_classes).value_counts()
    table = pd.DataFrame(
        {
            "activity": counts.index.to_numpy(dtype=np.int64),
            "before": counts.to_numpy(dtype=np.int64),
            "target": np.array([targets[int(c)] for c in counts.index], dtype=np.int64),
            "synthetic": np.array([int(added.get(c, 0)) for c in counts.index], dtype=np.int64),
        }
    )
    table["after"] = table["before"] + table["synthetic"]
    table = table[list(COUNT_COLUMNS)]
    short = table[table["after"] < table["target"]]
    if len(short):
        logger.warning(
            "oversample_windows: class(es) %s stay below target (no borderline 'danger' windows): %s",
            short["activity"].tolist(),
            short[["activity", "after", "target"]].to_dict("records"),
        )

    windows_out = np.concatenate([windows, synthetic_windows], axis=0) if len(synthetic_windows) else windows.copy()
    labels_out = pd.concat([labels_in, _label_dtypes(_synthetic_labels(synthetic_classes))], ignore_index=True)
    logger.info("oversample_windows: %d original + %d synthetic windows", len(windows), len(synthetic_windows))
    return windows_out, labels_out, table
