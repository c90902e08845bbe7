"""Tests of the LSTM/GRU multitask baselines on raw windows."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from insole_mtl.models.recurrent import RecurrentMultitaskNet
from insole_mtl.models.registry import ExportWrapper, TaskSpec, build_model

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
