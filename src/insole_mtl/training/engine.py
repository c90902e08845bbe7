"""The training engine (SPEC §5, §6): one plain loop with masked task losses and early stopping.

``train_model`` trains any multitask model (``forward(x) -> {task: output}``, regression outputs
standardised) with any loss weighting (``weighting(losses) -> scalar``) and returns the state at the
best validation epoch plus a per-epoch history.

Design notes
------------
* Early stopping watches the validation loss = the SUM of the per-task masked losses over the
  whole validation split, in standardised units and UNWEIGHTED. The weighted objective is not
  comparable across epochs: uncertainty weighting learns its ``log σ²`` (the same losses give a
  different objective after every step, and the ``log σ`` terms can decrease it without any
  improvement of the predictions), and Random Loss Weighting draws new weights every step.
* Regression targets are standardised with the TRAINING labels' mean and std
  (:func:`fit_target_scaling`), which the model keeps in its state_dict to report physical units.
* Devices: CUDA when present (bf16 autocast, fp16 + GradScaler on GPUs without bf16,
  channels_last, ``cudnn.benchmark``, the packed split resident on the GPU), else CPU. The default
  CPU precision comes from the measurements in :mod:`insole_mtl.benchmarks.training_step`.
* No per-step device->host synchronisation: losses are accumulated on the device and read at the
  end of the epoch and at the (time-based) progress logs.
* Optional EMA teacher (paper 001, Smooth-Distill): see :class:`EmaTeacher`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import math
import os
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from insole_mtl.models.base import WINDOWS
from insole_mtl.training.data import (
    BatchLoader,
    InputTransform,
    Inputs,
    TaskArrays,
    as_tuple,
    check_targets,
    default_input_transform,
    standardised_targets,
    target_present,
)
from insole_mtl.training.losses import CLASSIFICATION, REGRESSION, label_mask, masked_task_losses, per_window_task_loss
from insole_mtl.training.optim import OPTIMIZERS, build_optimizer

logger = logging.getLogger(__name__)

PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
LR_SCHEDULES: tuple[str, ...] = ("constant", "cosine")
#: precision="auto" on CPU. bf16 autocast was measured 2.3x faster than fp32 on the AVX-512-BF16
#: development CPU for the Table II network (see training_step benchmark), with loss curves within
#: 1e-3 relative of fp32 over the first steps; CPUs without native bf16 fall back to fp32.
CPU_AUTO_PRECISION = "bf16"
EMA_KEYS: tuple[str, ...] = ("decay", "lambda", "tau")


class TaskLike(Protocol):
    """What the engine reads of a task (``insole_mtl.models.TaskSpec``)."""

    name: str
    kind: str
    n_outputs: int


# ------------------------------------------------------------------------------------------------
# Configuration and result
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters (paper defaults: AdamW, lr 2e-3, batch 512, patience 24).

    Attributes:
        max_epochs: upper bound on epochs.
        batch_size: training windows per step.
        lr, weight_decay, optimizer: see :func:`insole_mtl.training.optim.build_optimizer`.
        patience: stop after this many consecutive epochs without a validation-loss improvement.
        min_delta: an epoch improves when ``val_loss < best - min_delta``.
        seed: seeds torch's global RNG at the start of training and the loader's shuffling.
        device: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        precision: ``"fp32"``, ``"bf16"``, ``"fp16"`` or ``"auto"`` (CUDA: bf16 autocast if the GPU
            supports it else fp16 + GradScaler; CPU: ``CPU_AUTO_PRECISION`` if the CPU has native
            bf16, else fp32).
        channels_last: NHWC memory format for 4-D inputs (faster depthwise/1×1 convs on oneDNN and cuDNN).
        num_threads: ``torch.set_num_threads`` for the run (None = leave as is).
        compile: wrap the model in ``torch.compile`` (inductor).
        max_train_batches_per_epoch: cap on steps per epoch (None = the whole training split).
        eval_batch_size: validation / prediction batch size.
        log_every_s: progress log period inside an epoch, seconds.
        ema_teacher: None, or ``{"decay": 0.999, "lambda": 0.5, "tau": 3.0}`` to enable
            Smooth-Distill self-distillation (missing keys take these defaults).
        lr_schedule: ``"constant"`` (the paper) or ``"cosine"``: the learning rate of every optimiser
            step follows :func:`lr_factor` — a linear warm-up over ``warmup_epochs`` then a cosine decay
            to 0 at ``max_epochs`` (stepped per optimiser step, so it is the same whatever the epoch size).
        warmup_epochs: linear warm-up length in epochs (may be fractional; 0 = none), for both schedules.
        restore_best: True (the paper): the returned model is the best validation epoch's. False: the last
            epoch's — a fixed training budget (with ``patience >= max_epochs``) for sources whose validation
            split is too small to pick an epoch reliably; the validation curves are still recorded.
        resume: continue from the newest checkpoint of the store passed to :func:`train_model` (False: a fresh
            run, which first clears the store). A checkpoint of another configuration or other data is refused.
        bag_size: 1 (the paper): every training window is its own sample. ``K > 1``: a training sample is a bag of
            ``K`` windows of one recording and the loss reads the MEAN of their outputs (class logits, standardised
            regression outputs) against the recording's labels — what evaluation does when it averages a walk's
            or a subject's windows — so a window without evidence need not fake confidence. Needs every label
            constant within a recording (:func:`train_model`'s ``bags``); validation and prediction stay per
            window (the history's training losses are then means over bags).
        force_scaling: None (the paper), or ``{"half_width": r, "tasks": [...]}``: every training bag (every window
            when ``bag_size`` is 1) is taken as the same walk by a wearer ``s`` times as heavy, ``s ~ U(1 - r, 1 + r)``
            drawn per bag: its raw window (the model's last input, sensor units) is multiplied by ``s`` and so is the
            physical label of each listed regression task (body weight: insole force is body weight × g × a
            dynamic factor). The recurrence plots are unchanged by the rescaling, so they are not touched. Optional
            ``"channels"``: the positions of the raw window's force channels, the only ones rescaled (None or
            absent: every channel, right where every channel is a force sensor). Draws come from a generator
            seeded by ``seed`` and the epoch (a resumed run repeats them). Validation and prediction are never
            rescaled.
        deterministic: ``torch.use_deterministic_algorithms(True)``, cuDNN deterministic without benchmark, and
            ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` when unset, so a CUDA fp32 run repeats bit for bit (slower; an
            operation without a deterministic kernel then raises instead of running). CPU fp32 runs are
            deterministic without it.
    """

    max_epochs: int = 300
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-2
    optimizer: str = "adamw"
    patience: int = 24
    min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    channels_last: bool = True
    num_threads: int | None = None
    compile: bool = False
    max_train_batches_per_epoch: int | None = None
    eval_batch_size: int = 1024
    log_every_s: float = 10.0
    ema_teacher: dict | None = None
    lr_schedule: str = "constant"
    warmup_epochs: float = 0.0
    restore_best: bool = True
    resume: bool = False
    deterministic: bool = False
    bag_size: int = 1
    force_scaling: dict | None = None

    def __post_init__(self) -> None:
        positive = {
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "patience": self.patience,
            "eval_batch_size": self.eval_batch_size,
            "bag_size": self.bag_size,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be an int >= 1, got {value!r}")
        for name in ("num_threads", "max_train_batches_per_epoch"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"TrainConfig.{name} must be None or an int >= 1, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if self.weight_decay < 0 or self.min_delta < 0 or self.log_every_s < 0:
            raise ValueError(
                "TrainConfig.weight_decay, min_delta and log_every_s must be >= 0, got "
                f"{self.weight_decay!r}, {self.min_delta!r}, {self.log_every_s!r}"
            )
        if self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"TrainConfig.precision must be one of {list(PRECISIONS)}, got {self.precision!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"TrainConfig.lr_schedule must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        if isinstance(self.warmup_epochs, bool) or not (
            isinstance(self.warmup_epochs, (int, float)) and 0 <= self.warmup_epochs <= self.max_epochs
        ):
            raise ValueError(
                f"TrainConfig.warmup_epochs must be a number in [0, max_epochs={self.max_epochs}], got {self.warmup_epochs!r}"
            )
        for name in ("restore_best", "resume", "deterministic", "channels_last", "compile"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name} must be true or false, got {getattr(self, name)!r}")
        if self.bag_size > self.batch_size:
            raise ValueError(f"TrainConfig.bag_size must be <= batch_size={self.batch_size}, got {self.bag_size}")
        if self.ema_teacher is not None:
            object.__setattr__(self, "ema_teacher", _check_ema(self.ema_teacher))
        if self.force_scaling is not None:
            object.__setattr__(self, "force_scaling", _check_force_scaling(self.force_scaling))

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrainConfig:
        """Build from a parameters mapping (e.g. Kedro ``params:training``).

        Raises:
            ValueError: a key that is not a field of TrainConfig (all such keys are named).
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - fields)
        if unknown:
            raise ValueError(f"unknown TrainConfig parameter(s) {unknown}; allowed: {sorted(fields)}")
        values = dict(params)
        for name in ("ema_teacher", "force_scaling"):
            if isinstance(values.get(name), Mapping):
                values[name] = dict(values[name])
        return cls(**values)


def _check_ema(options: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(options, Mapping):
        raise TypeError(f"TrainConfig.ema_teacher must be a mapping or None, got {type(options).__name__}")
    unknown = sorted(set(options) - set(EMA_KEYS))
    if unknown:
        raise ValueError(f"unknown ema_teacher key(s) {unknown}; allowed: {list(EMA_KEYS)}")
    merged = {"decay": 0.999, "lambda": 0.5, "tau": 3.0, **{k: float(v) for k, v in options.items()}}
    if not 0.0 <= merged["decay"] < 1.0:
        raise ValueError(f"ema_teacher.decay must be in [0, 1), got {merged['decay']}")
    if merged["lambda"] < 0 or merged["tau"] <= 0:
        raise ValueError(f"ema_teacher.lambda must be >= 0 and tau > 0, got {merged['lambda']}, {merged['tau']}")
    return merged


def _check_force_scaling(options: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        raise TypeError(f"TrainConfig.force_scaling must be a mapping or None, got {type(options).__name__}")
    if not {"half_width", "tasks"} <= set(options) <= {"half_width", "tasks", "channels"}:
        raise ValueError(
            f"TrainConfig.force_scaling needs the keys ['half_width', 'tasks'] and may have 'channels', got {sorted(options)}"
        )
    half_width, tasks, channels = options["half_width"], options["tasks"], options.get("channels")
    if isinstance(half_width, bool) or not isinstance(half_width, (int, float)) or not 0 < half_width < 1:
        raise ValueError(f"TrainConfig.force_scaling.half_width must be a number in (0, 1), got {half_width!r}")
    if isinstance(tasks, str) or not tasks or not all(isinstance(t, str) for t in tasks):
        raise ValueError(f"TrainConfig.force_scaling.tasks must be a non-empty list of task names, got {tasks!r}")
    if channels is not None and (
        isinstance(channels, (str, bytes))
        or not channels
        or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in channels)
        or len(set(channels)) != len(channels)
    ):
        raise ValueError(
            f"TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got {channels!r}"
        )
    return {"half_width": float(half_width), "tasks": list(tasks), "channels": None if channels is None else [int(c) for c in channels]}


def force_scaling_factors(n_bags: int, bag_size: int, half_width: float, generator: torch.Generator) -> Tensor:
    """``(n_bags * bag_size,)`` float32 factors ``s ~ U(1 - half_width, 1 + half_width)``, one per bag, repeated over
    its ``bag_size`` consecutive windows."""
    draws = 1.0 + half_width * (2.0 * torch.rand(n_bags, generator=generator) - 1.0)
    return draws.repeat_interleave(bag_size)


def scale_forces(
    inputs: tuple[Tensor, ...],
    targets: Mapping[str, Tensor],
    factors: Tensor,
    scaled: Mapping[str, tuple[float, float]],
    channels: Sequence[int] | None = None,
) -> tuple[tuple[Tensor, ...], dict[str, Tensor]]:
    """The same windows worn by wearers ``factors`` ``(b,)`` times as heavy.

    The last input (the raw window ``(b, C, L)``, sensor units) is multiplied by its window's factor — on the
    positions ``channels`` of its channel axis only (the force channels: an accelerometer does not read a heavier
    wearer's weight), on every channel when None; each task in ``scaled`` (``{task: (loc, scale)}``, the target
    standardisation) has its standardised target ``z`` of physical label ``y = z * scale + loc`` replaced by that
    of ``y * factor``: ``z * s + (s - 1) * loc / scale``. NaN (unlabelled) stays NaN; other inputs, the other
    channels and the other targets pass unchanged.
    """
    *rest, window = inputs
    factors = factors.to(device=window.device, dtype=window.dtype)
    if channels is None:
        window = window * factors.view(-1, *([1] * (window.dim() - 1)))
    else:
        listed = torch.zeros(window.shape[1], dtype=torch.bool, device=window.device)
        listed[list(channels)] = True
        # where, not 1 + (s - 1) * mask: the listed channels get exactly x * s, the others exactly x
        gain = torch.where(listed[None, :], factors[:, None], torch.ones((), dtype=window.dtype, device=window.device))
        window = window * gain.view(*gain.shape, *([1] * (window.dim() - 2)))
    out = dict(targets)
    for name, (loc, scale) in scaled.items():
        if name in out:
            z = out[name]
            s = factors.to(z.dtype)
            out[name] = z * s + (s - 1.0) * (loc / scale)
    return (*rest, window), out


@dataclass
class TrainResult:
    """Outcome of :func:`train_model`.

    Attributes:
        best_state: model ``state_dict`` (CPU tensor copies) the training returns: the best validation epoch's
            (``restore_best``) or the last epoch's.
        weighting_state: loss-weighting ``state_dict`` (CPU) at the same epoch.
        history: one row per epoch (see :func:`train_model`).
        best_epoch, stopped_epoch: 1-based epoch numbers.
        stopped_early: True when the patience ran out before ``max_epochs``.
        device, precision: what was actually used (``"cuda:0"``, ``"bf16"``...).
        input_transform: the transform the model was trained with (pass it to :func:`predict`).
        target_scaling: regression task -> ``(loc, scale)`` from the training labels.
    """

    best_state: dict[str, Tensor]
    weighting_state: dict[str, Tensor]
    history: pd.DataFrame
    best_epoch: int
    stopped_epoch: int
    stopped_early: bool
    device: str
    precision: str
    input_transform: InputTransform | None = None
    target_scaling: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# Devices and precision
# ------------------------------------------------------------------------------------------------
def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> ``cuda`` if available else ``cpu``; anything else as given."""
    if str(device) == "auto":
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} requested but CUDA is not available")
    return resolved


def cpu_supports_bf16() -> bool:
    """True when oneDNN has native bf16 kernels on this CPU (AVX-512-BF16 / AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # pragma: no cover - depends on the build
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``"auto"`` -> the fastest accurate precision for the device; validates the others."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if device.type == "cpu":
        return CPU_AUTO_PRECISION if CPU_AUTO_PRECISION == "fp32" or cpu_supports_bf16() else "fp32"
    return "fp32"


def autocast_context(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """``torch.autocast`` for bf16/fp16, a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """Multiplier of the base learning rate for optimiser step ``step`` (0-based).

    Linear warm-up ``(step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then 1
    (``"constant"``) or ``0.5 * (1 + cos(pi * t))`` with ``t = (step - warmup) / (total - warmup)``
    (``"cosine"``: from 1 after the warm-up to 0 at ``total_steps``).
    """
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr schedule must be one of {list(LR_SCHEDULES)}, got {schedule!r}")
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    span = max(total_steps - warmup_steps, 1)
    t = min(max(step - warmup_steps, 0) / span, 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * t))


