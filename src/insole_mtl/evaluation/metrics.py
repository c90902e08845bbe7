"""Task metrics (paper Sec. V-B4): accuracy / macro-F1 / confusion matrix, MAE / RMSE / MAPE.

Each task is scored on the windows that carry its label (non-NaN), as the losses are masked.
MAPE is a fraction (0.052, not 5.2 %) like the paper's tables; for speed it excludes windows
whose true value is 0 (the standing experiments), where a percentage error is undefined.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    mean_absolute_percentage_error,
    root_mean_squared_error,
)

logger = logging.getLogger(__name__)

REGRESSION_TASKS: tuple[str, ...] = ("speed", "weight")


def predicted_classes(prediction: np.ndarray) -> np.ndarray:
    """Class indices from class indices ``(n,)`` or scores/logits/probabilities ``(n, K)`` (argmax).

    Returns:
        int64 array ``(n,)``.
    """
    prediction = np.asarray(prediction)
    if prediction.ndim == 2:
        return prediction.argmax(axis=1).astype(np.int64)
    if prediction.ndim != 1:
        raise ValueError(f"activity prediction has shape {prediction.shape}; expected (n,) classes or (n, K) scores")
    if prediction.size and not np.array_equal(prediction, np.round(prediction)):
        raise ValueError("activity prediction is 1-D but not integer-valued; expected class indices")
    return prediction.astype(np.int64)


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict[str, object]:
    """Accuracy, macro-F1 and confusion matrix.

    Args:
        y_true: True class indices ``(n,)``, ints in ``[0, n_classes)``.
        y_pred: Predicted class indices ``(n,)``, same range.
        n_classes: Number of classes K (the confusion matrix is K x K).

    Returns:
        ``accuracy`` (float), ``macro_f1`` (float; unweighted mean of per-class F1 over the
        classes present in ``y_true`` or ``y_pred``, F1 = 0 where undefined),
        ``confusion_matrix`` (list of K lists of int; row = true class, column = predicted),
        ``n`` (int). With ``n = 0`` the scores are NaN and the matrix is all zeros.

    Raises:
        ValueError: On length mismatch or a class index outside ``[0, n_classes)``.
    """
    y_true = np.asarray(y_true).astype(np.int64).ravel()
    y_pred = np.asarray(y_pred).astype(np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"classification_metrics: {y_true.size} true labels but {y_pred.size} predictions")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        bad = (y < 0) | (y >= n_classes)
        if bad.any():
            raise ValueError(
                f"classification_metrics: {name} has class {int(y[bad][0])} at position {int(np.flatnonzero(bad)[0])}; "
                f"expected 0..{n_classes - 1}"
            )
    labels = list(range(n_classes))
    if y_true.size == 0:
        return {
            "accuracy": float("nan"),
            "macro_f1": float("nan"),
            "confusion_matrix": [[0] * n_classes for _ in labels],
            "n": 0,
        }
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).astype(int).tolist(),
        "n": int(y_true.size),
    }


def regression_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, exclude_zero_for_mape: bool = True
) -> dict[str, float | int]:
    """MAE, RMSE and MAPE on the windows with a (non-NaN) target.

    Args:
        y_true: Targets ``(n,)`` in the task's unit; NaN = no label (masked out).
        y_pred: Predictions ``(n,)``, same unit; must be finite where ``y_true`` is not NaN.
        exclude_zero_for_mape: Drop ``y_true == 0`` from MAPE only (MAE/RMSE keep them). If
            False, scikit-learn's MAPE divides by ``max(|y|, eps)`` and zero targets explode it.

    Returns:
        ``mae``, ``rmse``, ``mape`` (fraction), ``n`` (windows scored for MAE/RMSE) and
        ``n_mape`` (windows scored for MAPE). Metrics with no window to score are NaN.

    Raises:
        ValueError: On length mismatch or a non-finite prediction for a labelled window.
    """
    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"regression_metrics: {y_true.size} targets but {y_pred.size} predictions")
    keep = ~np.isnan(y_true)
    t, p = y_true[keep], y_pred[keep]
    if not np.isfinite(p).all():
        pos = int(np.flatnonzero(keep)[np.flatnonzero(~np.isfinite(p))[0]])
        raise ValueError(f"regression_metrics: prediction at position {pos} is {y_pred[pos]}; expected a finite number")
    nan = float("nan")
    mape_mask = t != 0 if exclude_zero_for_mape else np.ones(t.size, dtype=bool)
    return {
        "mae": float(mean_absolute_error(t, p)) if t.size else nan,
        "rmse": float(root_mean_squared_error(t, p)) if t.size else nan,
        "mape": float(mean_absolute_percentage_error(t[mape_mask], p[mape_mask])) if mape_mask.any() else nan,
        "n": int(t.size),
        "n_mape": int(mape_mask.sum()),
    }


def evaluate_predictions(
    labels: pd.DataFrame,
    predictions: Mapping[str, np.ndarray],
    class_names: Sequence[str],
    key_suffix: str = "",
) -> dict[str, float | int]:
    """Flat metric dict of one model on one split (scalars only, ready for MLflow).

    Args:
        labels: Window labels (``activity``, ``speed``, ``weight``), aligned with predictions.
        predictions: Task name -> predictions for every window: ``activity`` as class indices
            ``(n,)`` or scores ``(n, K)``; ``speed``/``weight`` as ``(n,)`` or ``(n, 1)`` floats.
            Tasks absent from ``predictions`` (single-task models) are absent from the result.
        class_names: Activity class names; ``len(class_names)`` is K.
        key_suffix: Appended to every key (e.g. ``"_baseline"``).

    Returns:
        ``activity_accuracy, activity_macro_f1, n_activity`` and, per regression task,
        ``<task>_mae, <task>_rmse, <task>_mape, n_<task>`` (``n_*`` counts the windows whose
        label for that task is not NaN). The confusion matrix is in :func:`classification_metrics`.

    Raises:
        ValueError: On an unknown task key, a missing label column or misaligned lengths.
    """
    unknown = sorted(set(predictions) - {"activity", *REGRESSION_TASKS})
    if unknown:
        raise ValueError(f"evaluate_predictions: unknown task(s) {unknown}; expected activity, speed, weight")
    n = len(labels)
    result: dict[str, float | int] = {}
    for task, prediction in predictions.items():
        if task not in labels.columns:
            raise ValueError(f"evaluate_predictions: labels have no {task!r} column")
        prediction = np.asarray(prediction)
        if len(prediction) != n:
            raise ValueError(f"evaluate_predictions: {task} has {len(prediction)} predictions for {n} label rows")
        if task == "activity":
            truth = labels["activity"].to_numpy(dtype=np.float64)
            keep = ~np.isnan(truth)
            scores = classification_metrics(truth[keep], predicted_classes(prediction)[keep], len(class_names))
            result[f"activity_accuracy{key_suffix}"] = scores["accuracy"]  # type: ignore[assignment]
            result[f"activity_macro_f1{key_suffix}"] = scores["macro_f1"]  # type: ignore[assignment]
            result[f"n_activity{key_suffix}"] = scores["n"]  # type: ignore[assignment]
        else:
            if prediction.ndim == 2 and prediction.shape[1] == 1:
                prediction = prediction[:, 0]
            scores = regression_metrics(labels[task].to_numpy(dtype=np.float64), prediction)
            for metric in ("mae", "rmse", "mape"):
                result[f"{task}_{metric}{key_suffix}"] = scores[metric]
            result[f"n_{task}{key_suffix}"] = scores["n"]
    return result


def group_majority_accuracy(labels: pd.DataFrame, predicted: np.ndarray, by: str = "subject") -> float:
    """Accuracy of one majority-vote activity prediction per group of windows.

    Each group (``by`` column: ``subject`` for per-subject labels such as a diagnosis,
    ``recording`` for per-recording activities) gets the most frequent predicted class of its
    windows (ties: the smallest class index) and is correct if that equals its true class.

    Args:
        labels: Window labels with ``activity`` and the ``by`` column.
        predicted: Class indices ``(n,)`` or scores ``(n, K)``, aligned with ``labels``.
        by: Grouping column.

    Returns:
        Fraction of groups classified correctly (NaN when there is no group).

    Raises:
        ValueError: If lengths differ, or a group's windows have different true classes (the
            group has no single label to vote for).
    """
    classes = predicted_classes(predicted)
    if len(classes) != len(labels):
        raise ValueError(f"group_majority_accuracy: {len(classes)} predictions for {len(labels)} label rows")
    if by not in labels.columns:
        raise ValueError(f"group_majority_accuracy: labels have no {by!r} column")
    frame = pd.DataFrame({"group": labels[by].astype(str).to_numpy(), "true": labels["activity"].to_numpy(), "pred": classes})
    n_true = frame.groupby("group")["true"].nunique()
    mixed = n_true.index[n_true > 1].tolist()
    if mixed:
        raise ValueError(f"group_majority_accuracy: {by}(s) {mixed[:5]} have windows of several true classes")
    if frame.empty:
        return float("nan")
    votes = frame.groupby("group")["pred"].agg(lambda s: int(np.bincount(s.to_numpy()).argmax()))
    truth = frame.groupby("group")["true"].first()
    return float((votes == truth).mean())


def subject_majority_accuracy(labels: pd.DataFrame, predicted_classes: np.ndarray) -> float:
    """Subject-level accuracy by majority vote over each subject's windows (see :func:`group_majority_accuracy`)."""
    return group_majority_accuracy(labels, predicted_classes, by="subject")
