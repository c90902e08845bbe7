"""Tests of the multitask loss weightings (exact values on scalar losses)."""

from __future__ import annotations

import math
import re

import pytest
import torch

from insole_mtl.models import TaskSpec
from insole_mtl.training.weighting import (
    DynamicWeightAverage,
    RandomLossWeighting,
    UncertaintyWeighting,
    UniformWeighting,
    build_weighting,
)

ACTIVITY = TaskSpec("activity", "classification", 7)
SPEED = TaskSpec("speed", "regression", 1)
WEIGHT = TaskSpec("weight", "regression", 1)
TASKS = (ACTIVITY, SPEED, WEIGHT)


def losses(a: float = 2.0, s: float = 3.0, w: float = 5.0) -> dict[str, torch.Tensor]:
    return {"activity": torch.tensor(a), "speed": torch.tensor(s), "weight": torch.tensor(w)}


def test_uniform_sums_and_skips_missing() -> None:
    weighting = UniformWeighting(TASKS)
    assert float(weighting(losses())) == 10.0
    assert float(weighting({"activity": torch.tensor(2.0), "weight": torch.tensor(5.0)})) == 7.0
    assert weighting.weights() == {"activity": 1.0, "speed": 1.0, "weight": 1.0}


def test_unknown_and_empty_losses_raise() -> None:
    weighting = UniformWeighting(TASKS)
    with pytest.raises(ValueError, match=re.escape("losses contain unknown tasks ['height']")):
        weighting({"height": torch.tensor(1.0)})
    with pytest.raises(ValueError, match=re.escape("losses is empty: expected at least one of")):
        weighting({})
    with pytest.raises(ValueError, match=re.escape("loss of task 'speed' must be a scalar, got shape (2,)")):
        weighting({"speed": torch.ones(2)})


def test_uncertainty_closed_form_and_gradients() -> None:
    weighting = UncertaintyWeighting(TASKS)
    with torch.no_grad():
        weighting.log_variance.fill_(math.log(4.0))  # sigma^2 = 4, log sigma = log 2
    total = weighting(losses(2.0, 3.0, 5.0))
    # L1/sigma^2 + L2/(2 sigma^2) + L3/(2 sigma^2) + 3 log sigma
    expected = 2.0 / 4 + 3.0 / 8 + 5.0 / 8 + 3 * math.log(2.0)
    assert total.item() == pytest.approx(expected, rel=1e-6)
    total.backward()
    # d/ds [c e^{-s} L + s/2] = -c e^{-s} L + 1/2
    grad = weighting.log_variance.grad
    torch.testing.assert_close(grad, torch.tensor([-2.0 / 4 + 0.5, -3.0 / 8 + 0.5, -5.0 / 8 + 0.5]))
    assert weighting.weights() == pytest.approx({"activity": 0.25, "speed": 0.125, "weight": 0.125})
    assert weighting.sigmas() == pytest.approx({"activity": 2.0, "speed": 2.0, "weight": 2.0})


def test_uncertainty_initial_values_and_missing_task() -> None:
    weighting = UncertaintyWeighting(TASKS)
    assert [p.shape for p in weighting.parameters()] == [torch.Size([3])]
    # s = 0: activity weight 1, regression weights 1/2, no log term
    assert weighting(losses(2.0, 3.0, 5.0)).item() == pytest.approx(2.0 + 1.5 + 2.5)
    total = weighting({"activity": torch.tensor(2.0), "speed": torch.tensor(3.0)})
    total.backward()
    assert total.item() == pytest.approx(3.5)
    assert weighting.log_variance.grad[2].item() == 0.0  # missing weight task gets no gradient


def test_uncertainty_learns_with_model_parameters() -> None:
    model_param = torch.nn.Parameter(torch.tensor(1.0))
    weighting = UncertaintyWeighting([SPEED])
    optimizer = torch.optim.SGD([model_param, *weighting.parameters()], lr=0.1)
    loss = weighting({"speed": (model_param * 2.0) ** 2})
    loss.backward()
    optimizer.step()
    # dL/ds = -0.5 * 4 + 0.5 = -1.5 -> s rises by 0.15
    assert weighting.log_variance[0].item() == pytest.approx(0.15)
    assert model_param.item() == pytest.approx(1.0 - 0.1 * 0.5 * 8.0)


def test_uncertainty_needs_taskspecs() -> None:
    with pytest.raises(TypeError, match=re.escape("UncertaintyWeighting needs TaskSpec")):
        UncertaintyWeighting(["speed"])  # type: ignore[list-item]


