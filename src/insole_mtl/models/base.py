"""The multitask model contract: task specifications, target scaling, amplitude fusion, export wrapper.

Every model in :mod:`insole_mtl.models` derives from :class:`MultitaskModel`:

* ``input_names``: the arrays ``forward`` reads, in order — ``("recurrence_plots",)`` for the paper's
  MobileNetV2, ``("recurrence_plots", "windows")`` when it also reads amplitude statistics of the raw
  window, ``("windows",)`` for the raw-signal models (1-D CNN, LSTM, GRU).
* ``forward(*inputs) -> dict[str, Tensor]``: classification logits ``(b, n_classes)`` and
  *standardised* regression outputs ``(b,)``, one entry per task, in task order.
* ``embed(*inputs) -> Tensor``: the shared embedding ``(b, embedding_dim)`` the heads read (after the
  amplitude fusion, when the model has one).
* ``predict(*inputs) -> dict[str, Tensor]``: like ``forward`` but regression outputs in physical
  units (km/h, kg), using the per-task ``target_loc``/``target_scale`` buffers.
* ``fit_input_statistics(*inputs)``: fit every input statistic the model keeps (raw-window
  standardisation, amplitude-statistics standardisation) on the TRAINING inputs.

Everything a model needs to turn its inputs into predictions lives in its state_dict as buffers
(``target_scaling.<task>.loc/scale``, ``amplitude.loc/scale``, the raw models' ``input_loc/scale``), so
a checkpoint or an ONNX export carries it and nothing is re-fitted on new data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from insole_mtl.models.amplitude import AmplitudeBranch, amplitude_statistics_numpy
from insole_mtl.models.force_prior import ForcePrior

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASK_KINDS: tuple[str, ...] = (CLASSIFICATION, REGRESSION)

#: names of the two model inputs: a recurrence-plot stack ``(C, R, R)`` and the raw window ``(C, L)``.
RECURRENCE_PLOTS = "recurrence_plots"
WINDOWS = "windows"


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
    """Base class: per-task linear heads on a shared embedding, target scaling, optional amplitude fusion.

    Subclasses implement :meth:`backbone_embed` (``primary input -> (b, embedding_dim)``), set
    :attr:`primary_input` and call ``super().__init__(tasks, embedding_dim, amplitude_channels=...)``.

    Parameters
    ----------
    tasks:
        Task specifications; the output dict follows their order.
    embedding_dim:
        Size of the shared embedding the heads read.
    amplitude_channels:
        None (the paper's models): the heads read the backbone's embedding. An int C: the model also
        reads the raw window ``(b, C, L)`` (its last input), turns it into per-channel amplitude
        statistics (:class:`~insole_mtl.models.amplitude.AmplitudeBranch`) and fuses them with the
        backbone's embedding, ``ReLU6(Linear(concat(embedding, amplitude)))``, before the heads.
    amplitude_dim:
        Width of the amplitude branch's output.
    amplitude_linear:
        False (default): the heads read the (fused) embedding only. True (needs ``amplitude_channels``):
        each regression head also adds a linear function of the window's per-channel means (the
        amplitude branch's standardised ``mean`` statistics, ``(b, C)``), initialised to zero. The
        calibrated mean-force line (weight = a * mean total force + b) is one setting of it, so the
        network starts from "no force cue" and can learn that line exactly and correct it, instead of
        having to rebuild a linear relation through the fusion's ReLU6. Training starts the path at the
        ridge fit on the training windows (:meth:`fit_amplitude_linear`).
    """

    #: name of the backbone's input (set by each subclass)
    primary_input: str = RECURRENCE_PLOTS

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        embedding_dim: int,
        amplitude_channels: int | None = None,
        amplitude_dim: int = 32,
        amplitude_linear: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(amplitude_linear, bool):
            raise ValueError(f"amplitude_linear must be true or false, got {amplitude_linear!r}")
        if amplitude_linear and amplitude_channels is None:
            raise ValueError("amplitude_linear: true needs amplitude_features: true (it reads the amplitude statistics)")
        self.tasks: tuple[TaskSpec, ...] = validate_tasks(tasks)
        self.embedding_dim = int(embedding_dim)
        self.heads = nn.ModuleDict(
            {task.name: nn.Linear(self.embedding_dim, task.n_outputs) for task in self.tasks}
        )
        self.target_scaling = nn.ModuleDict(
            {task.name: TargetScaler() for task in self.tasks if task.is_regression}
        )
        self.amplitude: AmplitudeBranch | None = None
        self.fusion: nn.Module | None = None
        if amplitude_channels is not None:
            self.amplitude = AmplitudeBranch(int(amplitude_channels), int(amplitude_dim))
            self.fusion = nn.Sequential(nn.Linear(self.embedding_dim + int(amplitude_dim), self.embedding_dim), nn.ReLU6())
        self.amplitude_linear: nn.ModuleDict | None = None
        if amplitude_linear:
            # skip_init: no draw from the RNG, so the rest of the network is initialised as without the path
            self.amplitude_linear = nn.ModuleDict(
                {task.name: nn.utils.skip_init(nn.Linear, int(amplitude_channels), 1) for task in self.tasks if task.is_regression}
            )
            for layer in self.amplitude_linear.values():
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        #: JSON-serialisable description of the preprocessing the inputs went through (channels, rates,
        #: window length, recurrence-plot settings), recorded by the training node; empty if unknown.
        self.preprocessing: dict = {}
        #: ``{"name", "in_channels", "options"}`` of :func:`insole_mtl.models.registry.build_model`: enough
        #: to build the same architecture again (e.g. the single-task variants of a benchmark); None when
        #: the model was constructed directly
        self.build_spec: dict | None = None

    @property
    def input_names(self) -> tuple[str, ...]:
        """Names of the arrays :meth:`forward` reads, in order."""
        if self.amplitude is None or self.primary_input == WINDOWS:
            return (self.primary_input,)
        return (self.primary_input, WINDOWS)

    @property
    def has_amplitude(self) -> bool:
        """True when the heads also read amplitude statistics of the raw window."""
        return self.amplitude is not None

    @property
    def task_names(self) -> tuple[str, ...]:
        """Task names in output order."""
        return tuple(task.name for task in self.tasks)

    def backbone_embed(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Backbone embedding ``(b, embedding_dim)`` of the primary input."""
        raise NotImplementedError

    def _check_inputs(self, inputs: tuple[torch.Tensor, ...]) -> None:
        names = self.input_names
        if len(inputs) != len(names):
            raise ValueError(
                f"{type(self).__name__} reads {len(names)} input(s) {list(names)}, got {len(inputs)}"
            )

    def embed(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Shared embedding ``(b, embedding_dim)`` float32 of the model's inputs (see :attr:`input_names`)."""
        self._check_inputs(inputs)
        z = self.backbone_embed(inputs[0])
        if self.amplitude is not None:
            assert self.fusion is not None
            # the raw window is the last input (the only one for raw-signal models)
            z = self.fusion(torch.cat([z, self.amplitude(inputs[-1]).to(z.dtype)], dim=1))
        return z

    def fit_input_statistics(self, *inputs: np.ndarray) -> None:
        """Fit the model's input statistics on the TRAINING inputs (arrays in :attr:`input_names` order).

        The base class fits the amplitude branch's standardisation on the raw windows; raw-signal models
        also fit their per-channel input standardisation (they extend this method).
        """
        if len(inputs) != len(self.input_names):
            raise ValueError(f"fit_input_statistics: expected {list(self.input_names)}, got {len(inputs)} array(s)")
        if self.amplitude is not None:
            self.amplitude.fit(np.asarray(inputs[-1]))

    def fit_amplitude_linear(self, windows: np.ndarray, targets: Mapping[str, np.ndarray], ridge: float = 10.0) -> None:
        """Start each ``amplitude_linear`` path at the ridge fit of its standardised target on the standardised
        window means, over the TRAINING windows that carry the target (call after :meth:`fit_input_statistics`).

        Args:
            windows: training raw windows ``(n, C, L)`` (may be a memory map).
            targets: ``{task: (n,)}`` standardised regression targets, NaN where a window has none.
            ridge: penalty per window (``alpha = ridge * n_labelled``; the means of neighbouring sensors are
                nearly collinear, so the plain least-squares fit would be unstable).
        """
        if self.amplitude_linear is None or self.amplitude is None:
            return
        stats = amplitude_statistics_numpy(windows)[:, 0::4]  # (n, C) channel means
        loc, scale = self.amplitude.loc.numpy()[0::4], self.amplitude.scale.numpy()[0::4]
        means = (stats - loc) / scale
        for name, layer in self.amplitude_linear.items():
            y = np.asarray(targets[name], dtype=np.float64)
            keep = np.isfinite(y)
            if keep.sum() < 2:
                continue
            x, y = means[keep], y[keep]
            x_bar, y_bar = x.mean(axis=0), y.mean()
            xc = x - x_bar
            coef = np.linalg.solve(xc.T @ xc + ridge * len(y) * np.eye(x.shape[1]), xc.T @ (y - y_bar))
            with torch.no_grad():
                layer.weight.copy_(torch.as_tensor(coef[None, :], dtype=torch.float32))
                layer.bias.fill_(float(y_bar - x_bar @ coef))

    def heads_forward(self, embedding: torch.Tensor, window: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Apply the task heads to an embedding ``(b, embedding_dim)`` (plus, with ``amplitude_linear``, the
        linear path from the raw ``window`` ``(b, C, L)``, the model's last input).

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
        if self.amplitude_linear is not None:
            if window is None or self.amplitude is None:
                raise ValueError("heads_forward: a model with amplitude_linear needs the raw window")
            means = self.amplitude.standardised(window).unflatten(1, (self.amplitude.channels, -1))[..., 0]  # (b, C)
            for name, layer in self.amplitude_linear.items():
                outputs[name] = outputs[name] + layer(means.to(outputs[name].dtype)).squeeze(-1)
        return outputs

    def forward(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model inputs -> ``{task: prediction}`` with standardised regression outputs."""
        return self.heads_forward(self.embed(*inputs), inputs[-1])

    def destandardise(self, outputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Map standardised regression outputs to physical units; logits pass unchanged."""
        result: dict[str, torch.Tensor] = {}
        for name, value in outputs.items():
            result[name] = self.target_scaling[name](value) if name in self.target_scaling else value
        return result

    def predict(self, *inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model inputs -> ``{task: prediction}`` with regression outputs in physical units.

        With a fitted :class:`~insole_mtl.models.force_prior.ForcePrior` attached as ``force_prior``
        (:meth:`attach_force_prior`), its task's output is the prior's estimate from the raw window (the last
        input) instead of the network's head.

        Does not change train/eval mode or autograd state: call ``model.eval()`` and use
        ``torch.no_grad()`` yourself for inference.
        """
        outputs = self.destandardise(self.forward(*inputs))
        prior = getattr(self, "force_prior", None)  # absent from models pickled before the option
        if prior is not None:
            outputs[prior.task] = prior(inputs[-1]).to(outputs[prior.task].dtype)
        return outputs

    def attach_force_prior(self, prior: ForcePrior) -> None:
        """Make a FITTED ``prior`` the source of its task's output in :meth:`predict` (``forward``, the training
        loss's outputs, is unchanged: the network's own head keeps training and shapes the shared embedding).

        Raises:
            ValueError: the model does not read the raw window, or the prior's task is not one of its
                regression tasks, or the prior was never fitted.
        """
        if WINDOWS not in self.input_names:
            raise ValueError(
                "a force prior reads the raw window: use a raw-signal model or model.options.amplitude_features: true"
            )
        if prior.task not in self.target_scaling:
            raise ValueError(f"force prior task {prior.task!r} is not a regression task of this model: {list(self.target_scaling)}")
        if prior.fit_summary is None:
            raise ValueError("attach_force_prior: the prior is not fitted (call ForcePrior.fit on the training windows)")
        self.force_prior = prior

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
    """ONNX-friendly wrapper: ``forward(*inputs)`` returns a tuple in task order, physical units.

    Classification entries are logits ``(b, n_classes)``; regression entries ``(b,)`` in the
    target's physical unit (the wrapped model's target scaling is applied inside the graph).
    """

    def __init__(self, model: MultitaskModel) -> None:
        super().__init__()
        self.model = model
        self.output_names: tuple[str, ...] = model.task_names

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model.predict(*inputs)
        return tuple(outputs[name] for name in self.output_names)


def channel_statistics(windows: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (float64, over windows and time) of raw windows ``(n, C, L)``.

    Chunked, so the windows may be a memory map. A constant channel gets std 1 (it then maps to 0)
    instead of a division by zero.
    """
    if windows.ndim != 3 or windows.shape[0] == 0:
        raise ValueError(f"channel statistics need non-empty raw windows (n, C, L), got shape {windows.shape}")
    c = windows.shape[1]
    total, sq, count = np.zeros(c), np.zeros(c), 0
    for start in range(0, windows.shape[0], chunk):
        block = np.asarray(windows[start : start + chunk], dtype=np.float64)
        total += block.sum(axis=(0, 2))
        sq += np.square(block).sum(axis=(0, 2))
        count += block.shape[0] * block.shape[2]
    mean = total / count
    std = np.sqrt(np.maximum(sq / count - mean**2, 0.0))
    std[~(std > 1e-12)] = 1.0
    return mean, std
