"""Inference nodes: a trained model + recordings of any source -> one prediction per window, a summary per
recording and, where the recordings carry labels, the evaluation's metrics.

The preprocessing comes from the model (:func:`insole_mtl.inference.model_preprocessing`), never from the
environment's windowing/encoding parameters and never re-fitted: the environment only says where the
recordings are, at which rate the source records, and (for labels) how tasks are read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from matplotlib.figure import Figure

from insole_mtl import inference
from insole_mtl.evaluation.plots import plot_subject_weight, plot_window_gallery
from insole_mtl.evaluation.metrics import evaluate_predictions
from insole_mtl.serving.loading import LoadedModel
from insole_mtl.signals.labels import label_recordings
from insole_mtl.signals.resample import resample_recordings
from insole_mtl.signals.validation import validate_raw_cohort

logger = logging.getLogger(__name__)


def describe_model(loaded: LoadedModel, sampling: Mapping[str, float]) -> dict[str, Any]:
    """What the run applies: the model's source (path or MLflow URI), family, tasks and preprocessing.

    Args:
        loaded: the ``inference_model`` dataset; sampling: ``params:sampling`` (``target_rate_hz`` is assumed
            for a model that does not record its rate).
    """
    card = loaded.card()
    card["applied_preprocessing"] = inference.model_preprocessing(loaded.model, float(sampling["target_rate_hz"])).as_dict()
    return card


def prepare_new_recordings(
    raw_recordings: pd.DataFrame,
    raw_recording_index: pd.DataFrame,
    raw_subjects: pd.DataFrame,
    loaded: LoadedModel,
    sampling: Mapping[str, float],
    tasks: Mapping[str, Mapping[str, Any]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Check the recordings against the model, resample them to the model's rate and read their labels.

    Args:
        raw_recordings: long format (``recording``, ``time_s`` in s, one column per channel, sensor units).
        raw_recording_index, raw_subjects: the source's index and subject tables.
        loaded: the model; sampling: ``params:sampling`` (``source_rate_hz``: the files' rate);
        tasks: ``params:tasks`` (how labels are read; recordings without labels are still predicted).

    Returns:
        The recordings at the model's rate (the model's channels only, float32) and the labels of the
        labelled recordings (``recording, subject, experiment, activity, speed, weight``; may be empty).

    Raises:
        ValueError: channels missing or a rate that differs from the declared one (named recording/column).
    """
    pre = inference.model_preprocessing(loaded.model, float(sampling["target_rate_hz"]))
    source_hz = float(sampling["source_rate_hz"])
    inference.check_recordings(raw_recordings, pre, source_hz)
    validate_raw_cohort(raw_recordings, raw_recording_index, raw_subjects, list(pre.channels))
    recordings = resample_recordings(
        raw_recordings[["recording", "time_s", *pre.channels]], list(pre.channels), source_hz=source_hz, target_hz=pre.sampling_rate_hz
    )
    try:
        labels, _ = label_recordings(raw_recording_index, raw_subjects, tasks)
    except ValueError as error:
        logger.warning("insole_infer: the recordings carry no usable labels (%s); predicting without metrics", error)
        labels = pd.DataFrame(columns=["recording", "subject", "experiment", "activity", "speed", "weight"])
    logger.info("insole_infer: %d recording(s), %d labelled", raw_recording_index.shape[0], len(labels))
    return recordings, labels


