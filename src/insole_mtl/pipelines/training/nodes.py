"""Training node: fit the multitask model on the training windows, early-stopped on the validation windows."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from insole_mtl.models.registry import build_model
from insole_mtl.tasks import task_specs
from insole_mtl.training.data import TaskArrays
from insole_mtl.training.engine import TrainConfig, fit_target_scaling, train_model
from insole_mtl.training.weighting import build_weighting

logger = logging.getLogger(__name__)


def task_arrays(inputs: np.ndarray, labels: pd.DataFrame, tasks: Sequence[str]) -> TaskArrays:
    """Pair model inputs with per-task target vectors (NaN = masked for regression)."""
    if len(inputs) != len(labels):
        raise ValueError(f"inputs have {len(inputs)} windows but labels have {len(labels)} rows")
    targets = {}
    for task in tasks:
        column = labels[task]
        targets[task] = column.to_numpy(np.int64) if task == "activity" else column.to_numpy(np.float64)
    return TaskArrays(inputs=inputs, targets=targets)


def train_multitask_model(
    train_inputs: np.ndarray,
    train_labels: pd.DataFrame,
    val_inputs: np.ndarray,
    val_labels: pd.DataFrame,
    channels: Sequence[str],
    tasks: Mapping[str, Mapping[str, Any]],
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
) -> tuple[torch.nn.Module, torch.nn.Module, pd.DataFrame, dict[str, list[dict[str, float]]]]:
    """Train the configured model with masked task losses and the configured loss weighting.

    Args:
        train_inputs: packed recurrence plots ``(n, C, L, L/8)`` uint8 (or raw windows ``(n, C, L)`` for
            recurrent models) of the (oversampled) training windows; ``train_labels`` one row per window.
        val_inputs, val_labels: the validation subjects' windows, for early stopping.
        channels: channel names (their count is the model's input channels).
        tasks: ``params:tasks``; model: ``params:model`` (name, options, tasks); loss_weighting:
            ``params:loss_weighting``; training: ``params:training`` (see ``TrainConfig``).

    Returns:
        The model with the best validation epoch's weights (CPU, eval mode) twice — the file artifact and
        the MLflow model — the per-epoch history table and the same history as MLflow metric curves.
    """
    specs = task_specs(tasks, model.get("tasks"))
    names = [spec.name for spec in specs]
    config = TrainConfig.from_params(training)
    torch.manual_seed(config.seed)
    net = build_model(model["name"], in_channels=len(channels), tasks=specs, **dict(model.get("options") or {}))
    weighting = build_weighting(loss_weighting["method"], specs, **dict(loss_weighting.get("options") or {}))
    train = task_arrays(train_inputs, train_labels, names)
    val = task_arrays(val_inputs, val_labels, names)
    fit_target_scaling(net, specs, train.targets)
    result = train_model(net, weighting, train, val, specs, config)
    net.load_state_dict(result.best_state)
    net.to("cpu").eval()
    logger.info(
        "Best epoch %d of %d (early stop: %s) on %s/%s",
        result.best_epoch, result.stopped_epoch, result.stopped_early, result.device, result.precision,
    )
    return net, net, result.history, history_to_curves(result.history)


def history_to_curves(history: pd.DataFrame) -> dict[str, list[dict[str, float]]]:
    """Per-epoch history -> ``{metric: [{"step": epoch, "value": v}, ...]}`` for MlflowMetricsHistoryDataset."""
    curves: dict[str, list[dict[str, float]]] = {}
    for column in history.columns:
        if column == "epoch" or not pd.api.types.is_numeric_dtype(history[column]):
            continue
        points = [
            {"step": int(epoch), "value": float(value)}
            for epoch, value in zip(history["epoch"], history[column])
            if np.isfinite(value)
        ]
        if points:
            curves[column] = points  # the catalog prefixes "epoch."
    return curves
