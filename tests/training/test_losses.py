"""Masked per-task losses: exact values, NaN / -1 targets ignored, omitted tasks."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pytest
import torch

from insole_mtl.training.losses import label_mask, masked_task_losses, per_window_task_loss


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    n_outputs: int


TASKS = (Task("activity", "classification", 3), Task("speed", "regression", 1), Task("weight", "regression", 1))


def _outputs() -> dict[str, torch.Tensor]:
    return {
        "activity": torch.tensor([[0.0, 0.0, 0.0], [math.log(3.0), 0.0, 0.0], [1.0, 2.0, 3.0]]),
        "speed": torch.tensor([1.0, 2.0, 3.0]),
        "weight": torch.tensor([0.5, -0.5, 0.0]),
    }


def test_exact_values_with_masked_windows() -> None:
    targets = {
        "activity": torch.tensor([0, 0, -1]),  # third window unlabelled
        "speed": torch.tensor([0.0, float("nan"), 5.0]),  # second window unlabelled
        "weight": torch.tensor([float("nan")] * 3),  # no label at all -> omitted
    }
    losses = masked_task_losses(_outputs(), targets, TASKS)
    assert set(losses) == {"activity", "speed"}
    # CE: window 0 uniform over 3 -> log 3; window 1 logits (log 3, 0, 0) -> p0 = 3/5 -> -log(3/5)
    expected_ce = (math.log(3.0) - math.log(3.0 / 5.0)) / 2
    assert losses["activity"].item() == pytest.approx(expected_ce, abs=1e-6)
    # MSE over windows 0 and 2: ((1-0)^2 + (3-5)^2) / 2
    assert losses["speed"].item() == pytest.approx(2.5, abs=1e-7)
    assert losses["activity"].dtype == torch.float32


def test_task_absent_from_targets_is_omitted() -> None:
    losses = masked_task_losses(_outputs(), {"speed": torch.tensor([1.0, 2.0, 3.0])}, TASKS)
    assert list(losses) == ["speed"]
    assert losses["speed"].item() == 0.0


def test_no_check_gives_zero_not_nan_for_empty_task() -> None:
    targets = {"weight": torch.tensor([float("nan")] * 3)}
    losses = masked_task_losses(_outputs(), targets, TASKS, check_empty=False)
    assert losses["weight"].item() == 0.0


def test_gradients_ignore_unlabelled_windows() -> None:
    out = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = masked_task_losses({"speed": out}, {"speed": torch.tensor([0.0, float("nan"), 5.0])}, TASKS)["speed"]
    loss.backward()
    assert out.grad.tolist() == [1.0, 0.0, -2.0]  # d/dx mean((x - y)^2) over 2 windows


def test_bf16_outputs_are_computed_in_float32() -> None:
    out = {"speed": torch.tensor([1.0, 2.0], dtype=torch.bfloat16)}
    loss = masked_task_losses(out, {"speed": torch.tensor([0.0, 0.0])}, TASKS)["speed"]
    assert loss.dtype == torch.float32 and loss.item() == 2.5


def test_per_window_loss_and_mask() -> None:
    loss, mask = per_window_task_loss(torch.tensor([[2.0, 0.0]]).repeat(2, 1), torch.tensor([0, -1]), "classification")
    assert mask.tolist() == [True, False]
    assert loss[1].item() == 0.0
    assert loss[0].item() == pytest.approx(math.log(1 + math.exp(-2.0)), abs=1e-6)


def test_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("model outputs have no entry for task 'speed'")):
        masked_task_losses({}, {"speed": torch.zeros(2)}, TASKS)
    with pytest.raises(ValueError, match=re.escape("classification output must be (b, k) logits")):
        masked_task_losses({"activity": torch.zeros(3)}, {"activity": torch.zeros(3, dtype=torch.long)}, TASKS)
    with pytest.raises(ValueError, match=re.escape("regression output must be (b,) or (b, 1)")):
        masked_task_losses({"speed": torch.zeros(3, 2)}, {"speed": torch.zeros(3)}, TASKS)
    with pytest.raises(ValueError, match=re.escape("task kind must be 'classification' or 'regression', got 'x'")):
        label_mask(torch.zeros(2), "x")
