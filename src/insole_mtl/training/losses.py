"""Masked per-task losses for multitask batches (SPEC §5).

A multitask batch mixes windows with and without a speed / body-weight label (speed is used on
EXP01–11 only, weight on EXP09–11 only), so every task loss is averaged over the windows that carry
that task's label:

* classification: cross-entropy over the windows whose class id is ``>= 0`` (``-1`` marks "no label");
* regression: mean squared error over the windows whose target is not NaN (targets and outputs are
  both in STANDARDISED units, see :func:`insole_mtl.training.engine.fit_target_scaling`).

A task with no labelled window in the batch is omitted from the result instead of contributing a
zero: a zero would still enter the uncertainty weighting's ``log σ`` term and the per-task loss
averages, biasing both towards tasks that happen to be absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

CLASSIFICATION = "classification"
REGRESSION = "regression"


def label_mask(target: Tensor, kind: str) -> Tensor:
    """Boolean mask ``(b,)`` of the windows that carry a label for one task.

    Args:
        target: ``(b,)`` int64 class ids (``-1`` = unlabelled) or float regression targets (NaN = unlabelled).
        kind: ``"classification"`` or ``"regression"``.
    """
    if kind == CLASSIFICATION:
        return target >= 0
    if kind == REGRESSION:
        return ~torch.isnan(target)
    raise ValueError(f"task kind must be 'classification' or 'regression', got {kind!r}")


def per_window_task_loss(output: Tensor, target: Tensor, kind: str) -> tuple[Tensor, Tensor]:
    """Unreduced loss of one task and its label mask, computed in float32.

    Args:
        output: classification logits ``(b, k)`` or regression outputs ``(b,)`` (any float dtype;
            computed in float32 so bf16/fp16 autocast does not degrade the loss value).
        target: ``(b,)`` int64 class ids (``-1`` unlabelled) or float targets (NaN unlabelled).
        kind: ``"classification"`` or ``"regression"``.

    Returns:
        ``(loss, mask)``: float32 ``(b,)`` per-window losses, exactly 0 where unlabelled, and the
        boolean ``(b,)`` mask of labelled windows.
    """
    mask = label_mask(target, kind)
    if kind == CLASSIFICATION:
        if output.ndim != 2 or output.shape[0] != target.shape[0]:
            raise ValueError(
                f"classification output must be (b, k) logits matching targets (b,)={tuple(target.shape)}, "
                f"got {tuple(output.shape)}"
            )
        # clamp the -1 placeholders to a valid id, then zero their loss: keeps shapes static (no
        # boolean indexing, hence no host sync on CUDA and no recompilation under torch.compile).
        loss = F.cross_entropy(output.float(), target.clamp(min=0), reduction="none")
    else:
        output = output.reshape(output.shape[0], -1)
        if output.shape[1] != 1 or output.shape[0] != target.shape[0]:
            raise ValueError(
                f"regression output must be (b,) or (b, 1) matching targets (b,)={tuple(target.shape)}, "
                f"got {tuple(output.shape)}"
            )
        diff = output[:, 0].float() - torch.nan_to_num(target.float(), nan=0.0)
        loss = diff * diff
    return torch.where(mask, loss, torch.zeros_like(loss)), mask


def masked_task_losses(
    outputs: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    tasks: Sequence[Any],
    *,
    check_empty: bool = True,
) -> dict[str, Tensor]:
    """Mean loss of each task over the windows that carry its label.

    Args:
        outputs: task name -> model output (classification logits ``(b, k)``, regression ``(b,)``
            standardised).
        targets: task name -> ``(b,)`` targets (class ids ``>= 0`` or ``-1`` for unlabelled; float
            standardised targets or NaN for unlabelled). A task absent from ``targets`` is omitted.
        tasks: task specs with ``name`` and ``kind`` (``insole_mtl.models.TaskSpec``).
        check_empty: if True, a task whose batch has no labelled window is omitted (costs one
            device->host sync per task on CUDA). The training engine passes False because its
            loader already drops such tasks from ``targets`` using the host copy of the labels; the
            mean then divides by ``max(count, 1)`` and can never be NaN.

    Returns:
        task name -> scalar float32 loss (CE for classification, MSE for regression), only for the
        tasks that have at least one labelled window.
    """
    losses: dict[str, Tensor] = {}
    for task in tasks:
        if task.name not in targets:
            continue
        if task.name not in outputs:
            raise ValueError(f"model outputs have no entry for task {task.name!r}; got {sorted(outputs)}")
        loss, mask = per_window_task_loss(outputs[task.name], targets[task.name], task.kind)
        count = mask.sum()
        if check_empty and not bool(count > 0):
            continue
        losses[task.name] = loss.sum() / count.clamp(min=1)
    return losses
