"""Out-of-fold scoring of a cross-validation: the model and its baselines, at the level each label lives on.

A diagnosis and a body weight are properties of a subject, a gait speed of a walk (recording); a 4 s
window is only the model's unit of input. Every predictor — the model (window rows) and each
baseline (window or recording rows) — is therefore scored the same way from a table of its
out-of-fold predictions with ``subject``, ``recording`` and the label columns:

* ``classification_window_accuracy``: share of rows whose predicted class is right (window rows only);
* ``classification_subject_accuracy`` (``_recording_``): the class of highest MEAN probability over the
  subject's (recording's) rows against its label — only when the class is constant within every
  subject (recording), else None;
* ``classification_auc``: ROC AUC of those mean probabilities at the classification's level (subject,
  else recording, else window); one-vs-rest macro average for more than two classes;
* ``speed_mae_recording``: mean over labelled recordings of |mean predicted speed - speed|;
* ``weight_mae_subject``: mean over labelled subjects of |mean predicted weight - weight|.

A task the source lacks (no labelled row) scores None.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from insole_mtl.evaluation.physical_baseline import (
    fit_force_calibration,
    force_channel_indices,
    mean_total_force,
    real_window_mask,
)

logger = logging.getLogger(__name__)

SCORE_KEYS: tuple[str, ...] = (
    "classification_subject_accuracy",
    "classification_recording_accuracy",
    "classification_window_accuracy",
    "classification_auc",
    "speed_mae_recording",
    "weight_mae_subject",
)


def proba_columns(n_classes: int) -> list[str]:
    """Names of the per-class probability columns of a prediction table: ``proba_activity_<k>``."""
    return [f"proba_activity_{k}" for k in range(n_classes)]


def constant_within(table: pd.DataFrame, column: str, by: str) -> bool:
    """True when ``column`` takes one value within every ``by`` group (labelled rows only)."""
    labelled = table[table[column].notna() & (table[column] >= 0)] if column == "activity" else table[table[column].notna()]
    return bool(len(labelled)) and bool((labelled.groupby(by)[column].nunique() <= 1).all())


def classification_level(labels: pd.DataFrame) -> str | None:
    """``"subject"`` when the class is a property of the subject, else ``"recording"`` when of the recording, else None."""
    if "activity" not in labels.columns or not (labels["activity"] >= 0).any():
        return None
    for by in ("subject", "recording"):
        if constant_within(labels, "activity", by):
            return by
    return None


def _group_probabilities(table: pd.DataFrame, by: str, columns: list[str]) -> pd.DataFrame:
    labelled = table[table["activity"] >= 0]
    return labelled.groupby(by).agg(truth=("activity", "first"), **{c: (c, "mean") for c in columns})


def _auc(truth: np.ndarray, proba: np.ndarray) -> float | None:
    """ROC AUC of class probabilities ``proba (n, K)`` for labels ``truth``; only the classes present count."""
    classes = np.unique(truth)
    if len(classes) < 2:
        return None
    if len(classes) == 2:  # binary, also when only two of K > 2 classes occur: renormalised pair
        pair = proba[:, classes]
        positive = pair[:, 1] / np.clip(pair.sum(axis=1), 1e-12, None)
        return float(roc_auc_score(truth == classes[1], positive))
    present = proba[:, classes]
    present = present / np.clip(present.sum(axis=1, keepdims=True), 1e-12, None)
    return float(roc_auc_score(truth, present, multi_class="ovr", average="macro", labels=classes))


def score_predictions(table: pd.DataFrame, n_classes: int | None, window_rows: bool = True) -> dict[str, float | None]:
    """The :data:`SCORE_KEYS` of one predictor's out-of-fold predictions (see the module docstring).

    Args:
        table: one row per window (``window_rows``) or per recording: ``subject``, ``recording``, the label
            columns present (``activity`` class id, -1 = none; ``speed``; ``weight``; NaN = none) and the
            predictions ``proba_activity_<k>`` (k < ``n_classes``), ``pred_speed``, ``pred_weight``.
        n_classes: classes of the classification (None = no classification).
        window_rows: whether rows are windows (only then is ``classification_window_accuracy`` scored).
    """
    scores: dict[str, float | None] = dict.fromkeys(SCORE_KEYS)
    columns = proba_columns(n_classes) if n_classes else []
    if columns and all(c in table.columns for c in columns) and "activity" in table.columns:
        labelled = table[table["activity"] >= 0]
        if len(labelled):
            proba = labelled[columns].to_numpy(np.float64)
            if window_rows:
                scores["classification_window_accuracy"] = float((proba.argmax(1) == labelled["activity"].to_numpy()).mean())
            level = classification_level(labelled)
            for by in ("subject", "recording"):
                if constant_within(labelled, "activity", by):
                    groups = _group_probabilities(labelled, by, columns)
                    mean_proba = groups[columns].to_numpy()
                    scores[f"classification_{by}_accuracy"] = float((mean_proba.argmax(1) == groups["truth"].to_numpy()).mean())
            if level is not None:
                groups = _group_probabilities(labelled, level, columns)
                scores["classification_auc"] = _auc(groups["truth"].to_numpy(np.int64), groups[columns].to_numpy())
            elif window_rows:
                scores["classification_auc"] = _auc(labelled["activity"].to_numpy(np.int64), proba)
    for task, by, key in (("speed", "recording", "speed_mae_recording"), ("weight", "subject", "weight_mae_subject")):
        pred = f"pred_{task}"
        if task not in table.columns or pred not in table.columns:
            continue
        labelled = table[table[task].notna() & table[pred].notna()]
        if len(labelled):
            per = labelled.groupby(by).agg(truth=(task, "mean"), pred=(pred, "mean"))
            scores[key] = float((per["pred"] - per["truth"]).abs().mean())
    return scores


# ------------------------------------------------------------------------------------------------
# Baselines, fitted on one fold's training subjects and predicting its test rows
# ------------------------------------------------------------------------------------------------
def _real(labels: pd.DataFrame) -> pd.DataFrame:
    return labels[real_window_mask(labels)]


def majority_predictions(train_labels: pd.DataFrame, test_labels: pd.DataFrame, n_classes: int, level: str | None) -> pd.DataFrame:
    """Test windows with one-hot probabilities of the training majority class.

    The majority is counted over training SUBJECTS when the class is a property of the subject (the
    subject-level baseline), else over training windows.
    """
    train = _real(train_labels)
    labelled = train[train["activity"] >= 0]
    counts = (labelled.groupby("subject")["activity"].first() if level == "subject" else labelled["activity"]).value_counts()
    majority = int(counts.sort_index().idxmax()) if len(counts) else 0
    out = test_labels[["subject", "recording", "activity"]].reset_index(drop=True).copy()
    for k, column in enumerate(proba_columns(n_classes)):
        out[column] = float(k == majority)
    return out


def mean_predictions(train_labels: pd.DataFrame, test_labels: pd.DataFrame) -> pd.DataFrame:
    """Test windows predicted with the training mean speed (over windows) and mean weight (over subjects)."""
    train = _real(train_labels)
    out = test_labels[["subject", "recording"] + [t for t in ("speed", "weight") if t in test_labels.columns]]
    out = out.reset_index(drop=True).copy()
    if "speed" in train.columns and train["speed"].notna().any():
        out["pred_speed"] = float(train["speed"].mean())
    if "weight" in train.columns and train["weight"].notna().any():
        out["pred_weight"] = float(train.dropna(subset=["weight"]).groupby("subject")["weight"].first().mean())
    return out


def physical_predictions(
    train_windows: np.ndarray,
    train_labels: pd.DataFrame,
    test_windows: np.ndarray,
    test_labels: pd.DataFrame,
    channels: Sequence[str],
    force_channels: Sequence[str],
) -> pd.DataFrame:
    """Test windows' weight from the mean total force, by a line fitted on the training subjects
    (:func:`insole_mtl.evaluation.physical_baseline.fit_force_calibration`)."""
    idx = force_channel_indices(channels, force_channels)
    keep = real_window_mask(train_labels)
    calibration = fit_force_calibration(
        mean_total_force(np.asarray(train_windows)[keep], idx),
        train_labels["weight"].to_numpy(np.float64)[keep],
        train_labels["subject"].to_numpy()[keep],
    )
    out = test_labels[["subject", "recording", "weight"]].reset_index(drop=True).copy()
    out["pred_weight"] = calibration.predict(mean_total_force(test_windows, idx))
    return out


def pooled_scores(
    fold_tables: Sequence[pd.DataFrame], n_classes: int | None, window_rows: bool = True
) -> tuple[dict[str, float | None], list[dict[str, float | None]]]:
    """Scores of the concatenated out-of-fold tables, and of each fold's table alone."""
    per_fold = [score_predictions(table, n_classes, window_rows) for table in fold_tables]
    pooled = score_predictions(pd.concat(list(fold_tables), ignore_index=True), n_classes, window_rows)
    return pooled, per_fold


def select(scores: Mapping[str, float | None], keys: Sequence[str]) -> dict[str, float | None]:
    """The named keys of a score dict (a key the predictor could not score stays None)."""
    return {key: scores.get(key) for key in keys}
