"""Tests of the LSTM/GRU multitask baselines on raw windows."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from insole_mtl.models.recurrent import RecurrentMultitaskNet
from insole_mtl.models import ExportWrapper, TaskSpec, build_model
from insole_mtl.models.amplitude import amplitude_statistics_numpy

ACTIVITY = TaskSpec("activity", "classification", 7)
SPEED = TaskSpec("speed", "regression", 1)
WEIGHT = TaskSpec("weight", "regression", 1)
TASKS = (ACTIVITY, SPEED, WEIGHT)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_forward_shapes_on_raw_windows(kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(kind, 14, TASKS).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 14, 160))
        emb = model.embed(torch.randn(2, 14, 16))
    assert list(out) == ["activity", "speed", "weight"]
    assert out["activity"].shape == (2, 7)
    assert out["speed"].shape == (2,) and out["weight"].shape == (2,)
    assert emb.shape == (2, 64)


def test_parameter_counts_match_paper_rounding() -> None:
    # Paper (Sec. V-A2): single-task LSTM 871 K, GRU 670 K. Recurrent layers: 804,864 / 603,648;
    # pooled features of both layers (1024) -> Linear(1024, 64) -> head.
    assert n_params(RecurrentMultitaskNet("lstm", 14, [ACTIVITY])) == 870_919  # 871 K
    assert n_params(RecurrentMultitaskNet("lstm", 14, [SPEED])) == 870_529  # 871 K
    assert n_params(RecurrentMultitaskNet("gru", 14, [ACTIVITY])) == 669_703  # 670 K
    assert n_params(RecurrentMultitaskNet("gru", 14, [SPEED])) == 669_313  # 669 K
    assert n_params(RecurrentMultitaskNet("lstm", 14, TASKS)) == 871_049
    assert n_params(RecurrentMultitaskNet("gru", 14, TASKS)) == 669_833
    # Alternative layout that also matches: last layer only (512) -> Linear(512, 128).
    assert n_params(RecurrentMultitaskNet("lstm", 14, [ACTIVITY], pool_layers="last", embedding_dim=128)) == 871_431
    # Same parameters as one stacked nn.LSTM(14, 256, num_layers=2).
    stacked = nn.LSTM(14, 256, num_layers=2, batch_first=True)
    model = RecurrentMultitaskNet("lstm", 14, [ACTIVITY])
    assert n_params(stacked) == n_params(model.rnns) == 804_864


def test_embedding_pools_max_and_mean_of_every_layer() -> None:
    torch.manual_seed(0)
    model = RecurrentMultitaskNet("gru", 3, [SPEED], hidden_size=4, dropout=0.0).eval()
    x = torch.randn(1, 3, 5)
    with torch.no_grad():
        h1, _ = model.rnns[0](x.transpose(1, 2))
        h2, _ = model.rnns[1](h1)
        feats = torch.cat([h1.amax(1), h1.mean(1), h2.amax(1), h2.mean(1)], dim=1)
        expected = torch.relu(model.shared[0](feats))
        torch.testing.assert_close(model.embed(x), expected)


def test_input_scaling_is_applied_and_saved() -> None:
    torch.manual_seed(0)
    model = RecurrentMultitaskNet("lstm", 2, [SPEED], hidden_size=4).eval()
    x = torch.tensor([[[10.0, 12.0, 14.0], [100.0, 300.0, 500.0]]])
    with torch.no_grad():
        reference = model(torch.tensor([[[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]]]))
        model.set_input_scaling([12.0, 300.0], [2.0, 200.0])
        torch.testing.assert_close(model(x), reference)
    clone = RecurrentMultitaskNet("lstm", 2, [SPEED], hidden_size=4)
    clone.load_state_dict(model.state_dict())
    torch.testing.assert_close(clone.input_scale, torch.tensor([2.0, 200.0]))
    with pytest.raises(ValueError, match=re.escape("input scaling loc must have shape (2,), got (3,)")):
        model.set_input_scaling([0.0, 0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match=re.escape("input scaling scale must be > 0 per channel")):
        model.set_input_scaling([0.0, 0.0], [1.0, 0.0])


def test_predict_and_export_wrapper() -> None:
    torch.manual_seed(0)
    model = RecurrentMultitaskNet("gru", 14, TASKS, hidden_size=8).eval()
    model.set_target_scaling("speed", 3.0, 1.5)
    x = torch.randn(1, 14, 20)
    with torch.no_grad():
        z = model(x)
        y = model.predict(x)
        exported = ExportWrapper(model)(x)
    torch.testing.assert_close(y["speed"], z["speed"] * 1.5 + 3.0)
    torch.testing.assert_close(y["weight"], z["weight"])
    torch.testing.assert_close(exported[1], y["speed"])
    torch.testing.assert_close(exported[0], z["activity"])


def test_deterministic_init() -> None:
    torch.manual_seed(5)
    a = RecurrentMultitaskNet("lstm", 14, TASKS, hidden_size=8)
    torch.manual_seed(5)
    b = RecurrentMultitaskNet("lstm", 14, TASKS, hidden_size=8)
    x = torch.randn(2, 14, 10)
    a.eval(), b.eval()
    with torch.no_grad():
        torch.testing.assert_close(a(x)["activity"], b(x)["activity"])


def test_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("recurrent kind must be one of ['gru', 'lstm'], got 'rnn'")):
        RecurrentMultitaskNet("rnn", 14, TASKS)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("pool_layers must be 'all' or 'last', got 'first'")):
        RecurrentMultitaskNet("gru", 14, TASKS, pool_layers="first")  # type: ignore[arg-type]
    model = RecurrentMultitaskNet("gru", 14, TASKS, hidden_size=4)
    with pytest.raises(ValueError, match=re.escape("expects raw windows (b, 14, L), got (1, 160, 14)")):
        model(torch.zeros(1, 160, 14))


def _raw_windows(n: int, c: int, length: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, c, length)) * rng.uniform(1.0, 50.0, (1, c, 1)) + rng.uniform(-100, 100, (1, c, 1))
    return x.astype(np.float32)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fit_input_statistics_sets_training_channel_statistics(kind: str) -> None:
    x = _raw_windows(6, 3, 12, seed=0)
    x[:, 1] = 2.5  # constant channel: std 1, not 0
    model = build_model(kind, 3, [SPEED], hidden_size=4)
    assert model.input_loc.tolist() == [0.0, 0.0, 0.0] and model.input_scale.tolist() == [1.0, 1.0, 1.0]
    model.fit_input_statistics(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(model.input_loc.numpy(), x64.mean(axis=(0, 2)), rtol=1e-6)
    expected_std = x64.std(axis=(0, 2))
    expected_std[1] = 1.0
    np.testing.assert_allclose(model.input_scale.numpy(), expected_std, rtol=1e-5)
    # the fitted scaling is what the backbone applies: fitted on x == unfitted on the standardised x
    reference = build_model(kind, 3, [SPEED], hidden_size=4)
    reference.load_state_dict({**model.state_dict(), "input_loc": torch.zeros(3), "input_scale": torch.ones(3)})
    xt = torch.from_numpy(x)
    z = (xt - model.input_loc[:, None]) / model.input_scale[:, None]
    model.eval(), reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(xt)["speed"], reference(z)["speed"])
    assert not model.has_amplitude and model.input_names == ("windows",)
    with pytest.raises(ValueError, match=re.escape("fit_input_statistics: expected ['windows'], got 2 array(s)")):
        model.fit_input_statistics(x, x)


def test_amplitude_features_add_the_amplitude_branch() -> None:
    torch.manual_seed(0)
    plain = RecurrentMultitaskNet("gru", 3, TASKS, hidden_size=4)
    torch.manual_seed(0)
    model = RecurrentMultitaskNet("gru", 3, TASKS, hidden_size=4, amplitude_features=True).eval()
    assert model.has_amplitude and not plain.has_amplitude
    assert model.input_names == ("windows",)  # the raw window is the backbone's input already
    assert n_params(model) - n_params(plain) == (4 * 3 * 32 + 32) + ((64 + 32) * 64 + 64)
    x = _raw_windows(5, 3, 10, seed=1)
    model.fit_input_statistics(x)
    stats = amplitude_statistics_numpy(x)
    np.testing.assert_allclose(model.amplitude.loc.numpy(), stats.mean(0), rtol=1e-6)
    np.testing.assert_allclose(model.amplitude.scale.numpy(), stats.std(0), rtol=1e-6)
    np.testing.assert_allclose(model.input_loc.numpy(), x.astype(np.float64).mean(axis=(0, 2)), rtol=1e-6)
    with torch.no_grad():
        out = model(torch.from_numpy(x))
        # the raw-input standardisation is global, so a per-window offset reaches the backbone anyway; the
        # amplitude branch's own contribution shows when its input alone changes
        emb = model.embed(torch.from_numpy(x))
        backbone = model.backbone_embed(torch.from_numpy(x))
    assert out["activity"].shape == (5, 7) and out["speed"].shape == (5,)
    assert emb.shape == (5, 64)
    expected = model.fusion(torch.cat([backbone, model.amplitude(torch.from_numpy(x))], dim=1))
    torch.testing.assert_close(emb, expected)
    assert build_model("lstm", 3, TASKS, hidden_size=4, amplitude_features=True).has_amplitude