# ------------------------------------------------------------------------------------------------
# Target scaling
# ------------------------------------------------------------------------------------------------
def target_scaling(tasks: Sequence[TaskLike], train_targets: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """``(loc, scale)`` = NaN-mean and NaN-std (ddof 0) of each regression task's training labels.

    A task whose labelled values are all equal gets scale 1 (its standardised target is then 0).

    Raises:
        ValueError: a regression task has no labels array or no labelled window.
    """
    scaling: dict[str, tuple[float, float]] = {}
    for task in tasks:
        if task.kind != REGRESSION:
            continue
        if task.name not in train_targets:
            raise ValueError(f"training targets lack regression task {task.name!r}; available: {sorted(train_targets)}")
        values = np.asarray(train_targets[task.name], dtype=np.float64)
        values = values[~np.isnan(values)]
        if values.size == 0:
            raise ValueError(f"training targets of task {task.name!r} have no labelled (non-NaN) window")
        loc, scale = float(values.mean()), float(values.std())
        if not scale > 1e-12:
            logger.warning("task %s: constant training labels (%.4g), using scale 1", task.name, loc)
            scale = 1.0
        scaling[task.name] = (loc, scale)
    return scaling


def fit_target_scaling(model: nn.Module, tasks: Sequence[TaskLike], train_targets: Mapping[str, np.ndarray]) -> None:
    """Set the model's regression target scaling from the TRAINING labels (see :func:`target_scaling`)."""
    for name, (loc, scale) in target_scaling(tasks, train_targets).items():
        model.set_target_scaling(name, loc, scale)


# ------------------------------------------------------------------------------------------------
# EMA teacher (Smooth-Distill)
# ------------------------------------------------------------------------------------------------
class EmaTeacher:
    """Exponential-moving-average teacher for self-distillation (paper 001, Smooth-Distill).

    After every optimizer step ``θ_T ← d·θ_T + (1 − d)·θ_S`` for every floating-point parameter AND
    buffer (BatchNorm running statistics follow the same average; integer buffers such as
    ``num_batches_tracked`` are copied). The teacher runs in eval mode without gradients.

    Distillation terms, added to each task's loss before the loss weighting (the paper's
    ``CE_k + λ·KD_k`` per task), computed over the windows that carry that task's label:

    * classification: ``λ·τ²·KL(p_T^τ ‖ p_S^τ)`` with ``p^τ = softmax(z / τ)``, as in the paper;
    * regression: ``λ·MSE(student, teacher)`` on the standardised outputs — OUR counterpart, the
      paper distils classification heads only.
    """

    def __init__(self, student: nn.Module, decay: float = 0.999, lam: float = 0.5, tau: float = 3.0) -> None:
        self.decay, self.lam, self.tau = float(decay), float(lam), float(tau)
        self.model = copy.deepcopy(student).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, student: nn.Module) -> None:
        """``θ_T ← decay·θ_T + (1 − decay)·θ_S`` (float tensors), copy of the others."""
        teacher_state = self.model.state_dict()
        floats_t, floats_s = [], []
        for name, value in student.state_dict().items():
            target = teacher_state[name]
            if target.is_floating_point():
                floats_t.append(target)
                floats_s.append(value.detach())
            else:
                target.copy_(value)
        if floats_t:
            torch._foreach_mul_(floats_t, self.decay)
            torch._foreach_add_(floats_t, floats_s, alpha=1.0 - self.decay)

    def distillation_losses(
        self, student_out: Mapping[str, Tensor], teacher_out: Mapping[str, Tensor], targets: Mapping[str, Tensor], tasks: Sequence[TaskLike]
    ) -> dict[str, Tensor]:
        """``λ``-scaled distillation term of each task present in ``targets`` (float32 scalars)."""
        terms: dict[str, Tensor] = {}
        for task in tasks:
            if task.name not in targets:
                continue
            mask = label_mask(targets[task.name], task.kind)
            s, t = student_out[task.name].float(), teacher_out[task.name].float()
            if task.kind == CLASSIFICATION:
                per = F.kl_div(
                    F.log_softmax(s / self.tau, dim=-1), F.log_softmax(t / self.tau, dim=-1), reduction="none", log_target=True
                ).sum(-1) * (self.tau**2)
            else:
                per = (s.reshape(-1) - t.reshape(-1)) ** 2
            per = torch.where(mask, per, torch.zeros_like(per))
            terms[task.name] = self.lam * per.sum() / mask.sum().clamp(min=1)
        return terms


