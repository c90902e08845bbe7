"""Cross-validation nodes: one fold's split, the gait features, and the out-of-fold report.

The report scores the model's pooled out-of-fold predictions and four baselines, each refitted on every
fold's training subjects (train + validation; never the test fold): the majority class, the mean, the
calibrated mean-force line (``physical``) and random forests on per-recording gait features
(``gait_features``). Definitions of the scores: :mod:`insole_mtl.evaluation.cross_validation`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.evaluation.cross_validation import (
    SCORE_KEYS,
    classification_level,
    majority_predictions,
    mean_predictions,
    physical_predictions,
    pooled_scores,
    proba_columns,
    select,
)
from insole_mtl.evaluation.gait_features import GaitFeatureBaseline, recording_gait_features
from insole_mtl.signals.split import cross_validation_split, file_level_split, subject_strata

logger = logging.getLogger(__name__)

SPLIT_KINDS: tuple[str, ...] = ("subject", "file_level")
BASELINE_KEYS: dict[str, tuple[str, ...]] = {
    "majority": ("classification_subject_accuracy", "classification_recording_accuracy", "classification_window_accuracy"),
    "mean": ("speed_mae_recording", "weight_mae_subject"),
    "physical": ("weight_mae_subject",),
    "gait_features": (
        "classification_subject_accuracy", "classification_recording_accuracy", "classification_auc",
        "speed_mae_recording", "weight_mae_subject",
    ),
}  # fmt: skip


def check_cv_parameters(cv: Mapping[str, Any]) -> str:
    """Validate ``params:cv`` and return the split kind.

    Raises:
        ValueError: an unknown key or split kind, or ``split: file_level`` without ``allow_leakage: true``.
    """
    known = {"split", "allow_leakage", "seed", "val_fraction", "stratify", "gait_features"}
    unknown = sorted(set(cv) - known)
    if unknown:
        raise ValueError(f"params cv: unknown key(s) {unknown}; expected some of {sorted(known)}")
    kind = str(cv.get("split", "subject"))
    if kind not in SPLIT_KINDS:
        raise ValueError(f"params cv.split = {kind!r}; expected one of {list(SPLIT_KINDS)}")
    if kind == "file_level" and cv.get("allow_leakage") is not True:
        raise ValueError(
            "params cv.split = 'file_level' cuts folds over recordings, so one subject's walks are on both sides "
            "of a fold and the model is picked on the test fold: a LEAKY protocol that inflates every score. "
            "Set cv.allow_leakage: true as well to run it on purpose (to measure the inflation)."
        )
    return kind


def split_fold(recording_labels: pd.DataFrame, cv: Mapping[str, Any], fold: int, n_folds: int) -> pd.DataFrame:
    """The split of cross-validation fold ``fold`` of ``n_folds`` (fold ``fold`` = the test split).

    Args:
        recording_labels: one row per labelled recording (``recording, subject, activity``...).
        cv: ``params:cv`` — ``split`` (``subject``: subject-disjoint folds, stratified by class when the class
            is a property of the subject and ``stratify``; ``file_level``: the LEAKY protocol, needs
            ``allow_leakage: true``), ``seed``, ``val_fraction`` (inner validation share of the training
            subjects, for early stopping).
        fold, n_folds: which fold is tested, of how many.

    Returns:
        The split table the partition stage reads (``subject, split, fold``; ``recording, subject, split,
        fold`` for ``file_level``).
    """
    kind = check_cv_parameters(cv)
    seed = int(cv.get("seed", 0))
    if kind == "file_level":
        return file_level_split(recording_labels, n_folds, fold, seed=seed)
    strata = subject_strata(recording_labels) if cv.get("stratify", True) else None
    subjects = recording_labels["subject"].astype(str).unique()
    return cross_validation_split(
        subjects, n_folds, fold, seed=seed, val_fraction=float(cv.get("val_fraction", 0.15)), strata=strata
    )


def compute_gait_features(
    recordings: pd.DataFrame, sampling: Mapping[str, float], cv: Mapping[str, Any]
) -> pd.DataFrame:
    """Per-recording gait features (:func:`insole_mtl.evaluation.gait_features.recording_gait_features`)
    of the force channels ``cv.gait_features.left`` / ``right`` at the model's rate; ``cv.gait_features``
    null = no gait-feature baseline (an empty table)."""
    options = dict(cv.get("gait_features") or {})
    if not options:
        return pd.DataFrame(index=pd.Index([], name="recording", dtype=str))
    left, right = options.pop("left"), options.pop("right")
    options.pop("n_estimators", None)
    return recording_gait_features(recordings, left, right, float(sampling["target_rate_hz"]), **options).reset_index()


def _test_mask(labels: pd.DataFrame, split: pd.DataFrame) -> np.ndarray:
    key = "recording" if "recording" in split.columns else "subject"
    return labels[key].astype(str).isin(split.loc[split["split"] == "test", key].astype(str)).to_numpy()


def _fit_mask(labels: pd.DataFrame, split: pd.DataFrame) -> np.ndarray:
    """Rows a baseline is fitted on: the fold's training subjects (train + validation, never test)."""
    key = "recording" if "recording" in split.columns else "subject"
    held = split.loc[split["split"] == "test", key].astype(str)
    fit = split.loc[split["split"] != "test", key].astype(str)
    return (labels[key].astype(str).isin(fit) & ~labels[key].astype(str).isin(held)).to_numpy()


