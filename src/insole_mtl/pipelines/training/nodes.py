"""Training node: fit the multitask model on the training windows, early-stopped on the validation windows."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from insole_mtl.encoding.recurrence import recurrence_cell
from insole_mtl.evaluation.physical_baseline import real_window_mask
from insole_mtl.models import RECURRENCE_PLOTS, EnsembleModel, MultitaskModel, build_model, model_input_kind
from insole_mtl.models.force_prior import ForcePrior, force_prior_features_numpy
from insole_mtl.tasks import task_specs
from insole_mtl.training.data import TaskArrays, group_balanced_weights, select_inputs
from insole_mtl.run_parameters import channel_positions, ensemble_size, train_config
from insole_mtl.training.engine import CheckpointStoreLike, train_model
from insole_mtl.training.weighting import build_weighting

logger = logging.getLogger(__name__)



def task_arrays(inputs: np.ndarray | tuple[np.ndarray, ...], labels: pd.DataFrame, tasks: Sequence[str]) -> TaskArrays:
    """Pair model inputs with per-task target vectors (NaN = masked for regression)."""
    first = inputs[0] if isinstance(inputs, tuple) else inputs
    if len(first) != len(labels):
        raise ValueError(f"inputs have {len(first)} windows but labels have {len(labels)} rows")
    targets = {}
    for task in tasks:
        column = labels[task]
        targets[task] = column.to_numpy(np.int64) if task == "activity" else column.to_numpy(np.float64)
    return TaskArrays(inputs=inputs, targets=targets)


def model_options(model: Mapping[str, Any], recurrence: Mapping[str, Any], window_length: int) -> dict[str, Any]:
    """Constructor options of the configured model: ``model.options`` plus, for a recurrence-plot model,
    ``recurrence_cell`` = window length / ``recurrence.resolution`` (1 = the paper's full 160 x 160 plots)."""
    options = dict(model.get("options") or {})
    if model_input_kind(str(model["name"])) == "recurrence_plot":
        resolution = recurrence.get("resolution")
        options["recurrence_cell"] = recurrence_cell(window_length, int(resolution)) if resolution else 1
    return options


def force_prior(config: Mapping[str, Any], channels: Sequence[str]) -> ForcePrior:
    """The unfitted :class:`~insole_mtl.models.force_prior.ForcePrior` of ``model.force_prior``: ``task`` (default
    ``weight``) and ``channels`` (the force channels summed: a list of channel names, or ``all``).

    Raises:
        ValueError: an unknown key, or a channel that is not one of ``channels`` (named).
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"model.force_prior must be a mapping with 'task' and 'channels' (or null), got {config!r}")
    unknown = sorted(set(config) - {"task", "channels"})
    if unknown:
        raise ValueError(f"model.force_prior: unknown key(s) {unknown}; allowed: ['channels', 'task']")
    positions = channel_positions("model.force_prior.channels", config.get("channels", "all"), channels)
    return ForcePrior(list(range(len(channels))) if positions is None else positions, task=str(config.get("task", "weight")))


def fitted_force_prior(
    config: Mapping[str, Any], channels: Sequence[str], splits: Sequence[tuple[np.ndarray, pd.DataFrame]], seed: int
) -> ForcePrior:
    """:func:`force_prior` fitted on the windows ``(n, C, L)`` and labels of ``splits`` together (the training node
    passes the training and validation splits: like the physical baseline, the closed-form fit picks its penalty by
    its own inner subject-wise folds and has no epoch to choose); recorded windows only (an oversampled window
    belongs to no subject's walk)."""
    prior = force_prior(config, channels)
    features = np.concatenate([force_prior_features_numpy(windows, prior.channels) for windows, _ in splits])
    weight = np.concatenate(
        [np.where(real_window_mask(labels), labels[prior.task].to_numpy(np.float64), np.nan) for _, labels in splits]
    )
    subjects = np.concatenate([labels["subject"].astype(str).to_numpy() for _, labels in splits])
    summary = prior.fit_features(features, weight, subjects, seed=seed)
    logger.info(
        "Force prior for %r fitted on %d training and validation subjects (%d windows): ridge alpha %g, coefficients per "
        "feature sd %s",
        prior.task, summary["subjects"], summary["windows"], summary["alpha"],
        dict(zip(summary["features"], np.round(summary["coef_per_feature_sd"], 3).tolist())),
    )  # fmt: skip
    return prior


def weighting_options(loss_weighting: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """Constructor options of the configured loss weighting; random loss weighting draws its weights from
    the run's training ``seed`` unless ``loss_weighting.options.seed`` fixes it (so each protocol seed samples
    its own weight sequence)."""
    options = dict(loss_weighting.get("options") or {})
    if loss_weighting["method"] == "rlw" and options.get("seed") is None:
        options["seed"] = int(seed)
    return options


def train_multitask_model(
    train_plots: np.ndarray,
    train_windows: np.ndarray,
    train_labels: pd.DataFrame,
    val_plots: np.ndarray,
    val_windows: np.ndarray,
    val_labels: pd.DataFrame,
    channels: Sequence[str],
    tasks: Mapping[str, Mapping[str, Any]],
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
    recurrence: Mapping[str, Any],
    checkpoints: CheckpointStoreLike | None = None,
    sampling: Mapping[str, Any] | None = None,
) -> tuple[torch.nn.Module, torch.nn.Module, pd.DataFrame, dict[str, list[dict[str, float]]], dict[str, Any]]:
    """Train the configured model with masked task losses and the configured loss weighting.

    Args:
        train_plots: recurrence plots of the (oversampled) training windows: packed ``(n, C, L, L/8)``
            uint8 at full resolution or counts ``(n, C, R, R)`` uint8 (empty when the model reads raw
            windows only); train_windows: the same windows raw ``(n, C, L)`` float32; train_labels:
            one row per window.
        val_plots, val_windows, val_labels: the validation subjects' windows, for early stopping.
        channels: channel names (their count is the model's input channels).
        tasks: ``params:tasks``; model: ``params:model`` (name, options, tasks, and ``force_prior``: when set, the
            model's ``predict`` reads that task from a :class:`~insole_mtl.models.force_prior.ForcePrior` fitted on
            the training and validation windows, :func:`fitted_force_prior`); loss_weighting:
            ``params:loss_weighting``; training: ``params:training`` (``TrainConfig`` keys, plus
            ``balance_subjects``: draw every training subject equally often; ``balance_classes``: and every
            activity class equally often, the subjects within a class equally; ``ensemble: N``: train N models
            from seeds ``seed .. seed + N - 1`` on the same windows and average them, an
            :class:`~insole_mtl.models.ensemble.EnsembleModel`; ``force_scaling.channels``: channel names, made
            positions in ``channels``, :func:`~insole_mtl.run_parameters.train_config`); recurrence: ``params:recurrence`` (its
            ``resolution`` sets a plot model's ``recurrence_cell``).
        checkpoints: the ``training_checkpoints`` store (a checkpoint after every epoch; ``training.resume:
            true`` continues after the newest one); None = no checkpoints (nor with ``ensemble > 1``).
        sampling: ``params:sampling``; its ``target_rate_hz`` is recorded in ``model.preprocessing``.

    Returns:
        The model with the best validation epoch's weights (CPU, eval mode) twice — the file artifact and
        the MLflow model — the per-epoch history table, the same history as MLflow metric curves, and a
        training summary (device, precision actually used, best/stopped epoch, wall time; an ensemble's
        history has a ``member`` column and its summary ``ensemble`` and per-member ``members``, the
        top-level epochs being member 0's).
    """
    specs = task_specs(tasks, model.get("tasks"))
    names = [spec.name for spec in specs]
    balance = bool(training.get("balance_subjects", False))
    balance_classes = bool(training.get("balance_classes", False))
    if balance_classes and not balance:
        raise ValueError("training.balance_classes: true needs training.balance_subjects: true (classes are balanced over subjects)")
    config = train_config(training, channels)
    n_members = ensemble_size(training)
    length = int(np.asarray(train_windows).shape[-1])
    options = model_options(model, recurrence, length)

    def build(seed: int) -> MultitaskModel:
        torch.manual_seed(seed)
        return build_model(str(model["name"]), in_channels=len(channels), tasks=specs, **options)

    net = build(config.seed)
    preprocessing = {
        "channels": list(channels),
        "window_length": length,
        # the rate the windows were cut at: applying the model to new recordings resamples to it
        "sampling_rate_hz": float(sampling["target_rate_hz"]) if sampling else None,
        "input_names": list(net.input_names),
        "recurrence": {k: recurrence.get(k) for k in ("percentage", "resolution")} if RECURRENCE_PLOTS in net.input_names else None,
    }
    train = task_arrays(select_inputs(net.input_names, train_plots, train_windows, "train"), train_labels, names)
    val = task_arrays(select_inputs(net.input_names, val_plots, val_windows, "val"), val_labels, names)
    weights = None
    if balance:
        synthetic = train_labels["synthetic"].to_numpy(bool) if "synthetic" in train_labels.columns else None
        if balance_classes and "activity" not in train_labels.columns:
            raise ValueError("training.balance_classes: true needs the activity (classification) labels in train_labels")
        classes = train_labels["activity"].to_numpy() if balance_classes else None
        weights = group_balanced_weights(train_labels["subject"].to_numpy(), synthetic, classes)
    bags = None
    if config.bag_size > 1:
        if "synthetic" in train_labels.columns and train_labels["synthetic"].to_numpy(bool).any():
            raise ValueError(
                f"training.bag_size={config.bag_size} pools windows of one recording; the oversampled windows belong to "
                "none: set oversampling.enabled: false or training.bag_size: 1"
            )
        bags = train_labels["recording"].to_numpy()
    if n_members > 1 and checkpoints is not None:
        # the store holds one training: emptied, so that a later `resume: true` cannot continue an unrelated run
        removed = checkpoints.clear()
        logger.info("training.ensemble=%d: no epoch checkpoints (they hold one training); removed %d old one(s)", n_members, removed)
    members, histories, member_summaries = [], [], []
    started = time.perf_counter()
    for member in range(n_members):
        # member 0 is the single model of the same seed: ensemble 1 changes nothing
        seed = config.seed + member
        net = net if member == 0 else build(seed)
        net.preprocessing = dict(preprocessing)
        member_config = dataclasses.replace(config, seed=seed)
        weighting = build_weighting(loss_weighting["method"], specs, **weighting_options(loss_weighting, seed))
        member_started = time.perf_counter()
        result = train_model(
            net, weighting, train, val, specs, member_config, sample_weights=weights,
            checkpoints=checkpoints if n_members == 1 else None, bags=bags,
        )  # fmt: skip
        net.load_state_dict(result.best_state)
        net.to("cpu").eval()
        logger.info(
            "Trained %d epoch(s) (early stop: %s), best validation epoch %d, kept the %s epoch's weights, on %s/%s",
            result.stopped_epoch, result.stopped_early, result.best_epoch, "best" if config.restore_best else "last",
            result.device, result.precision,
        )  # fmt: skip
        members.append(net)
        histories.append(result.history)
        member_summaries.append({
            "seed": seed, "best_epoch": int(result.best_epoch), "stopped_epoch": int(result.stopped_epoch),
            "stopped_early": bool(result.stopped_early), "train_seconds": time.perf_counter() - member_started,
        })  # fmt: skip
        if n_members > 1:
            elapsed = time.perf_counter() - started
            logger.info(
                "Ensemble member %d/%d (seed %d) trained in %.0f s; ETA %.0f s",
                member + 1, n_members, seed, member_summaries[-1]["train_seconds"], elapsed / (member + 1) * (n_members - member - 1),
            )  # fmt: skip
    trained: MultitaskModel = members[0] if n_members == 1 else EnsembleModel(members).eval()
    if model.get("force_prior"):
        prior = fitted_force_prior(model["force_prior"], channels, ((train_windows, train_labels), (val_windows, val_labels)), config.seed)
        trained.attach_force_prior(prior)
    history = histories[0] if n_members == 1 else pd.concat(
        [h.assign(member=i)[["member", *h.columns]] for i, h in enumerate(histories)], ignore_index=True
    )  # fmt: skip
    first = member_summaries[0]
    summary = {
        "model": str(model["name"]),
        "input_names": list(trained.input_names),
        "device": result.device,
        "precision": result.precision,
        "best_epoch": first["best_epoch"],
        "stopped_epoch": first["stopped_epoch"],
        "stopped_early": first["stopped_early"],
        "kept_epoch": int(first["best_epoch"] if config.restore_best else first["stopped_epoch"]),
        "train_seconds": time.perf_counter() - started,
        "train_windows": len(train),
        "val_windows": len(val),
        "balance_subjects": balance,
        "balance_classes": balance_classes,
        "bag_size": config.bag_size,
        "torch_threads": torch.get_num_threads(),
    }
    if n_members > 1:
        summary["ensemble"] = n_members
        summary["members"] = member_summaries
    if model.get("force_prior"):
        summary["force_prior"] = trained.force_prior.fit_summary
    return trained, trained, history, history_to_curves(history), summary


def history_to_curves(history: pd.DataFrame) -> dict[str, list[dict[str, float]]]:
    """Per-epoch history -> ``{metric: [{"step": epoch, "value": v}, ...]}`` for MlflowMetricsHistoryDataset;
    an ensemble's history (a ``member`` column) -> one curve per member, ``member_<i>.<metric>``."""
    if "member" in history.columns:
        curves: dict[str, list[dict[str, float]]] = {}
        for member, part in history.groupby("member", sort=True):
            for name, points in history_to_curves(part.drop(columns="member")).items():
                curves[f"member_{int(member)}.{name}"] = points
        return curves
    curves = {}
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
