"""rebuild_model: a trained model built again by today's code, same outputs; a misfit is refused by name."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insole_mtl.models import build_model, rebuild_model
from insole_mtl.models.base import TaskSpec

TASKS = [TaskSpec("activity", "classification", 3), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]


def windows(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(300.0, 50.0, size=(n, 14, 160)).astype(np.float32)


def small_model(name: str, resolution: int | None = None, **options) -> torch.nn.Module:
    """A small model with fitted statistics, target scaling and preprocessing, as the training node leaves it."""
    torch.manual_seed(0)
    options = {"amplitude_features": True, **({"recurrence_cell": 160 // resolution} if resolution else {}), **options}
    model = build_model(name, in_channels=14, tasks=TASKS, **options)
    w = windows(32, seed=1)
    model.fit_input_statistics(*(w if n == "windows" else np.zeros((32, 14, 40, 40), np.uint8) for n in model.input_names))
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 10.0)
    model.preprocessing = {"channels": [f"c{i}" for i in range(14)], "window_length": 160, "input_names": list(model.input_names)}
    return model


def _outputs(model, w):
    inputs = tuple(torch.as_tensor(w) if n == "windows" else torch.zeros(len(w), 14, 40, 40) for n in model.input_names)
    with torch.no_grad():
        return {k: v.numpy() for k, v in model.predict(*inputs).items()}


@pytest.mark.parametrize("name", ["mobilenetv2", "cnn1d"])
def test_a_rebuilt_model_predicts_exactly_what_the_original_does(name):
    model = small_model(name, resolution=40 if name == "mobilenetv2" else None).eval()
    before = torch.random.get_rng_state()
    rebuilt = rebuild_model(model)
    assert torch.equal(torch.random.get_rng_state(), before)  # the throw-away initialisation draws nothing visible
    assert rebuilt is not model and type(rebuilt) is type(model) and not rebuilt.training
    assert rebuilt.preprocessing == model.preprocessing and rebuilt.build_spec == model.build_spec
    assert rebuilt.target_scaling_of("weight") == model.target_scaling_of("weight")
    w = windows(5, seed=7)
    for task, values in _outputs(model, w).items():
        np.testing.assert_array_equal(_outputs(rebuilt, w)[task], values)


def test_a_model_pickled_before_an_attribute_existed_runs_again():
    model = small_model("cnn1d", resolution=None).eval()
    del model.__dict__["amplitude_linear"]  # what an earlier version's pickle lacks
    with pytest.raises(AttributeError, match="amplitude_linear"):
        _outputs(model, windows(2))
    assert set(_outputs(rebuild_model(model), windows(2))) == {"activity", "speed", "weight"}


def test_a_state_dict_that_does_not_fit_the_spec_is_refused_by_name():
    model = small_model("cnn1d", resolution=None, width=8)
    model.build_spec = {**model.build_spec, "options": {**model.build_spec["options"], "amplitude_features": False}}
    with pytest.raises(ValueError, match=r"^old\.pkl does not fit today's cnn1d architecture .*unexpected \['amplitude\.loc'"):
        rebuild_model(model, "old.pkl")


def test_a_model_without_a_build_spec_is_returned_as_it_is():
    model = build_model("cnn1d", 14, [TaskSpec("speed", "regression", 1)], width=4)
    model.build_spec = None
    assert rebuild_model(model) is model
