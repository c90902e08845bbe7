"""Source-level report: windows per task and split, group-level (majority-vote) scores.

Window-level test metrics live in ``metrics.json`` (:mod:`insole_mtl.evaluation.metrics`). For
a real-data source the questions are also "how much labelled data does each task really have"
(labels are masked, never imputed) and "how good is the model per subject" (a diagnosis or a
body weight is a property of the subject, not of a 4 s window). This module answers both.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from insole_mtl import schema
from insole_mtl.evaluation.metrics import group_majority_accuracy, predicted_classes

logger = logging.getLogger(__name__)

WINDOW_COUNT_COLUMNS: tuple[str, ...] = ("split", "task", "windows", "subjects", "recordings")
GROUPINGS: tuple[str, ...] = ("subject", "recording")
REGRESSION_TASKS: tuple[str, ...] = ("speed", "weight")


def window_counts(parts: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """How many windows (and subjects, recordings) carry each task's label, per split.

    Args:
        parts: split name -> window labels (``subject``, ``recording``, task columns; an
            optional ``synthetic`` column: synthetic windows are counted under task
            ``activity_synthetic`` and never as real windows).

    Returns:
        DataFrame :data:`WINDOW_COUNT_COLUMNS` (``windows``/``subjects``/``recordings`` int64),
        one row per split and task (``all`` = every real window of the split).
    """
    rows: list[tuple[str, str, int, int, int]] = []
    for split, labels in parts.items():
        synthetic = labels["synthetic"].astype(bool).to_numpy() if "synthetic" in labels.columns else np.zeros(len(labels), bool)
        real = labels.loc[~synthetic]
        masks = {"all": np.ones(len(real), dtype=bool)}
        for task in schema.TASKS:
            if task in real.columns:
                masks[task] = real[task].notna().to_numpy()
        for task, mask in masks.items():
            chosen = real.loc[mask]
            rows.append((split, task, int(mask.sum()), int(chosen["subject"].nunique()), int(chosen["recording"].nunique())))
        if synthetic.any():
            rows.append((split, "activity_synthetic", int(synthetic.sum()), 0, 0))
    frame = pd.DataFrame(rows, columns=list(WINDOW_COUNT_COLUMNS))
    return frame.astype({"split": str, "task": str, "windows": "int64", "subjects": "int64", "recordings": "int64"})


def _constant_within(labels: pd.DataFrame, column: str, by: str) -> bool:
    present = labels[labels[column].notna()]
    return bool(present.empty or (present.groupby(by)[column].nunique() <= 1).all())


def group_scores(predictions: pd.DataFrame, groupings: Sequence[str] = GROUPINGS) -> tuple[dict[str, float | int], list[str]]:
    """Scores of one prediction per group of test windows (majority vote / mean).

    For each grouping ``by`` (``subject`` and/or ``recording``) and each task whose label is
    constant within every group: ``activity_accuracy_<by>_majority`` (majority vote of the
    windows' predicted classes, ties to the smallest class), ``<task>_mae_<by>_mean`` (mean of
    the windows' predictions against the group's label) and ``n_<task>_<by>`` (groups scored).
    A task whose label varies within a group (e.g. the paper's activity within a subject) has
    no group-level score for that grouping: a note says so.

    Args:
        predictions: test window labels plus ``pred_<task>`` columns (``pred_activity`` class
            indices or scores).
        groupings: columns to group by.

    Returns:
        ``(scores, notes)``.
    """
    scores: dict[str, float | int] = {}
    notes: list[str] = []
    for by in groupings:
        if by not in predictions.columns:
            raise ValueError(f"group_scores: predictions have no {by!r} column")
        if "pred_activity" in predictions.columns and "activity" in predictions.columns:
            if _constant_within(predictions, "activity", by):
                scores[f"activity_accuracy_{by}_majority"] = group_majority_accuracy(
                    predictions, predictions["pred_activity"].to_numpy(), by=by
                )
                scores[f"n_activity_{by}"] = int(predictions[by].nunique())
            else:
                notes.append(f"activity: the label varies within a {by}, no {by}-level majority vote")
        for task in REGRESSION_TASKS:
            pred = f"pred_{task}"
            if pred not in predictions.columns or task not in predictions.columns:
                continue
            labelled = predictions[predictions[task].notna()]
            if not _constant_within(labelled, task, by):
                notes.append(f"{task}: the label varies within a {by}, no {by}-level mean prediction")
                continue
            per_group = labelled.groupby(by).agg(true=(task, "first"), pred=(pred, "mean"))
            scores[f"{task}_mae_{by}_mean"] = float((per_group["pred"] - per_group["true"]).abs().mean()) if len(per_group) else float("nan")
            scores[f"n_{task}_{by}"] = int(len(per_group))
    return scores, notes


def majority_vote_classes(predictions: pd.DataFrame, by: str = "subject") -> pd.DataFrame:
    """One row per group: ``<by>``, true ``activity``, majority-vote ``predicted`` class, ``windows``, ``agreement``.

    ``agreement`` is the fraction of the group's windows that voted for the winning class.
    """
    classes = predicted_classes(predictions["pred_activity"].to_numpy())
    frame = pd.DataFrame({by: predictions[by].astype(str).to_numpy(), "activity": predictions["activity"].to_numpy(), "pred": classes})
    rows = []
    for group, part in frame.groupby(by, sort=True):
        votes = np.bincount(part["pred"].to_numpy())
        winner = int(votes.argmax())
        rows.append((group, int(part["activity"].iloc[0]), winner, len(part), float(votes[winner] / len(part))))
    return pd.DataFrame(rows, columns=[by, "activity", "predicted", "windows", "agreement"])
