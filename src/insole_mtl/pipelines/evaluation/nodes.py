"""Evaluation nodes: test-set predictions, metrics against a mean predictor, and plots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from insole_mtl.evaluation.baselines import mean_predictor
from insole_mtl.evaluation.metrics import classification_metrics, evaluate_predictions
from insole_mtl.evaluation.physical_baseline import physical_weight_baseline
from insole_mtl.evaluation.task_report import group_scores, window_counts
from insole_mtl.evaluation.plots import plot_confusion_matrix, plot_predicted_vs_true, plot_training_curves
from insole_mtl.training.data import select_inputs
from insole_mtl.training.engine import predict

logger = logging.getLogger(__name__)


def predict_test_windows(
    model: torch.nn.Module,
    test_plots: np.ndarray,
    test_windows: np.ndarray,
    test_labels: pd.DataFrame,
    evaluation: Mapping[str, Any],
) -> pd.DataFrame:
    """Predict every test window from the inputs the model reads (``model.input_names``).

    Returns:
        The label table plus ``pred_<task>`` columns (physical units) and, for the classification,
        ``proba_activity`` (probability of the predicted class) and ``proba_activity_<k>`` per class.
    """
    inputs = select_inputs(model.input_names, test_plots, test_windows, "test")
    outputs = predict(model, inputs, batch_size=int(evaluation["batch_size"]), device=str(evaluation.get("device", "auto")))
    predictions = test_labels.reset_index(drop=True).copy()
    for task in model.task_names:
        if task in outputs:
            predictions[f"pred_{task}"] = outputs[task]
        if f"{task}_proba" in outputs:
            proba = outputs[f"{task}_proba"]
            predictions[f"proba_{task}"] = proba[np.arange(len(proba)), outputs[task]]
            for k in range(proba.shape[1]):
                predictions[f"proba_{task}_{k}"] = proba[:, k]
    return predictions


def _class_names(tasks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    return list(tasks["activity"]["classes"])


def compute_test_metrics(
    predictions: pd.DataFrame,
    train_labels: pd.DataFrame,
    tasks: Mapping[str, Mapping[str, Any]],
    training_summary: Mapping[str, Any],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Test metrics (SPEC §7) and the same metrics for a predict-the-training-mean baseline.

    Args:
        predictions: output of :func:`predict_test_windows`.
        train_labels: labels of the ORIGINAL training windows (not oversampled), for the mean predictor.
        tasks: ``params:tasks``.
        training_summary: the training node's summary; its ``precision`` and ``device`` (what training
            really used: ``precision: auto`` picks bf16 on CPUs with native bf16) are copied into the
            metrics so every score says which arithmetic produced it.

    Returns:
        A flat dict (``activity_accuracy``, ``speed_mae``, ..., ``speed_mae_baseline``, ..., ``precision``,
        ``device``) for ``metrics.json``, and the numeric values in MLflow's ``{"name": {"value", "step"}}``
        form (``precision_bf16`` is 1 for bf16 training, else 0).
    """
    class_names = _class_names(tasks)
    predicted = {
        task: predictions[f"pred_{task}"].to_numpy()
        for task in ("activity", "speed", "weight")
        if f"pred_{task}" in predictions
    }
    metrics: dict[str, Any] = evaluate_predictions(predictions, predicted, class_names)
    baseline = evaluate_predictions(predictions, mean_predictor(train_labels, predictions), class_names, key_suffix="_baseline")
    metrics.update({key: value for key, value in baseline.items() if not key.startswith("n_")})
    flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float))}
    metrics["precision"] = str(training_summary.get("precision"))
    metrics["device"] = str(training_summary.get("device"))
    flat["precision_bf16"] = float(metrics["precision"] == "bf16")
    if "activity" in predicted:
        labelled = predictions["activity"].to_numpy()
        metrics["activity_confusion_matrix"] = classification_metrics(
            labelled, predicted["activity"], len(class_names)
        )["confusion_matrix"]
    logger.info(
        "Test: activity acc %.3f (macro-F1 %.3f) | speed MAE %.3f (baseline %.3f) | weight MAE %.2f (baseline %.2f)",
        flat.get("activity_accuracy", np.nan), flat.get("activity_macro_f1", np.nan),
        flat.get("speed_mae", np.nan), flat.get("speed_mae_baseline", np.nan),
        flat.get("weight_mae", np.nan), flat.get("weight_mae_baseline", np.nan),
    )
    # the catalog prefixes "test." to each key
    mlflow_metrics = {k: {"value": float(v), "step": 0} for k, v in flat.items() if np.isfinite(v)}
    return metrics, mlflow_metrics