# ------------------------------------------------------------------------------------------------
# Epoch loops
# ------------------------------------------------------------------------------------------------
def _fmt_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


@dataclass
class _StepContext:
    model: nn.Module
    forward: nn.Module
    weighting: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    tasks: tuple[TaskLike, ...]
    device: torch.device
    precision: str
    teacher: EmaTeacher | None
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    bag_size: int = 1
    #: force_scaling's half width, the ``{task: (loc, scale)}`` it rescales, and the seed of its draws
    force_half_width: float = 0.0
    force_tasks: Mapping[str, tuple[float, float]] = dataclasses.field(default_factory=dict)
    force_seed: int = 0
    #: the raw window's channel positions it rescales (None: every channel)
    force_channels: tuple[int, ...] | None = None


def pool_bags(outputs: Mapping[str, Tensor], bag_size: int) -> dict[str, Tensor]:
    """Mean over each bag of ``bag_size`` consecutive windows: ``(B * K, ...)`` -> ``(B, ...)`` per output."""
    return {name: out.reshape(-1, bag_size, *out.shape[1:]).mean(dim=1) for name, out in outputs.items()}


def check_bag_labels(targets: Mapping[str, np.ndarray], bags: np.ndarray) -> None:
    """Refuse bags whose windows disagree on a label (NaN agrees with NaN), naming the task and the bag."""
    bags = np.asarray(bags).astype(str)
    for name, values in targets.items():
        frame = pd.DataFrame({"bag": bags, "value": np.asarray(values, dtype=np.float64)})
        counts = frame.groupby("bag")["value"].nunique(dropna=False)
        bad = counts[counts > 1]
        if len(bad):
            raise ValueError(
                f"training.bag_size > 1 pools the windows of one recording, but task {name!r} has {int(bad.iloc[0])} "
                f"different labels within recording {bad.index[0]!r} ({len(bad)} recording(s) like it)"
            )


