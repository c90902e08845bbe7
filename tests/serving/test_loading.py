"""Loading a trained model file: a pickle written by an earlier version runs with today's code; ensembles load whole."""

from __future__ import annotations

import pickle

import numpy as np
import torch

from insole_mtl.models import EnsembleModel, build_model
from insole_mtl.models.base import TaskSpec
from insole_mtl.serving.loading import load_trained_model


def test_a_versioned_pickle_from_an_earlier_version_loads_and_predicts(tmp_path):
    torch.manual_seed(0)
    model = build_model("cnn1d", 4, [TaskSpec("speed", "regression", 1)], width=4).eval()
    model.preprocessing = {"channels": ["a", "b", "c", "d"], "window_length": 32, "input_names": ["windows"]}
    x = torch.randn(3, 4, 32)
    with torch.no_grad():
        expected = model.predict(x)["speed"].numpy()
    del model.__dict__["amplitude_linear"]  # an attribute the earlier version did not have
    version = tmp_path / "trained_model.pkl" / "2026-01-01T00.00.00.000Z"
    version.mkdir(parents=True)
    (version / "trained_model.pkl").write_bytes(pickle.dumps(model))
    loaded = load_trained_model(None, tmp_path / "trained_model.pkl")
    assert loaded.details == {"version": "2026-01-01T00.00.00.000Z"} and not loaded.model.training
    with torch.no_grad():
        np.testing.assert_array_equal(loaded.model.predict(x)["speed"].numpy(), expected)


def test_a_saved_ensemble_loads_as_an_ensemble_and_predicts_the_same(tmp_path):
    members = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        members.append(build_model("cnn1d", 4, [TaskSpec("speed", "regression", 1)], width=4).eval())
    model = EnsembleModel(members).eval()
    model.preprocessing = {"channels": ["a", "b", "c", "d"], "window_length": 32, "input_names": ["windows"]}
    x = torch.randn(3, 4, 32)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    loaded = load_trained_model(str(tmp_path / "model.pkl"), tmp_path)
    assert isinstance(loaded.model, EnsembleModel) and loaded.card()["build_spec"]["members"] == 2
    with torch.no_grad():
        np.testing.assert_array_equal(loaded.model.predict(x)["speed"].numpy(), model.predict(x)["speed"].numpy())