def _gait_predictions(
    features: pd.DataFrame, recording_labels: pd.DataFrame, split: pd.DataFrame, n_classes: int | None, cv: Mapping[str, Any]
) -> pd.DataFrame | None:
    if features.empty:
        return None
    table = features.set_index("recording")
    labels = recording_labels.assign(recording=recording_labels["recording"].astype(str)).set_index("recording")
    labels = labels.loc[labels.index.intersection(table.index)]
    test = _test_mask(labels.reset_index(), split)
    fit = _fit_mask(labels.reset_index(), split)
    targets = labels[["subject", *[t for t in ("activity", "speed", "weight") if t in labels.columns]]]
    options = dict(cv.get("gait_features") or {})
    baseline = GaitFeatureBaseline(seed=int(cv.get("seed", 0)), n_estimators=int(options.get("n_estimators", 300)))
    baseline.fit(table.loc[targets.index[fit]], targets.iloc[fit])
    predicted = baseline.predict(table.loc[targets.index[test]])
    out = targets.iloc[test].join(predicted).reset_index()
    if n_classes:
        for column in proba_columns(n_classes):
            if column not in out.columns:
                out[column] = 0.0  # a class absent from the fold's training recordings
    return out


def _fold_tables(
    k: int,
    predictions: pd.DataFrame,
    split: pd.DataFrame,
    windows: np.ndarray,
    window_labels: pd.DataFrame,
    gait_features: pd.DataFrame,
    recording_labels: pd.DataFrame,
    channels: Sequence[str],
    reports: Mapping[str, Any],
    cv: Mapping[str, Any],
    n_classes: int | None,
) -> dict[str, pd.DataFrame | None]:
    """Fold ``k``'s out-of-fold rows of the model and of every baseline."""
    fit = _fit_mask(window_labels, split)
    test = _test_mask(window_labels, split)
    train_labels, test_labels = window_labels[fit], window_labels[test].reset_index(drop=True)
    level = classification_level(window_labels)
    tables: dict[str, pd.DataFrame | None] = {"model": predictions.assign(fold=k)}
    tables["majority"] = majority_predictions(train_labels, test_labels, n_classes, level) if n_classes else None
    tables["mean"] = mean_predictions(train_labels, test_labels)
    force_channels = list((reports.get("physical_baseline") or {}).get("force_channels") or ())
    tables["physical"] = None
    if force_channels and "weight" in window_labels.columns and train_labels["weight"].notna().any():
        tables["physical"] = physical_predictions(
            windows[fit], train_labels, windows[test], test_labels, channels, force_channels
        )
    tables["gait_features"] = _gait_predictions(gait_features, recording_labels, split, n_classes, cv)
    return tables