def plot_test_confusion_matrix(metrics: Mapping[str, Any], tasks: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Row-normalised confusion matrix of the test windows."""
    return plot_confusion_matrix(np.asarray(metrics["activity_confusion_matrix"]), _class_names(tasks), normalize=True)


def plot_test_speed(predictions: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Predicted vs true speed on the test windows that carry a speed label."""
    return _plot_regression(predictions, "speed", tasks)


def plot_test_weight(predictions: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Predicted vs true body weight on the test windows that carry a weight label."""
    return _plot_regression(predictions, "weight", tasks)


def _plot_regression(predictions: pd.DataFrame, task: str, tasks: Mapping[str, Mapping[str, Any]]) -> Figure:
    labelled = predictions[predictions[task].notna()]
    return plot_predicted_vs_true(
        labelled[task].to_numpy(), labelled[f"pred_{task}"].to_numpy(), task, tasks[task].get("unit", "")
    )


def plot_learning_curves(history: pd.DataFrame) -> Figure:
    """Per-epoch train/validation losses and validation metrics."""
    return plot_training_curves(history)


def compute_task_report(
    predictions: pd.DataFrame,
    metrics: Mapping[str, Any],
    train_windows: np.ndarray,
    train_labels: pd.DataFrame,
    val_labels: pd.DataFrame,
    test_windows: np.ndarray,
    test_labels: pd.DataFrame,
    oversampled_labels: pd.DataFrame,
    channels: Sequence[str],
    tasks: Mapping[str, Mapping[str, Any]],
    reports: Mapping[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame, dict[str, dict[str, float]]]:
    """Per-source summary: windows per task and split, subject-level scores, physical weight baseline.

    Args:
        predictions: ``test.predictions``; metrics: ``metrics.json`` (window-level scores and the mean baseline).
        train_windows, train_labels: the ORIGINAL training windows (before oversampling) and labels.
        val_labels, test_windows, test_labels, oversampled_labels: the other splits' labels / windows.
        channels: ``params:channels``; tasks: ``params:tasks``.
        reports: ``params:reports`` — ``groupings`` (``[subject, recording]``: majority vote / mean prediction per
            group) and ``physical_baseline.force_channels`` (channels summed into the total force; empty or
            null = no physical baseline).

    Returns:
        ``task_report`` (JSON: window-level scores copied from ``metrics``, group-level scores, physical baseline,
        windows per task and split, notes), ``window_counts`` (table) and the scalar scores as MLflow metrics
        (the catalog prefixes ``test.``).
    """
    counts = window_counts(
        {"train": train_labels, "train_oversampled": oversampled_labels, "val": val_labels, "test": test_labels}
    )
    groupings = list(reports.get("groupings") or ())
    scores, notes = group_scores(predictions, groupings)
    # The same group-level scores for the mean predictor (training majority class / training mean).
    constant = predictions.copy()
    for task, values in mean_predictor(train_labels, predictions).items():
        if f"pred_{task}" in constant.columns:
            constant[f"pred_{task}"] = values
    baseline_scores, _ = group_scores(constant, groupings)
    scores.update({f"{key}_baseline": value for key, value in baseline_scores.items() if not key.startswith("n_")})
    force_channels = list((reports.get("physical_baseline") or {}).get("force_channels") or ())
    physical: dict[str, float | int] = {}
    if force_channels and "weight" in test_labels.columns:
        try:
            physical = physical_weight_baseline(train_windows, train_labels, test_windows, test_labels, channels, force_channels)
        except ValueError as error:
            if "training subject(s) with a weight label" not in str(error):
                raise
            notes.append(f"physical baseline not fitted: {error}")
    window_level = {
        key: metrics[key]
        for key in (
            "activity_accuracy", "activity_accuracy_baseline", "activity_macro_f1", "n_activity",
            "speed_mae", "speed_mae_baseline", "speed_rmse", "n_speed",
            "weight_mae", "weight_mae_baseline", "weight_rmse", "n_weight",
        )
        if key in metrics
    }  # fmt: skip
    test_counts = counts[counts["split"] == "test"].set_index("task")
    report: dict[str, Any] = {
        "tasks": {
            name: {k: v for k, v in dict(cfg).items() if k in ("kind", "classes", "unit", "from", "column")}
            for name, cfg in tasks.items()
        },
        "channels": list(channels),
        "test_subjects": int(test_counts.loc["all", "subjects"]) if "all" in test_counts.index else 0,
        "window_level": window_level,
        "group_level": scores,
        "physical_baseline": physical,
        "windows_per_task": {
            split: {row.task: int(row.windows) for row in part.itertuples()} for split, part in counts.groupby("split", sort=False)
        },
        "notes": notes,
    }
    for note in notes:
        logger.info("Task report: %s", note)
    nan = float("nan")
    logger.info(
        "Task report: subject-majority accuracy %.3f (baseline %.3f) | weight MAE %.2f (mean baseline %.2f, "
        "physical %.2f) | test windows per task %s",
        scores.get("activity_accuracy_subject_majority", nan), scores.get("activity_accuracy_subject_majority_baseline", nan),
        window_level.get("weight_mae", nan), window_level.get("weight_mae_baseline", nan),
        physical.get("weight_mae_physical", nan), report["windows_per_task"].get("test"),
    )  # fmt: skip
    flat = {**scores, **{k: v for k, v in physical.items() if k.startswith("weight_")}}
    flat = {k: v for k, v in flat.items() if v is not None}
    mlflow_metrics = {k: {"value": float(v), "step": 0} for k, v in flat.items() if np.isfinite(float(v))}
    return report, counts, mlflow_metrics
