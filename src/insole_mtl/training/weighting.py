"""Multitask loss weighting (SPEC §5): uniform, random (RLW), uncertainty, DWA.

Every method is an ``nn.Module`` with the same contract:

* ``forward(losses) -> Tensor``: the scalar total loss from ``{task: scalar loss}``. A batch
  may miss tasks (no labelled window for speed or weight): missing tasks are skipped, the
  weights of the present ones are NOT renormalised (a task's weight never depends on which
  other tasks happen to be labelled in the batch).
* ``weights() -> dict[str, float]``: the current multiplier of each task's loss, for logging.
* ``on_epoch_end(epoch_task_losses)``: called once per epoch with the epoch's mean training
  loss per task (no-op except for DWA).

:class:`UncertaintyWeighting` has learnable parameters: give ``weighting.parameters()`` to
the optimizer together with the model's.
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import Mapping, Sequence

import torch
from torch import nn

from insole_mtl.models import REGRESSION, TaskSpec

logger = logging.getLogger(__name__)

TaskLike = TaskSpec | str


def _task_names(tasks: Sequence[TaskLike]) -> tuple[str, ...]:
    names = tuple(t.name if isinstance(t, TaskSpec) else t for t in tasks)
    if not names:
        raise ValueError("loss weighting needs at least one task, got an empty sequence")
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"tasks must be TaskSpec or non-empty str, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"task names must be unique, got {list(names)}")
    return names


class LossWeighting(nn.Module):
    """Base class: combines per-task scalar losses into one training loss.

    Parameters
    ----------
    tasks:
        Task specifications (or bare task names where the method does not need the kind).
    """

    def __init__(self, tasks: Sequence[TaskLike]) -> None:
        super().__init__()
        self.task_names: tuple[str, ...] = _task_names(tasks)

    def _present(self, losses: Mapping[str, torch.Tensor]) -> list[str]:
        """Names of the tasks present in ``losses``, in task order; validates the mapping."""
        unknown = sorted(set(losses) - set(self.task_names))
        if unknown:
            raise ValueError(f"losses contain unknown tasks {unknown}; known tasks: {list(self.task_names)}")
        present = [name for name in self.task_names if name in losses]
        if not present:
            raise ValueError(f"losses is empty: expected at least one of {list(self.task_names)}")
        for name in present:
            if losses[name].numel() != 1:
                raise ValueError(f"loss of task {name!r} must be a scalar, got shape {tuple(losses[name].shape)}")
        return present

    def task_weight_tensors(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Multiplier of each present task's loss for this call (subclasses override)."""
        raise NotImplementedError  # pragma: no cover

    def regulariser(self, present: Sequence[str]) -> torch.Tensor | float:
        """Term added to the weighted sum (e.g. log sigma); 0 by default."""
        return 0.0

    def forward(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """``{task: scalar loss}`` (subset of the tasks) -> scalar total loss."""
        present = self._present(losses)
        weights = self.task_weight_tensors({name: losses[name] for name in present})
        total = sum(weights[name] * losses[name].reshape(()) for name in present)
        return total + self.regulariser(present)  # type: ignore[return-value]

    def weights(self) -> dict[str, float]:
        """Current loss multiplier per task (for logging)."""
        raise NotImplementedError  # pragma: no cover

    def on_epoch_end(self, epoch_task_losses: Mapping[str, float]) -> None:
        """Receive the epoch's mean training loss per task (default: ignore)."""


class UniformWeighting(LossWeighting):
    """Plain sum of the task losses (every weight 1)."""

    def task_weight_tensors(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {name: torch.ones((), dtype=loss.dtype, device=loss.device) for name, loss in losses.items()}

    def weights(self) -> dict[str, float]:
        return {name: 1.0 for name in self.task_names}


class RandomLossWeighting(LossWeighting):
    """Random Loss Weighting (Lin et al., 2022): ``w = softmax(z)``, ``z ~ N(0, I_K)`` each call.

    One draw per ``forward`` call (one training step) for all K tasks, from the module's own
    CPU ``torch.Generator`` seeded with ``seed``, so the weight sequence is reproducible and
    independent of the global RNG and of which tasks a batch holds. Weights are not
    learnable and receive no gradient.
    """

    def __init__(self, tasks: Sequence[TaskLike], seed: int = 0) -> None:
        super().__init__(tasks)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        self._last = torch.full((len(self.task_names),), 1.0 / len(self.task_names))

    def sample(self) -> torch.Tensor:
        """Draw the next weight vector ``(K,)`` float32 on CPU (sums to 1)."""
        z = torch.randn(len(self.task_names), generator=self.generator)
        self._last = torch.softmax(z, dim=0)
        return self._last

    def task_weight_tensors(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        w = self.sample()
        index = {name: i for i, name in enumerate(self.task_names)}
        return {name: w[index[name]].to(dtype=loss.dtype, device=loss.device) for name, loss in losses.items()}

    def weights(self) -> dict[str, float]:
        """Weights of the last draw (uniform 1/K before the first step)."""
        return {name: float(w) for name, w in zip(self.task_names, self._last)}


class UncertaintyWeighting(LossWeighting):
    """Homoscedastic uncertainty weighting (Kendall et al., 2018; paper eq. 6).

    Learns ``s_t = log sigma_t^2`` per task (initialised to 0, i.e. sigma = 1):

    * classification: ``exp(-s) * L + s / 2``        (= L / sigma^2 + log sigma)
    * regression:     ``0.5 * exp(-s) * L + s / 2``  (= L / (2 sigma^2) + log sigma)

    A missing task contributes neither its loss nor its ``s / 2`` term (so its ``s`` gets
    no gradient from that batch).

    Parameters
    ----------
    tasks:
        Task specifications; the kind decides the factor 1 or 1/2.
    """

    factor: torch.Tensor

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        for task in tasks:
            if not isinstance(task, TaskSpec):
                raise TypeError(f"UncertaintyWeighting needs TaskSpec (the kind matters), got {task!r}")
        super().__init__(tasks)
        self.log_variance = nn.Parameter(torch.zeros(len(self.task_names)))
        self.register_buffer(
            "factor",
            torch.tensor([0.5 if task.kind == REGRESSION else 1.0 for task in tasks], dtype=torch.float32),
        )
        self._index = {name: i for i, name in enumerate(self.task_names)}

    def task_weight_tensors(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        precision = self.factor * torch.exp(-self.log_variance)
        return {name: precision[self._index[name]].to(loss.dtype) for name, loss in losses.items()}

    def regulariser(self, present: Sequence[str]) -> torch.Tensor:
        index = torch.tensor([self._index[name] for name in present], device=self.log_variance.device)
        return 0.5 * self.log_variance[index].sum()

    def weights(self) -> dict[str, float]:
        """Current multiplier ``factor * exp(-s)`` per task."""
        with torch.no_grad():
            precision = self.factor * torch.exp(-self.log_variance)
        return {name: float(precision[i]) for i, name in enumerate(self.task_names)}

    def sigmas(self) -> dict[str, float]:
        """Current ``sigma_t = exp(s_t / 2)`` per task."""
        with torch.no_grad():
            return {name: math.exp(0.5 * float(self.log_variance[i])) for i, name in enumerate(self.task_names)}


class DynamicWeightAverage(LossWeighting):
    """Dynamic Weight Average (Liu et al., 2019, "End-to-end multi-task learning with attention").

    For epoch ``e`` (0-based) with ``e >= 2``: ``r_k = L_k(e-1) / L_k(e-2)`` and
    ``w_k = K * softmax(r / T)_k`` from the epoch mean training losses reported through
    :meth:`on_epoch_end`; weights are 1 for the first two epochs. Weights are constant within
    an epoch.

    Parameters
    ----------
    tasks:
        Task specifications or names.
    temperature:
        Softmax temperature T > 0 (paper: 2).
    """

    def __init__(self, tasks: Sequence[TaskLike], temperature: float = 2.0) -> None:
        super().__init__(tasks)
        if not temperature > 0:
            raise ValueError(f"DWA temperature must be > 0, got {temperature}")
        self.temperature = float(temperature)
        self.history: list[dict[str, float]] = []
        self._weights = torch.ones(len(self.task_names))

    def on_epoch_end(self, epoch_task_losses: Mapping[str, float]) -> None:
        """Record the epoch's mean loss per task and update the weights for the next epoch.

        An epoch in which some task has no finite, positive loss (no labelled window of that task in the
        epoch's batches, e.g. with a small ``max_train_batches_per_epoch``) gives no ratio: it is not
        recorded and the weights stay as they are.
        """
        unknown = sorted(set(epoch_task_losses) - set(self.task_names))
        if unknown:
            raise ValueError(f"DWA on_epoch_end: unknown task(s) {unknown}; known tasks: {list(self.task_names)}")
        record = {name: float(epoch_task_losses.get(name, math.nan)) for name in self.task_names}
        incomplete = sorted(name for name, v in record.items() if not (math.isfinite(v) and v > 0))
        if incomplete:
            logger.warning("DWA: no finite loss for %s this epoch; weights kept at %s", incomplete, self.weights())
            return
        self.history.append(record)
        if len(self.history) >= 2:
            prev, last = self.history[-2], self.history[-1]
            ratio = torch.tensor([last[n] / prev[n] for n in self.task_names], dtype=torch.float64)
            w = len(self.task_names) * torch.softmax(ratio / self.temperature, dim=0)
            self._weights = w.to(torch.float32)

    def task_weight_tensors(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        index = {name: i for i, name in enumerate(self.task_names)}
        return {
            name: self._weights[index[name]].to(dtype=loss.dtype, device=loss.device)
            for name, loss in losses.items()
        }

    def weights(self) -> dict[str, float]:
        return {name: float(w) for name, w in zip(self.task_names, self._weights)}


#: weighting name -> its class
WEIGHTING_CLASSES: dict[str, type[LossWeighting]] = {
    "uniform": UniformWeighting,
    "rlw": RandomLossWeighting,
    "uncertainty": UncertaintyWeighting,
    "dwa": DynamicWeightAverage,
}
WEIGHTING_NAMES: tuple[str, ...] = tuple(WEIGHTING_CLASSES)


def _weighting_class(name: str) -> type[LossWeighting]:
    if name not in WEIGHTING_CLASSES:
        raise ValueError(f"unknown loss weighting {name!r}; known: {list(WEIGHTING_NAMES)}")
    return WEIGHTING_CLASSES[name]


def weighting_option_names(name: str) -> tuple[str, ...]:
    """The ``loss_weighting.options`` keys of a weighting (its constructor's keyword arguments), sorted."""
    return tuple(sorted(set(inspect.signature(_weighting_class(name).__init__).parameters) - {"self", "tasks"}))


def build_weighting(name: str, tasks: Sequence[TaskSpec], **options: object) -> LossWeighting:
    """Build a loss weighting by name: ``"uniform"``, ``"rlw"``, ``"uncertainty"``, ``"dwa"``.

    ``options`` go to the constructor (``seed`` for rlw, ``temperature`` for dwa).
    """
    return _weighting_class(name)(tasks, **options)  # type: ignore[arg-type]