def test_rlw_deterministic_sums_to_one_and_changes_each_step() -> None:
    a = RandomLossWeighting(TASKS, seed=7)
    b = RandomLossWeighting(TASKS, seed=7)
    assert a.weights() == pytest.approx({"activity": 1 / 3, "speed": 1 / 3, "weight": 1 / 3})
    draws = []
    for _ in range(3):
        total_a = a(losses())
        total_b = b(losses())
        assert float(total_a) == float(total_b)
        w = a.weights()
        assert sum(w.values()) == pytest.approx(1.0)
        assert float(total_a) == pytest.approx(2.0 * w["activity"] + 3.0 * w["speed"] + 5.0 * w["weight"])
        draws.append(tuple(w.values()))
    assert len(set(draws)) == 3
    expected = torch.softmax(torch.randn(3, generator=torch.Generator().manual_seed(7)), 0)
    c = RandomLossWeighting(TASKS, seed=7)
    c(losses())
    assert list(c.weights().values()) == pytest.approx(expected.tolist())


def test_rlw_missing_task_drops_term_without_renormalising() -> None:
    a = RandomLossWeighting(TASKS, seed=1)
    total = a({"activity": torch.tensor(2.0)})
    assert float(total) == pytest.approx(2.0 * a.weights()["activity"])


def test_rlw_does_not_touch_global_rng() -> None:
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    RandomLossWeighting(TASKS, seed=3)(losses())
    assert torch.equal(torch.rand(1), expected)


def test_dwa_exact_weights_from_history() -> None:
    dwa = DynamicWeightAverage(TASKS, temperature=2.0)
    assert float(dwa(losses())) == 10.0  # epoch 0: uniform
    dwa.on_epoch_end({"activity": 1.0, "speed": 2.0, "weight": 4.0})
    assert dwa.weights() == {"activity": 1.0, "speed": 1.0, "weight": 1.0}  # epoch 1: uniform
    dwa.on_epoch_end({"activity": 0.5, "speed": 2.0, "weight": 6.0})
    ratios = [0.5, 1.0, 1.5]
    exps = [math.exp(r / 2.0) for r in ratios]
    expected = [3 * e / sum(exps) for e in exps]
    assert list(dwa.weights().values()) == pytest.approx(expected)
    assert sum(dwa.weights().values()) == pytest.approx(3.0)
    total = dwa({"speed": torch.tensor(3.0), "weight": torch.tensor(5.0)})
    assert float(total) == pytest.approx(3.0 * expected[1] + 5.0 * expected[2])


def test_dwa_errors() -> None:
    dwa = DynamicWeightAverage(TASKS)
    with pytest.raises(ValueError, match=re.escape("DWA on_epoch_end: unknown task(s) ['gait']; known tasks: ['activity', 'speed', 'weight']")):
        dwa.on_epoch_end({"activity": 1.0, "gait": 1.0})
    with pytest.raises(ValueError, match=re.escape("DWA temperature must be > 0, got 0")):
        DynamicWeightAverage(TASKS, temperature=0)


def test_dwa_keeps_its_weights_through_an_epoch_without_a_finite_loss_of_some_task() -> None:
    # the engine reports only the tasks with a finite epoch loss: with max_train_batches_per_epoch = 1 a task can
    # have no labelled window in an epoch; that epoch gives no ratio (it used to raise and stop the training)
    dwa = DynamicWeightAverage(TASKS, temperature=2.0)
    dwa.on_epoch_end({"activity": 1.0, "speed": 2.0, "weight": 4.0})
    dwa.on_epoch_end({"activity": 0.5, "speed": 2.0, "weight": 6.0})
    before = dwa.weights()
    dwa.on_epoch_end({"activity": 0.4, "speed": 1.0})  # no weight loss
    dwa.on_epoch_end({"activity": 0.4, "speed": 0.0, "weight": 1.0})  # a zero loss gives no ratio either
    assert dwa.weights() == before and len(dwa.history) == 2
    dwa.on_epoch_end({"activity": 0.25, "speed": 2.0, "weight": 6.0})
    expected = 3 * torch.softmax(torch.tensor([0.5, 1.0, 1.0], dtype=torch.float64) / 2.0, dim=0)
    assert list(dwa.weights().values()) == pytest.approx(expected.tolist())


def test_build_weighting() -> None:
    assert isinstance(build_weighting("uniform", TASKS), UniformWeighting)
    assert isinstance(build_weighting("rlw", TASKS, seed=3), RandomLossWeighting)
    assert isinstance(build_weighting("uncertainty", TASKS), UncertaintyWeighting)
    dwa = build_weighting("dwa", TASKS, temperature=1.0)
    assert isinstance(dwa, DynamicWeightAverage) and dwa.temperature == 1.0
    message = "unknown loss weighting 'gradnorm'; known: ['uniform', 'rlw', 'uncertainty', 'dwa']"
    with pytest.raises(ValueError, match=re.escape(message)):
        build_weighting("gradnorm", TASKS)


def test_default_on_epoch_end_is_noop() -> None:
    weighting = UniformWeighting(TASKS)
    weighting.on_epoch_end({"activity": 1.0})
    assert weighting.weights()["activity"] == 1.0