def _train_epoch(ctx: _StepContext, loader: BatchLoader, epoch: int, max_epochs: int, log_every_s: float) -> dict[str, float]:
    """One pass over the training loader; returns losses (per-window means) and timings."""
    ctx.model.train()
    ctx.weighting.train()
    names = [t.name for t in ctx.tasks]
    zero = torch.zeros((), device=ctx.device)
    loss_sums = {n: zero.clone() for n in names}
    counts = {n: zero.clone() for n in names}
    objective_sum, steps, windows = zero.clone(), 0, 0
    n_batches = len(loader)
    wait = 0.0
    start = last_log = time.perf_counter()
    iterator = iter(loader)
    force_generator = torch.Generator().manual_seed(ctx.force_seed * 100_003 + epoch) if ctx.force_half_width else None
    while True:
        t0 = time.perf_counter()
        try:
            x, targets = next(iterator)
        except StopIteration:
            break
        wait += time.perf_counter() - t0
        if force_generator is not None:
            batch = as_tuple(x)[-1].shape[0]
            factors = force_scaling_factors(batch // ctx.bag_size, ctx.bag_size, ctx.force_half_width, force_generator)
            x, targets = scale_forces(as_tuple(x), targets, factors, ctx.force_tasks, ctx.force_channels)
        with autocast_context(ctx.device, ctx.precision):
            outputs = ctx.forward(*as_tuple(x))
        if ctx.bag_size > 1:  # one sample per bag: the mean output against the bag's (shared) labels
            outputs = pool_bags(outputs, ctx.bag_size)
            targets = {name: t[:: ctx.bag_size] for name, t in targets.items()}
        losses = masked_task_losses(outputs, targets, ctx.tasks, check_empty=False)
        if not losses:  # no task labelled in this batch: nothing to learn from
            continue
        objective_terms = dict(losses)
        if ctx.teacher is not None:
            with torch.no_grad(), autocast_context(ctx.device, ctx.precision):
                teacher_out = ctx.teacher.model(*as_tuple(x))
            if ctx.bag_size > 1:
                teacher_out = pool_bags(teacher_out, ctx.bag_size)
            for name, term in ctx.teacher.distillation_losses(outputs, teacher_out, targets, ctx.tasks).items():
                objective_terms[name] = objective_terms[name] + term
        objective = ctx.weighting(objective_terms)
        ctx.optimizer.zero_grad(set_to_none=True)
        ctx.scaler.scale(objective).backward()
        ctx.scaler.step(ctx.optimizer)
        ctx.scaler.update()
        if ctx.scheduler is not None:
            ctx.scheduler.step()
        if ctx.teacher is not None:
            ctx.teacher.update(ctx.model)
        with torch.no_grad():
            objective_sum += objective.detach().float()
            for task in ctx.tasks:
                if task.name in losses:
                    n = label_mask(targets[task.name], task.kind).sum()
                    loss_sums[task.name] += losses[task.name].detach() * n
                    counts[task.name] += n
        steps += 1
        windows += as_tuple(x)[0].shape[0]
        now = time.perf_counter()
        if log_every_s and now - last_log >= log_every_s and steps < n_batches:
            last_log = now
            rate = windows / (now - start)
            eta = (now - start) / steps * (n_batches - steps)
            logger.info(
                "epoch %d/%d batch %d/%d objective %.4f %.1f windows/s, epoch ETA %s",
                epoch, max_epochs, steps, n_batches, float(objective_sum) / steps, rate, _fmt_seconds(eta),
            )  # fmt: skip
    seconds = time.perf_counter() - start
    result = {"train_loss": float(objective_sum) / max(steps, 1), "seconds": seconds, "wait": wait, "windows": windows}
    for name in names:
        c = float(counts[name])
        result[f"train_{name}_loss"] = float(loss_sums[name]) / c if c > 0 else float("nan")
    return result


@torch.no_grad()
def _evaluate(
    model: nn.Module, loader: BatchLoader, tasks: Sequence[TaskLike], scaling: Mapping[str, tuple[float, float]], device: torch.device, precision: str
) -> dict[str, float]:
    """Validation losses (per-window means over the whole split) and metrics in physical units."""
    model.eval()
    zero = torch.zeros((), device=device, dtype=torch.float64)
    loss_sums = {t.name: zero.clone() for t in tasks}
    metric_sums = {t.name: zero.clone() for t in tasks}
    counts = {t.name: zero.clone() for t in tasks}
    for x, targets in loader:
        with autocast_context(device, precision):
            outputs = model(*as_tuple(x))
        for task in tasks:
            if task.name not in targets:
                continue
            per, mask = per_window_task_loss(outputs[task.name], targets[task.name], task.kind)
            loss_sums[task.name] += per.sum().double()
            counts[task.name] += mask.sum()
            if task.kind == CLASSIFICATION:
                hit = (outputs[task.name].argmax(-1) == targets[task.name]) & mask
                metric_sums[task.name] += hit.sum()
            else:
                err = (outputs[task.name].reshape(-1).float() - torch.nan_to_num(targets[task.name].float())).abs()
                metric_sums[task.name] += torch.where(mask, err, torch.zeros_like(err)).sum().double()
    result: dict[str, float] = {}
    total, any_task = 0.0, False
    for task in tasks:
        c = float(counts[task.name])
        loss = float(loss_sums[task.name]) / c if c > 0 else float("nan")
        result[f"val_{task.name}_loss"] = loss
        if c > 0:
            total += loss
            any_task = True
        if task.kind == CLASSIFICATION:
            result[f"val_{task.name}_accuracy"] = float(metric_sums[task.name]) / c if c > 0 else float("nan")
        else:
            mae_std = float(metric_sums[task.name]) / c if c > 0 else float("nan")
            result[f"val_{task.name}_mae"] = mae_std * scaling[task.name][1]  # physical units
    result["val_loss"] = total if any_task else float("nan")
    return result


def _cpu_state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


# ------------------------------------------------------------------------------------------------
# Checkpoints and determinism
# ------------------------------------------------------------------------------------------------
#: TrainConfig fields that do not change what a run computes (a resumed run may change them)
_NON_RESULT_FIELDS: frozenset[str] = frozenset({"resume", "log_every_s", "num_threads", "eval_batch_size"})
#: ``nn.Module`` bookkeeping attributes: never part of a weighting's extra state
_MODULE_ATTRIBUTES: frozenset[str] = frozenset(vars(nn.Module()))
_CHECKPOINT_FORMAT = 1


@runtime_checkable
class CheckpointStoreLike(Protocol):
    """What :func:`train_model` needs of a checkpoint store (:class:`insole_mtl.datasets.checkpoint.CheckpointStore`)."""

    def save(self, state: Mapping[str, Any], epoch: int) -> Any: ...

    def latest(self) -> Mapping[str, Any] | None: ...

    def clear(self) -> int: ...


def rng_state() -> dict[str, Any]:
    """The global RNG states a training step can consume: torch CPU (and every CUDA device), numpy, python."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np.asarray(np_state["state"]["key"], dtype=np.int64)), "pos": int(np_state["state"]["pos"]),
                  "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])},
        "python": _python_state_to_lists(random.getstate()),
    }  # fmt: skip
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        ("MT19937", numpy_state["key"].numpy().astype(np.uint32), numpy_state["pos"], numpy_state["has_gauss"], numpy_state["gauss"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _python_state_to_lists(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _weighting_extra_state(weighting: nn.Module) -> dict[str, Any]:
    """State of a loss weighting that its ``state_dict`` misses: RNG generators (Random Loss Weighting), plain
    tensors and loss histories (Dynamic Weight Average) held as attributes."""
    extra: dict[str, Any] = {}
    for name, value in vars(weighting).items():
        if name in _MODULE_ATTRIBUTES:
            continue
        if isinstance(value, torch.Generator):
            extra[name] = {"generator_state": value.get_state()}
        elif isinstance(value, Tensor):
            extra[name] = value.detach().to("cpu", copy=True)
        elif isinstance(value, (int, float, str, bool, list, tuple, dict)) or value is None:
            extra[name] = copy.deepcopy(value)
    return extra


def _restore_weighting_extra(weighting: nn.Module, extra: Mapping[str, Any]) -> None:
    for name, value in extra.items():
        current = getattr(weighting, name, None)
        if isinstance(current, torch.Generator):
            current.set_state(value["generator_state"])
        elif isinstance(current, Tensor):
            setattr(weighting, name, value.to(current.device))
        elif isinstance(current, tuple) and isinstance(value, list):
            setattr(weighting, name, tuple(value))
        else:
            setattr(weighting, name, copy.deepcopy(value))


def checkpoint_fingerprint(
    model: nn.Module, weighting: nn.Module, train: TaskArrays, val: TaskArrays, tasks: Sequence[TaskLike], config: TrainConfig
) -> dict[str, Any]:
    """What must match for a checkpoint to be resumed: the configuration (but ``resume`` and logging), the model
    and weighting classes and parameter shapes, the tasks and the shapes of every input array."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in _NON_RESULT_FIELDS}
    return {
        "format": _CHECKPOINT_FORMAT,
        "config": {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in fields.items()},
        "model": type(model).__name__,
        "parameters": {k: list(v.shape) for k, v in model.state_dict().items()},
        "weighting": type(weighting).__name__,
        "tasks": [t.name for t in tasks],
        "train_inputs": [list(np.shape(a)) for a in train.input_arrays],
        "val_inputs": [list(np.shape(a)) for a in val.input_arrays],
    }


def _fingerprint_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    diffs = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if key == "config" and isinstance(a, Mapping) and isinstance(b, Mapping):
            diffs += [f"training.{k}: checkpoint {a.get(k)!r}, now {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif a != b:
            diffs.append(f"{key}: checkpoint {a!r}, now {b!r}" if key not in ("parameters",) else "model parameter shapes differ")
    return diffs


def configure_determinism(device: torch.device, deterministic: bool) -> None:
    """cuDNN/cuBLAS settings of a run (see ``TrainConfig.deterministic``)."""
    if deterministic:
        if device.type == "cuda" and "CUBLAS_WORKSPACE_CONFIG" not in os.environ:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # must be set before the first cuBLAS call
            logger.info("deterministic: CUBLAS_WORKSPACE_CONFIG=:4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True


def _cpu_copy(value: Any) -> Any:
    """Deep copy of a (nested) state with every tensor on the CPU."""
    if isinstance(value, Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, Mapping):
        return {k: _cpu_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cpu_copy(v) for v in value)
    return value


# ------------------------------------------------------------------------------------------------
# Public entry points
# ------------------------------------------------------------------------------------------------
def train_model(
    model: nn.Module,
    weighting: nn.Module,
    train: TaskArrays,
    val: TaskArrays,
    tasks: Sequence[TaskLike],
    config: TrainConfig,
    input_transform: InputTransform | tuple[InputTransform, ...] | None = None,
    sample_weights: np.ndarray | None = None,
    checkpoints: CheckpointStoreLike | None = None,
    bags: np.ndarray | None = None,
) -> TrainResult:
    """Train ``model`` with early stopping on the validation loss and restore its best state.

    Args:
        model: multitask model (``forward(*inputs) -> {task: output}``, ``set_target_scaling``; a
            ``fit_input_statistics(*inputs)`` method, if it has one, is called with the TRAINING inputs
            before the first step, so the model's input standardisation buffers come from them).
        weighting: loss weighting module (``forward(losses) -> scalar``, ``weights()``,
            ``on_epoch_end(task_losses)``); its parameters are optimised WITHOUT weight decay
            (decaying ``log σ²`` towards 0 would bias the uncertainty weights towards 1).
        train, val: the two splits; labels in physical units (NaN / -1 = unlabelled).
        tasks: the tasks to train (each needs a labels array in both splits).
        config: hyper-parameters.
        input_transform: applied on the device to every input batch (a tuple for a tuple of inputs);
            None = :func:`~insole_mtl.training.data.default_input_transform` (packed RPs -> unpack).
        sample_weights: ``(len(train),)`` sampling weights of the training windows (e.g.
            :func:`~insole_mtl.training.data.group_balanced_weights`: every subject equally often);
            None = every window once per epoch.
        checkpoints: a checkpoint store (``save(state, epoch)``, ``latest()``, ``clear()``). After every epoch
            the engine saves the model, optimiser, LR scheduler, GradScaler, loss weighting (its state_dict and
            its generators / histories), EMA teacher, the torch / CUDA / numpy / python RNG states, the
            early-stopping state, the best state so far and the history. With ``config.resume`` the run
            continues after the newest checkpoint (refused, naming the differences, if it was written by
            another configuration or for other data); without it the store is cleared first. On CPU in fp32 a
            resumed run ends with exactly the weights and history (but its timing columns) of an
            uninterrupted one. None = no checkpoints.
        bags: ``(len(train),)`` recording of each training window; needed with ``config.bag_size > 1``.

    Returns:
        :class:`TrainResult`. ``history`` columns: ``epoch``, ``train_loss`` (weighted objective,
        mean over steps), ``val_loss`` (unweighted sum of per-task validation losses),
        ``train_<task>_loss``, ``val_<task>_loss`` (per-window means, standardised units),
        ``val_<task>_accuracy`` (classification), ``val_<task>_mae`` (regression, physical units),
        ``weight_<task>`` (the weighting's current weights), ``lr`` (of the epoch's first step), ``epoch_seconds``,
        ``data_wait_fraction`` (share of the training-step time spent waiting for the next batch),
        ``windows_per_second`` (training throughput). On return the model holds the best weights,
        is in eval mode and stays on the training device.
    """
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("tasks must contain at least one task")
    names = [t.name for t in tasks]
    check_targets(train, names, "train")
    check_targets(val, names, "val")
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"train and val must be non-empty, got {len(train)} and {len(val)} windows")
    if not any(target_present(val.targets[n]).any() for n in names):
        raise ValueError("the validation split has no labelled window for any task: early stopping needs one")
    if config.bag_size > 1:
        if bags is None or len(bags) != len(train):
            raise ValueError(f"training.bag_size={config.bag_size} needs the recording of each of the {len(train)} training windows")
        check_bag_labels({n: train.targets[n] for n in names}, bags)

    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    configure_determinism(device, config.deterministic)
    torch.manual_seed(config.seed)

    scaling = target_scaling(tasks, train.targets)
    for name, (loc, scale) in scaling.items():
        model.set_target_scaling(name, loc, scale)
    force_tasks = _force_scaled_tasks(config.force_scaling, model, scaling)
    train_std = standardised_targets(TaskArrays(train.inputs, {n: train.targets[n] for n in names}), scaling)
    val_std = standardised_targets(TaskArrays(val.inputs, {n: val.targets[n] for n in names}), scaling)
    transform = input_transform if input_transform is not None else default_input_transform(train.inputs)
    if hasattr(model, "fit_input_statistics"):
        model.fit_input_statistics(*train.input_arrays)
    if getattr(model, "amplitude_linear", None) is not None:  # the linear force paths start at their ridge fit
        model.fit_amplitude_linear(train.input_arrays[-1], {n: train_std.targets[n] for n in scaling})

    model.to(device)
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    weighting.to(device)
    groups = [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": config.weight_decay}]
    weighting_params = [p for p in weighting.parameters() if p.requires_grad]
    if weighting_params:
        groups.append({"params": weighting_params, "weight_decay": 0.0})
    optimizer = build_optimizer(config.optimizer, groups, lr=config.lr, weight_decay=config.weight_decay)
    forward = torch.compile(model) if config.compile else model
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    teacher = None
    if config.ema_teacher is not None:
        ema = config.ema_teacher
        teacher = EmaTeacher(model, decay=ema["decay"], lam=ema["lambda"], tau=ema["tau"])
    ctx = _StepContext(model, forward, weighting, optimizer, scaler, tasks, device, precision, teacher, bag_size=config.bag_size)
    if force_tasks:
        ctx.force_half_width, ctx.force_tasks, ctx.force_seed = config.force_scaling["half_width"], force_tasks, config.seed
        ctx.force_channels = _force_scaled_channels(config.force_scaling, train.input_arrays[-1])

    common = {"device": device, "input_transform": transform, "channels_last": config.channels_last}
    train_loader = BatchLoader(
        train_std, config.batch_size, shuffle=True, seed=config.seed, max_batches=config.max_train_batches_per_epoch,
        sample_weights=sample_weights, bags=bags, bag_size=config.bag_size, **common,
    )  # fmt: skip
    val_loader = BatchLoader(val_std, config.eval_batch_size, shuffle=False, **common)
    total_steps = config.max_epochs * len(train_loader)
    warmup_steps = int(round(config.warmup_epochs * len(train_loader)))
    if config.lr_schedule != "constant" or warmup_steps > 0:
        ctx.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, config.lr_schedule)
        )
    logger.info(
        "training %s on %s (%s, %d threads): %d train / %d val windows, %d steps per epoch, tasks %s, lr %s%s",
        type(model).__name__, device, precision, torch.get_num_threads(), len(train), len(val), len(train_loader), names,
        config.lr_schedule, " (subject-balanced draws)" if sample_weights is not None else "",
    )  # fmt: skip

    rows: list[dict[str, float]] = []
    best_loss, best_epoch, since_best = math.inf, 0, 0
    best_state, best_weighting = _cpu_state(model), _cpu_state(weighting)
    epoch, first_epoch = 0, 1
    fingerprint = checkpoint_fingerprint(model, weighting, train, val, tasks, config) if checkpoints is not None else None
    if checkpoints is not None and config.resume:
        saved = checkpoints.latest()
        if saved is None:
            logger.warning("training.resume: no checkpoint in %s, starting at epoch 1", checkpoints)
        else:
            diffs = _fingerprint_differences(saved["fingerprint"], fingerprint)
            if diffs:
                raise ValueError(
                    f"training.resume: the checkpoint of epoch {saved['epoch']} in {checkpoints} was written by another "
                    f"run ({'; '.join(diffs[:5])}); resume with the configuration and data it was written with, or run "
                    "without training.resume to start afresh"
                )
            model.load_state_dict(saved["model"])
            weighting.load_state_dict(saved["weighting"])
            _restore_weighting_extra(weighting, saved["weighting_extra"])
            optimizer.load_state_dict(saved["optimizer"])
            if ctx.scheduler is not None:
                ctx.scheduler.load_state_dict(saved["scheduler"])
            scaler.load_state_dict(saved["scaler"])
            if teacher is not None:
                teacher.model.load_state_dict(saved["teacher"])
            best_loss, best_epoch, since_best = float(saved["best_loss"]), int(saved["best_epoch"]), int(saved["since_best"])
            best_state, best_weighting = saved["best_state"], saved["best_weighting"]
            rows = [dict(r) for r in saved["history"]]
            epoch = int(saved["epoch"])
            first_epoch = config.max_epochs + 1 if saved["finished"] else epoch + 1
            set_rng_state(saved["rng"])
            logger.info("training.resume: continuing after epoch %d of %d (checkpoint in %s)", epoch, config.max_epochs, checkpoints)
    elif checkpoints is not None:
        removed = checkpoints.clear()
        if removed:
            logger.info("training: removed %d checkpoint(s) of an earlier run from %s (training.resume is false)", removed, checkpoints)
    for epoch in range(first_epoch, config.max_epochs + 1):
        epoch_start = time.perf_counter()
        epoch_lr = float(optimizer.param_groups[0]["lr"])  # the rate of the epoch's first step
        train_loader.set_epoch(epoch - 1)
        tr = _train_epoch(ctx, train_loader, epoch, config.max_epochs, config.log_every_s)
        # the validation pass uses the student, not the EMA teacher: the checkpoint we keep is the student
        va = _evaluate(model, val_loader, tasks, scaling, device, precision)
        weighting.on_epoch_end({n: tr[f"train_{n}_loss"] for n in names if math.isfinite(tr[f"train_{n}_loss"])})
        weights = weighting.weights()
        row: dict[str, float] = {"epoch": epoch, "train_loss": tr["train_loss"], "val_loss": va["val_loss"]}
        row.update({f"train_{n}_loss": tr[f"train_{n}_loss"] for n in names})
        row.update(va)
        row.update({f"weight_{n}": float(weights.get(n, float("nan"))) for n in names})
        row["lr"] = epoch_lr
        row["epoch_seconds"] = time.perf_counter() - epoch_start
        row["data_wait_fraction"] = tr["wait"] / tr["seconds"] if tr["seconds"] > 0 else 0.0
        row["windows_per_second"] = tr["windows"] / tr["seconds"] if tr["seconds"] > 0 else 0.0
        rows.append(row)

        val_loss = va["val_loss"]
        if math.isfinite(val_loss) and val_loss < best_loss - config.min_delta:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state, best_weighting = _cpu_state(model), _cpu_state(weighting)
        else:
            since_best += 1
            if not math.isfinite(val_loss):
                logger.warning("epoch %d: non-finite validation loss %s", epoch, val_loss)
        _log_epoch(row, tasks, config, epoch, since_best, best_epoch, rows)
        finished = since_best >= config.patience or epoch == config.max_epochs
        if checkpoints is not None:
            checkpoints.save(
                {
                    "format": _CHECKPOINT_FORMAT, "epoch": epoch, "finished": finished, "fingerprint": fingerprint,
                    "model": _cpu_state(model), "weighting": _cpu_state(weighting),
                    "weighting_extra": _weighting_extra_state(weighting),
                    "optimizer": _cpu_copy(optimizer.state_dict()),
                    "scheduler": ctx.scheduler.state_dict() if ctx.scheduler is not None else {},
                    "scaler": scaler.state_dict(), "teacher": _cpu_state(teacher.model) if teacher is not None else {},
                    "best_loss": best_loss, "best_epoch": best_epoch, "since_best": since_best,
                    "best_state": best_state, "best_weighting": best_weighting, "history": [dict(r) for r in rows],
                    "rng": rng_state(),
                },
                epoch,
            )  # fmt: skip
        if since_best >= config.patience:
            break

    if not rows:
        raise ValueError("training: no epoch ran (max_epochs and the checkpoint leave none)")  # pragma: no cover
    stopped_early = since_best >= config.patience and epoch < config.max_epochs
    if config.restore_best:
        model.load_state_dict(best_state)
        weighting.load_state_dict(best_weighting)
    else:
        best_state, best_weighting = _cpu_state(model), _cpu_state(weighting)
    model.eval()
    logger.info(
        "training %s after epoch %d; best validation epoch %d (val_loss %.4f); keeping the %s epoch's weights",
        "stopped early" if stopped_early else "finished", epoch, best_epoch, best_loss,
        "best" if config.restore_best else "last",
    )  # fmt: skip
    history = pd.DataFrame(rows)
    history["epoch"] = history["epoch"].astype("int64")
    return TrainResult(
        best_state=best_state,
        weighting_state=best_weighting,
        history=history,
        best_epoch=best_epoch,
        stopped_epoch=epoch,
        stopped_early=stopped_early,
        device=str(device),
        precision=precision,
        input_transform=transform,
        target_scaling=scaling,
    )


def _force_scaled_tasks(
    options: Mapping[str, Any] | None, model: nn.Module, scaling: Mapping[str, tuple[float, float]]
) -> dict[str, tuple[float, float]]:
    """``{task: (loc, scale)}`` that ``force_scaling`` rescales (empty without it); refuses tasks that are not this
    run's regression tasks and models that do not read the raw window last."""
    if options is None:
        return {}
    unknown = [t for t in options["tasks"] if t not in scaling]
    if unknown:
        raise ValueError(f"training.force_scaling.tasks {unknown} are not regression tasks of this run ({sorted(scaling)})")
    inputs = tuple(getattr(model, "input_names", ()))
    if not inputs or inputs[-1] != WINDOWS:
        raise ValueError(
            f"training.force_scaling rescales the raw window, but {type(model).__name__} reads {list(inputs)}: use a raw-"
            "signal model or model.options.amplitude_features: true"
        )
    return {t: scaling[t] for t in options["tasks"]}


def _force_scaled_channels(options: Mapping[str, Any], window: np.ndarray) -> tuple[int, ...] | None:
    """``force_scaling.channels`` checked against the training raw windows ``(n, C, L)``; None: every channel."""
    channels = options.get("channels")
    if channels is None:
        return None
    beyond = [c for c in channels if c >= window.shape[1]]
    if beyond:
        raise ValueError(f"training.force_scaling.channels positions {beyond} are beyond the raw window's {window.shape[1]} channels")
    return tuple(channels)


def _log_epoch(
    row: Mapping[str, float], tasks: Sequence[TaskLike], config: TrainConfig, epoch: int, since_best: int, best_epoch: int, rows: list
) -> None:
    mean_seconds = float(np.mean([r["epoch_seconds"] for r in rows]))
    left_max = config.max_epochs - epoch
    left_patience = min(config.patience - since_best, left_max)
    metrics = []
    for task in tasks:
        key = f"val_{task.name}_accuracy" if task.kind == CLASSIFICATION else f"val_{task.name}_mae"
        metrics.append(f"{key} {row[key]:.4g}")
    logger.info(
        "epoch %d/%d train_loss %.4f val_loss %.4f (best %d) %s | %.1f s, %.0f windows/s, data wait %.0f%% | "
        "ETA %s to max_epochs, %s if no further improvement (early stop at epoch %d)",
        epoch, config.max_epochs, row["train_loss"], row["val_loss"], best_epoch, ", ".join(metrics),
        row["epoch_seconds"], row["windows_per_second"], 100 * row["data_wait_fraction"],
        _fmt_seconds(left_max * mean_seconds), _fmt_seconds(left_patience * mean_seconds), epoch + left_patience,
    )  # fmt: skip


@torch.no_grad()
def predict(
    model: nn.Module,
    inputs: TaskArrays | Inputs,
    batch_size: int = 1024,
    device: str | torch.device = "auto",
    input_transform: InputTransform | None = None,
    return_embedding: bool = False,
    *,
    precision: str = "fp32",
    channels_last: bool = False,
) -> dict[str, np.ndarray]:
    """Predictions in physical units for every window, in input order.

    Args:
        model: a trained multitask model (``predict(x)`` in physical units; ``embed(x)``). Moved to
            ``device`` and put in eval mode.
        inputs: a split, or its input array(s) in the model's ``input_names`` order (packed RPs,
            recurrence counts or raw windows; a tuple for several inputs).
        batch_size: windows per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        input_transform: the transform used in training (``TrainResult.input_transform``); None =
            :func:`~insole_mtl.training.data.default_input_transform` (the model standardises raw
            windows itself with the statistics fitted in training).
        return_embedding: also return the shared embedding.
        precision: autocast precision (default fp32: predictions must not depend on the device).
        channels_last: NHWC inputs.

    Returns:
        ``<task>``: classification class ids int64 ``(n,)`` and ``<task>_proba`` float32 ``(n, k)``;
        regression float64 ``(n,)`` in physical units. ``"embedding"``: float32 ``(n, d)`` if requested.
    """
    arrays = inputs if isinstance(inputs, TaskArrays) else TaskArrays(inputs, {})
    dev = resolve_device(device)
    transform = input_transform if input_transform is not None else default_input_transform(arrays.inputs)
    model.to(dev).eval()
    precision = resolve_precision(precision, dev)
    loader = BatchLoader(TaskArrays(arrays.inputs, {}), batch_size, device=dev, input_transform=transform, channels_last=channels_last)
    single_pass = return_embedding and hasattr(model, "heads_forward") and hasattr(model, "destandardise")
    chunks: dict[str, list[np.ndarray]] = {}
    for x, _ in loader:
        xs = as_tuple(x)
        with autocast_context(dev, precision):
            if single_pass:  # MultitaskModel: embedding and heads from one backbone pass
                embedding = model.embed(*xs)
                outputs = model.destandardise(model.heads_forward(embedding, xs[-1]))
            else:
                outputs = model.predict(*xs)
                embedding = model.embed(*xs) if return_embedding else None
        for name, value in outputs.items():
            value = value.float()
            if value.ndim == 2 and value.shape[1] > 1:  # classification logits
                chunks.setdefault(f"{name}_proba", []).append(torch.softmax(value, dim=-1).cpu().numpy())
                chunks.setdefault(name, []).append(value.argmax(-1).cpu().numpy().astype(np.int64))
            else:
                chunks.setdefault(name, []).append(value.reshape(-1).cpu().numpy().astype(np.float64))
        if embedding is not None:
            chunks.setdefault("embedding", []).append(embedding.float().cpu().numpy())
    if not chunks:
        return {}
    return {name: np.concatenate(parts) for name, parts in chunks.items()}
