"""Task specifications, the shared multitask model contract and the model registry.

Every model in :mod:`insole_mtl.models` derives from :class:`MultitaskModel`:

* ``forward(x) -> dict[str, Tensor]``: classification logits ``(b, n_classes)`` and
  *standardised* regression outputs ``(b,)``, one entry per task, in task order.
* ``embed(x) -> Tensor``: the shared embedding ``(b, embedding_dim)`` the heads read.
* ``predict(x) -> dict[str, Tensor]``: like ``forward`` but regression outputs in physical
  units (km/h, kg), using the per-task ``target_loc``/``target_scale`` buffers.

The target-scaling buffers live in the state_dict (``target_scaling.<task>.loc`` and
``target_scaling.<task>.scale``), so a checkpoint or an ONNX export carries them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import torch
from torch import nn

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASK_KINDS: tuple[str, ...] = (CLASSIFICATION, REGRESSION)

#: model name -> what the model reads: a (C, 160, 160) recurrence-plot stack or the raw (C, L) window.
MODEL_INPUT_KINDS: dict[str, Literal["recurrence_plot", "raw"]] = {
    "mobilenetv2": "recurrence_plot",
    "lstm": "raw",
    "gru": "raw",
}


@dataclass(frozen=True)
class TaskSpec:
    """One prediction task of a multitask model.

    Attributes
    ----------
    name:
        Task name, used as the key of the model's output dict and of the loss dict
        (``"activity"``, ``"speed"``, ``"weight"``; any identifier without ``.`` is allowed).
    kind:
        ``"classification"`` or ``"regression"``.
    n_outputs:
        Number of classes for classification (>= 2), 1 for regression.
    """

    name: str
    kind: str
    n_outputs: int

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or "." in self.name:
            raise ValueError(
                f"TaskSpec.name must be a non-empty string without '.', got {self.name!r}"
            )
        if self.kind not in TASK_KINDS:
            raise ValueError(
                f"TaskSpec {self.name!r}: kind must be one of {TASK_KINDS}, got {self.kind!r}"
            )
        if isinstance(self.n_outputs, bool) or not isinstance(self.n_outputs, int):
            raise TypeError(
                f"TaskSpec {self.name!r}: n_outputs must be an int, got {type(self.n_outputs).__name__}"
            )
        if self.kind == REGRESSION and self.n_outputs != 1:
            raise ValueError(
                f"TaskSpec {self.name!r}: regression tasks have n_outputs=1, got {self.n_outputs}"
            )
        if self.kind == CLASSIFICATION and self.n_outputs < 2:
            raise ValueError(
                f"TaskSpec {self.name!r}: classification needs n_outputs >= 2 classes, "
                f"got {self.n_outputs}"
            )

    @property
    def is_regression(self) -> bool:
        """True for a regression task."""
        return self.kind == REGRESSION


def validate_tasks(tasks: Sequence[TaskSpec]) -> tuple[TaskSpec, ...]:
    """Check a task list: non-empty, only :class:`TaskSpec`, unique names.

    Returns
    -------
    tuple[TaskSpec, ...]
        The tasks, in the given order (the order of outputs and of ONNX outputs).
    """
    tasks = tuple(tasks)
    if not tasks:
        raise ValueError("tasks must contain at least one TaskSpec, got an empty sequence")
    for task in tasks:
        if not isinstance(task, TaskSpec):
            raise TypeError(f"tasks must be TaskSpec instances, got {type(task).__name__}: {task!r}")
    names = [task.name for task in tasks]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"task names must be unique, duplicated: {duplicates}")
    return tasks


class TargetScaler(nn.Module):
    """Affine de-standardisation of one regression target: ``physical = z * scale + loc``.

    ``loc`` and ``scale`` are float32 scalar buffers (default 0 and 1) so they travel with
    the state_dict and with exported graphs.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("loc", torch.zeros((), dtype=torch.float32))
        self.register_buffer("scale", torch.ones((), dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Standardised ``z`` (any shape) -> physical units (same shape)."""
        return z * self.scale + self.loc

    def standardise(self, y: torch.Tensor) -> torch.Tensor:
        """Physical ``y`` (any shape) -> standardised units (same shape)."""
        return (y - self.loc) / self.scale


class MultitaskModel(nn.Module):
    """Base class: per-task linear heads on a shared embedding plus target scaling.

    Subclasses implement :meth:`embed` (``(b, ...) -> (b, embedding_dim)``) and call
    ``super().__init__(tasks, embedding_dim)``.

    Parameters
    ----------
    tasks:
        Task specifications; the output dict follows their order.
    embedding_dim:
        Size of the shared embedding the heads read.
    """

    def __init__(self, tasks: Sequence[TaskSpec], embedding_dim: int) -> None:
        super().__init__()
        self.tasks: tuple[TaskSpec, ...] = validate_tasks(tasks)
        self.embedding_dim = int(embedding_dim)
        self.heads = nn.ModuleDict(
            {task.name: nn.Linear(self.embedding_dim, task.n_outputs) for task in self.tasks}
        )
        self.target_scaling = nn.ModuleDict(
            {task.name: TargetScaler() for task in self.tasks if task.is_regression}
        )

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in output order."""
        return tuple(task.name for task in self.tasks)

    def embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Shared embedding ``(b, embedding_dim)`` float32."""
        raise NotImplementedError

    def heads_forward(self, embedding: torch.Tensor) -> dict[str, torch.Tensor]:
        """Apply the task heads to an embedding ``(b, embedding_dim)``.

        Returns
        -------
        dict[str, Tensor]
            Classification logits ``(b, n_classes)``; standardised regression ``(b,)``.
        """
        outputs: dict[str, torch.Tensor] = {}
        for task in self.tasks:
            out = self.heads[task.name](embedding)
            # squeeze(-1), not squeeze(): a batch of one must stay (1,)
            outputs[task.name] = out.squeeze(-1) if task.is_regression else out
        return outputs

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model input -> ``{task: prediction}`` with standardised regression outputs."""
        return self.heads_forward(self.embed(x))

    def destandardise(self, outputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map standardised regression outputs to physical units; logits pass unchanged."""
        result: dict[str, torch.Tensor] = {}
        for name, value in outputs.items():
            result[name] = self.target_scaling[name](value) if name in self.target_scaling else value
        return result

    def predict(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model input -> ``{task: prediction}`` with regression outputs in physical units.

        Does not change train/eval mode or autograd state: call ``model.eval()`` and use
        ``torch.no_grad()`` yourself for inference.
        """
        return self.destandardise(self.forward(x))

    def _scaler(self, task: str) -> TargetScaler:
        if task not in self.target_scaling:
            regression = list(self.target_scaling.keys())
            raise ValueError(
                f"task {task!r} is not a regression task of this model; regression tasks: {regression}"
            )
        return self.target_scaling[task]  # type: ignore[return-value]

    def set_target_scaling(self, task: str, loc: float, scale: float) -> None:
        """Set the standardisation of a regression target: ``z = (y - loc) / scale``.

        Parameters
        ----------
        task:
            Name of a regression task.
        loc, scale:
            Location and scale in the target's physical unit (e.g. the training-set mean
            and standard deviation of speed in km/h); ``scale`` must be finite and > 0.
        """
        loc_f, scale_f = float(loc), float(scale)
        if not (math.isfinite(loc_f) and math.isfinite(scale_f)):
            raise ValueError(f"target scaling of {task!r}: loc and scale must be finite, got {loc}, {scale}")
        if scale_f <= 0:
            raise ValueError(f"target scaling of {task!r}: scale must be > 0, got {scale}")
        scaler = self._scaler(task)
        scaler.loc.fill_(loc_f)
        scaler.scale.fill_(scale_f)

    def target_scaling_of(self, task: str) -> tuple[float, float]:
        """``(loc, scale)`` of a regression task."""
        scaler = self._scaler(task)
        return float(scaler.loc), float(scaler.scale)

    def standardise_target(self, task: str, y: torch.Tensor) -> torch.Tensor:
        """Physical targets ``y`` (any shape) -> standardised, for the training loss."""
        return self._scaler(task).standardise(y)


class ExportWrapper(nn.Module):
    """ONNX-friendly wrapper: ``forward(x)`` returns a tuple in task order, physical units.

    Classification entries are logits ``(b, n_classes)``; regression entries ``(b,)`` in the
    target's physical unit (the wrapped model's target scaling is applied inside the graph).
    """

    def __init__(self, model: MultitaskModel) -> None:
        super().__init__()
        self.model = model
        self.output_names: tuple[str, ...] = model.task_names

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model.predict(x)
        return tuple(outputs[name] for name in self.output_names)


def model_input_kind(name: str) -> Literal["recurrence_plot", "raw"]:
    """What a registered model reads: ``"recurrence_plot"`` (C, 160, 160) or ``"raw"`` (C, L)."""
    try:
        return MODEL_INPUT_KINDS[name]
    except KeyError:
        raise ValueError(
            f"unknown model name {name!r}; known models: {sorted(MODEL_INPUT_KINDS)}"
        ) from None


def build_model(name: str, in_channels: int, tasks: Sequence[TaskSpec], **options: object) -> MultitaskModel:
    """Build a registered model.

    Parameters
    ----------
    name:
        ``"mobilenetv2"`` (recurrence-plot input), ``"lstm"`` or ``"gru"`` (raw windows).
    in_channels:
        Number of input channels (14 for the paper's insole).
    tasks:
        Task specifications (one task = single-task model).
    **options:
        Passed to the model constructor (e.g. ``stem_kernel=3``, ``hidden_size=128``).
    """
    # Imported here because both model modules import this module's base class.
    from insole_mtl.models.mobilenet import MultitaskMobileNetV2
    from insole_mtl.models.recurrent import RecurrentMultitaskNet

    if name == "mobilenetv2":
        return MultitaskMobileNetV2(in_channels, tasks, **options)  # type: ignore[arg-type]
    if name in ("lstm", "gru"):
        return RecurrentMultitaskNet(name, in_channels, tasks, **options)  # type: ignore[arg-type]
    raise ValueError(f"unknown model name {name!r}; known models: {sorted(MODEL_INPUT_KINDS)}")
