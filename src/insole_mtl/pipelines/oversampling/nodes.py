"""Oversampling node: Borderline-SMOTE on the training windows only."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.signals.oversample import oversample_windows

logger = logging.getLogger(__name__)


def oversample_training_windows(
    windows: np.ndarray, window_labels: pd.DataFrame, oversampling: Mapping[str, Any]
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Balance activity classes of the training windows (validation and test never pass through here).

    Returns:
        windows ``(n + n_synthetic, C, L)`` (originals first, unchanged), their labels (synthetic rows have
        ``synthetic=True`` and masked speed/weight) and the class counts before/after.
    """
    if not oversampling.get("enabled", True):
        counts = window_labels["activity"].value_counts().sort_index()
        report = pd.DataFrame(
            {"activity": counts.index, "before": counts.values, "target": counts.values, "after": counts.values, "synthetic": 0}
        )
        logger.info("Oversampling disabled; %d training windows", len(windows))
        return windows, window_labels, report
    out_windows, out_labels, report = oversample_windows(
        windows,
        window_labels,
        target_ratio=float(oversampling["target_ratio"]),
        k_neighbors=int(oversampling["k_neighbors"]),
        m_neighbors=int(oversampling["m_neighbors"]),
        kind=str(oversampling["kind"]),
        seed=int(oversampling["seed"]),
    )
    logger.info("Borderline-SMOTE class counts:\n%s", report.to_string(index=False))
    return out_windows, out_labels, report