def window_new_recordings(
    recordings: pd.DataFrame,
    recording_index: pd.DataFrame,
    recording_labels: pd.DataFrame,
    loaded: LoadedModel,
    sampling: Mapping[str, float],
    inference_params: Mapping[str, Any],
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cut the recordings into the model's windows and check their units against the training's.

    Args:
        inference_params: ``params:inference`` (``stride`` in samples, ``unit_check_max_ratio``).

    Returns:
        windows ``(n, C, L)`` float32 (sensor units) and one row per window (see :func:`inference.cut_windows`).
    """
    pre = inference.model_preprocessing(loaded.model, float(sampling["target_rate_hz"]))
    windows, labels = inference.cut_windows(recordings, recording_index, recording_labels, pre, int(inference_params["stride"]))
    if len(windows) == 0:
        raise ValueError(
            f"insole_infer: no recording is long enough for one window of {pre.window_length} samples "
            f"({pre.window_length / pre.sampling_rate_hz:g} s at {pre.sampling_rate_hz:g} Hz)"
        )
    inference.check_units(windows, labels, loaded.model, pre, float(inference_params["unit_check_max_ratio"]))
    return windows, labels


def predict_new_windows(
    loaded: LoadedModel,
    windows: np.ndarray,
    window_labels: pd.DataFrame,
    tasks: Mapping[str, Mapping[str, Any]],
    sampling: Mapping[str, float],
    inference_params: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per window (:data:`insole_mtl.inference.PREDICTION_COLUMNS`, then labels where known)."""
    pre = inference.model_preprocessing(loaded.model, float(sampling["target_rate_hz"]))
    classes = inference.class_names_of(loaded.model, tasks)
    outputs = inference.predict_windows(loaded.model, windows, pre, int(inference_params["batch_size"]))
    return inference.prediction_table(window_labels, outputs, classes)


def summarise_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per-recording summary (:func:`insole_mtl.inference.recording_summary`)."""
    return inference.recording_summary(predictions)


def score_predictions(
    predictions: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The evaluation's metrics (:func:`insole_mtl.evaluation.metrics.evaluate_predictions`) on the labelled
    windows, and the same numbers as MLflow metrics (``{"name": {"value", "step"}}``; the catalog prefixes
    ``infer.``). Without labels: only window and recording counts."""
    summary: dict[str, Any] = {
        "n_windows": int(len(predictions)),
        "n_recordings": int(predictions["recording"].nunique()),
        "n_subjects": int(predictions["subject"].nunique()),
    }
    if "true_activity_id" in predictions.columns:
        labelled = predictions[predictions["true_activity_id"] >= 0]
        labels = pd.DataFrame(
            {"activity": labelled["true_activity_id"].to_numpy(np.float64),
             "speed": labelled["true_speed"].to_numpy(np.float64), "weight": labelled["true_weight"].to_numpy(np.float64)}
        )  # fmt: skip
        predicted = {"activity": labelled["activity_id"].to_numpy()}
        for task in ("speed", "weight"):
            if predictions[task].notna().any():
                predicted[task] = labelled[task].to_numpy(np.float64)
        summary["n_labelled_windows"] = int(len(labelled))
        if len(labelled):
            summary.update(evaluate_predictions(labels, predicted, list(tasks["activity"]["classes"])))
    flat = {k: float(v) for k, v in summary.items() if isinstance(v, (int, float)) and np.isfinite(v)}
    return summary, {k: {"value": v, "step": 0} for k, v in flat.items()}


def _class_column(predictions: pd.DataFrame) -> pd.DataFrame:
    """``activity`` = the true class id where labelled, else the predicted one (for one-window-per-class figures)."""
    labelled = "true_activity_id" in predictions.columns
    ids = predictions["true_activity_id"] if labelled else predictions["activity_id"]
    return pd.DataFrame({"activity": ids.to_numpy(np.int64), "subject": predictions["subject"].to_numpy()})


def plot_new_recurrence_gallery(
    loaded: LoadedModel, windows: np.ndarray, predictions: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]], sampling: Mapping[str, float]
) -> Figure:
    """One new window per class (true class where labelled, else predicted) x every channel, as the model reads it."""
    pre = inference.model_preprocessing(loaded.model, float(sampling["target_rate_hz"]))
    classes = inference.class_names_of(loaded.model, tasks)
    return plot_window_gallery(windows, _class_column(predictions), classes, pre.channels, pre.percentage or 10.0, pre.resolution)


def plot_new_weight_per_subject(predictions: pd.DataFrame) -> Figure:
    """Median predicted vs true body weight per subject of the new recordings (no points when unlabelled)."""
    table = predictions.rename(columns={"weight": "pred_weight"})
    table["weight"] = predictions["true_weight"] if "true_weight" in predictions.columns else np.nan
    return plot_subject_weight(table)
