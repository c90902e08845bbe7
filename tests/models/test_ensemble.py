"""EnsembleModel: the mean of its members' outputs, a MultitaskModel everywhere a trained model goes."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
import torch

from insole_mtl.models import EnsembleModel, MultitaskModel, build_model, rebuild_model
from insole_mtl.models.base import TaskSpec

TASKS = [TaskSpec("activity", "classification", 3), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]


def member(seed: int, name: str = "cnn1d", **options) -> MultitaskModel:
    torch.manual_seed(seed)
    model = build_model(name, in_channels=2, tasks=TASKS, width=4, amplitude_features=True, **options)
    model.fit_input_statistics(np.random.default_rng(0).normal(100.0, 10.0, size=(8, 2, 32)).astype(np.float32))
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 10.0)
    return model.eval()


def windows(n: int = 3) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(1).normal(100.0, 10.0, size=(n, 2, 32)).astype(np.float32))


def test_forward_is_the_mean_of_the_members_logits_and_standardised_outputs():
    members = [member(0), member(1), member(2)]
    ensemble = EnsembleModel(members).eval()
    x = windows()
    with torch.no_grad():
        outputs = [m(x) for m in members]
        got = ensemble(x)
        physical = ensemble.predict(x)
    for task in ("activity", "speed", "weight"):
        torch.testing.assert_close(got[task], torch.stack([o[task] for o in outputs]).mean(0), rtol=0, atol=1e-6)
    # destandardised once: speed = 4 + 2 * mean(z)
    torch.testing.assert_close(physical["speed"], 4.0 + 2.0 * got["speed"], rtol=0, atol=1e-5)
    assert ensemble.embed(x).shape == (3, 3 * members[0].embedding_dim)
    assert ensemble.input_names == ("windows",) and ensemble.task_names == ("activity", "speed", "weight")
    assert ensemble.build_spec == {**members[0].build_spec, "members": 3}


def test_members_must_share_tasks_inputs_and_target_scaling():
    with pytest.raises(ValueError, match=re.escape("an ensemble needs at least 2 members, got 1")):
        EnsembleModel([member(0)])
    with pytest.raises(ValueError, match=re.escape("ensemble member 0 is a Linear, not a MultitaskModel")):
        EnsembleModel([torch.nn.Linear(2, 2), member(0)])
    other = member(1)
    other.set_target_scaling("weight", 71.0, 10.0)
    message = (
        "ensemble member 1 standardises 'weight' with (loc, scale) (71.0, 10.0), member 0 with (70.0, 10.0): members must "
        "be trained on the same windows"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        EnsembleModel([member(0), other])
    torch.manual_seed(0)
    speed_only = build_model("cnn1d", in_channels=2, tasks=TASKS[1:2], width=4, amplitude_features=True)
    with pytest.raises(ValueError, match=re.escape("ensemble member 1 has task_names ('speed',), member 0 ('activity', 'speed', 'weight')")):
        EnsembleModel([member(0), speed_only])


def test_an_ensemble_pickles_and_rebuilds_to_the_same_predictions():
    ensemble = EnsembleModel([member(0), member(1)]).eval()
    ensemble.preprocessing = {"channels": ["a", "b"], "window_length": 32, "input_names": ["windows"]}
    restored = rebuild_model(pickle.loads(pickle.dumps(ensemble)))
    assert type(restored) is EnsembleModel and len(restored.members) == 2 and not restored.training
    assert restored.preprocessing == ensemble.preprocessing and restored.build_spec == ensemble.build_spec
    with torch.no_grad():
        for task, value in ensemble.predict(windows()).items():
            torch.testing.assert_close(restored.predict(windows())[task], value, rtol=0, atol=0)


def test_set_target_scaling_reaches_every_member():
    ensemble = EnsembleModel([member(0), member(1)])
    ensemble.set_target_scaling("speed", 5.0, 3.0)
    assert [m.target_scaling_of("speed") for m in ensemble.members] == [(5.0, 3.0), (5.0, 3.0)]
    assert ensemble.target_scaling_of("speed") == (5.0, 3.0)
    with pytest.raises(TypeError, match="assembled from trained members"):
        ensemble.fit_input_statistics(np.zeros((1, 2, 32), np.float32))