def report_cross_validation(
    n_folds: int,
    *args: Any,
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, dict[str, float]]]:
    """Pool the folds' test predictions and score them with the baselines (see the module docstring).

    Args (positional, after ``n_folds`` bound by the pipeline): the ``n_folds`` folds' test predictions,
    their split tables and their training summaries, then ``windows``, ``window_labels``, ``gait_features``,
    ``recording_labels``, ``params:channels``, ``params:tasks``, ``params:reports``, ``params:cv``.

    Returns:
        ``cross_validation.json`` (``folds``, ``subjects``, ``wall_s`` — filled in by the project hook that
        times the run —, ``split``, ``model``, ``baselines``, ``per_fold``), the pooled out-of-fold window
        predictions (with a ``fold`` column) and the pooled scores as MLflow metrics (the catalog prefixes
        ``cv.``).
    """
    predictions, splits, summaries = args[:n_folds], args[n_folds : 2 * n_folds], args[2 * n_folds : 3 * n_folds]
    windows, window_labels, gait_features, recording_labels, channels, tasks, reports, cv = args[3 * n_folds :]
    kind = check_cv_parameters(cv)
    classes = (tasks.get("activity") or {}).get("classes")
    n_classes = len(classes) if classes else None
    windows = np.asarray(windows)
    folds = [
        _fold_tables(k, predictions[k], splits[k], windows, window_labels, gait_features, recording_labels, channels, reports, cv, n_classes)
        for k in range(n_folds)
    ]
    model, model_folds = pooled_scores([f["model"] for f in folds], n_classes)
    baselines: dict[str, Any] = {}
    baseline_folds: dict[str, list[dict[str, Any]]] = {}
    for name, keys in BASELINE_KEYS.items():
        tables = [f[name] for f in folds]
        if any(t is None for t in tables):
            baselines[name] = dict.fromkeys(keys)
            baseline_folds[name] = [dict.fromkeys(keys) for _ in tables]
            continue
        pooled, per = pooled_scores(tables, n_classes, window_rows=name != "gait_features")
        baselines[name] = select(pooled, keys)
        baseline_folds[name] = [select(p, keys) for p in per]
    test_subjects = [sorted(set(s.loc[s["split"] == "test", "subject"].astype(str))) for s in splits]
    per_fold = [
        {
            "fold": k,
            "test_subjects": len(test_subjects[k]),
            "test_windows": int(len(predictions[k])),
            "model": select(model_folds[k], SCORE_KEYS),
            "baselines": {name: baseline_folds[name][k] for name in BASELINE_KEYS},
            "training": {
                **{key: summaries[k].get(key) for key in ("precision", "device", "best_epoch", "stopped_epoch", "train_seconds")},
                "ensemble": int(summaries[k].get("ensemble", 1)),  # models averaged (training.ensemble)
            },
        }
        for k in range(n_folds)
    ]
    n_subjects = len(set().union(*test_subjects))
    report = {
        "folds": n_folds,
        "subjects": n_subjects,
        "wall_s": None,
        "split": kind,
        "classification_level": classification_level(window_labels),
        "precision": sorted({str(s.get("precision")) for s in summaries}),
        "model": select(model, SCORE_KEYS),
        "baselines": baselines,
        "per_fold": per_fold,
    }
    pooled_predictions = pd.concat([f["model"] for f in folds], ignore_index=True)
    _log_report(report)
    metrics = {f"model.{k}": v for k, v in report["model"].items()}
    metrics.update({f"{name}.{k}": v for name, scores in baselines.items() for k, v in scores.items()})
    mlflow_metrics = {k: {"value": float(v), "step": 0} for k, v in metrics.items() if v is not None and np.isfinite(v)}
    return report, pooled_predictions, mlflow_metrics


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _log_report(report: Mapping[str, Any]) -> None:
    model, base = report["model"], report["baselines"]
    logger.info(
        "Cross-validation (%d folds, %d subjects, %s split): classification subject acc %s (majority %s, gait features %s), "
        "window acc %s (majority %s), AUC %s (gait features %s) | speed MAE/recording %s (mean %s, gait features %s) | "
        "weight MAE/subject %s (mean %s, physical %s, gait features %s)",
        report["folds"], report["subjects"], report["split"],
        _fmt(model["classification_subject_accuracy"]), _fmt(base["majority"]["classification_subject_accuracy"]),
        _fmt(base["gait_features"]["classification_subject_accuracy"]),
        _fmt(model["classification_window_accuracy"]), _fmt(base["majority"]["classification_window_accuracy"]),
        _fmt(model["classification_auc"]), _fmt(base["gait_features"]["classification_auc"]),
        _fmt(model["speed_mae_recording"]), _fmt(base["mean"]["speed_mae_recording"]),
        _fmt(base["gait_features"]["speed_mae_recording"]),
        _fmt(model["weight_mae_subject"]), _fmt(base["mean"]["weight_mae_subject"]),
        _fmt(base["physical"]["weight_mae_subject"]), _fmt(base["gait_features"]["weight_mae_subject"]),
    )  # fmt: skip
