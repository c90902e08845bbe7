"""Trivial reference predictors, to read model errors against (is the model better than a constant?)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from insole_mtl.evaluation.metrics import REGRESSION_TASKS, evaluate_predictions

logger = logging.getLogger(__name__)


def mean_predictor(train_labels: pd.DataFrame, test_labels: pd.DataFrame) -> dict[str, np.ndarray]:
    """Constant predictions fitted on the training labels.

    ``activity``: the most frequent training class (ties: smallest index); ``speed``/``weight``:
    the mean of the non-NaN training labels. Synthetic (oversampled) training rows are ignored,
    so the baseline is the same with or without oversampling.

    Args:
        train_labels: Window labels of the training split.
        test_labels: Window labels of the split to predict (only its length is used).

    Returns:
        Task -> predictions ``(n_test,)``: int64 for ``activity``, float64 for regressions. A
        task with no training label is left out (and a warning logged).
    """
    train = train_labels
    if "synthetic" in train.columns:
        train = train.loc[~train["synthetic"].astype(bool)]
    n = len(test_labels)
    out: dict[str, np.ndarray] = {}
    if "activity" in train.columns and len(train):
        majority = int(np.bincount(train["activity"].to_numpy(dtype=np.int64)).argmax())
        out["activity"] = np.full(n, majority, dtype=np.int64)
    else:
        logger.warning("mean_predictor: no training activity label; activity baseline left out")
    for task in REGRESSION_TASKS:
        values = train[task].to_numpy(dtype=np.float64) if task in train.columns else np.empty(0)
        values = values[~np.isnan(values)]
        if values.size:
            out[task] = np.full(n, values.mean(), dtype=np.float64)
        else:
            logger.warning("mean_predictor: no training %s label; %s baseline left out", task, task)
    return out


def baseline_metrics(
    train_labels: pd.DataFrame, test_labels: pd.DataFrame, class_names: Sequence[str]
) -> dict[str, float | int]:
    """Metrics of :func:`mean_predictor` on ``test_labels``, keys suffixed ``_baseline``.

    Returns:
        E.g. ``activity_accuracy_baseline``, ``speed_mae_baseline``, ``weight_mae_baseline``,
        ``n_speed_baseline`` (see :func:`insole_mtl.evaluation.metrics.evaluate_predictions`).
    """
    return evaluate_predictions(
        test_labels, mean_predictor(train_labels, test_labels), class_names, key_suffix="_baseline"
    )
