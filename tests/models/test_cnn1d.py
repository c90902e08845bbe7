"""Tests of the residual 1-D ConvNet on raw windows (input normalisation, amplitude fusion, registry)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from torch import nn

from insole_mtl.models import ResidualCNN1d, TaskSpec, build_model, channel_statistics, model_input_kind
from insole_mtl.models.amplitude import amplitude_statistics_numpy

ACTIVITY = TaskSpec("activity", "classification", 3)
SPEED = TaskSpec("speed", "regression", 1)
TASKS = (ACTIVITY, SPEED)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _cnn(seed: int = 0, channels: int = 3, **options: object) -> ResidualCNN1d:
    torch.manual_seed(seed)
    model = build_model("cnn1d", channels, TASKS, width=4, **options)
    assert isinstance(model, ResidualCNN1d)
    return model.eval()


def _windows(n: int, c: int, length: int, seed: int) -> np.ndarray:
    """Windows with a per-window, per-channel level and spread (std ~ 5..30 around offsets of +-100)."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    shape = np.sin(2 * np.pi * rng.uniform(0.5, 3, (n, c, 1)) * t / length) + 0.3 * rng.standard_normal((n, c, length))
    x = shape * rng.uniform(5.0, 30.0, (n, c, 1)) + rng.uniform(-100, 100, (n, c, 1))
    return x.astype(np.float32)


@pytest.mark.parametrize("length", [8, 16, 25, 33, 64])
def test_output_shapes_for_several_lengths(length: int) -> None:
    model = _cnn()
    with torch.no_grad():
        out = model(torch.randn(2, 3, length))
        emb = model.embed(torch.randn(2, 3, length))
    assert list(out) == ["activity", "speed"]
    assert out["activity"].shape == (2, 3) and out["speed"].shape == (2,)
    assert emb.shape == (2, 64)


def test_single_input_whatever_the_amplitude_option() -> None:
    assert _cnn().input_names == ("windows",)
    assert _cnn(amplitude_features=False).input_names == ("windows",)
    assert _cnn().has_amplitude  # the default fuses amplitude statistics
    assert not _cnn(amplitude_features=False).has_amplitude
    assert model_input_kind("cnn1d") == "raw"
    with pytest.raises(ValueError, match=re.escape("ResidualCNN1d reads 1 input(s) ['windows'], got 2")):
        _cnn()(torch.zeros(1, 3, 16), torch.zeros(1, 3, 16))


def test_batch_of_one_keeps_batch_dim() -> None:
    with torch.no_grad():
        assert _cnn()(torch.zeros(1, 3, 16))["speed"].shape == (1,)


def test_parameter_count_by_hand() -> None:
    # C = 3, w = 4, one block per stage, k = 5, embedding 64, heads 3 + 1
    stem = 3 * 4 * 7 + 2 * 4
    stage1 = 2 * (4 * 4 * 5) + 2 * (2 * 4)  # identity shortcut
    stage2 = 4 * 8 * 5 + 8 * 8 * 5 + 2 * 16 + (4 * 8 + 16)
    stage3 = 8 * 12 * 5 + 12 * 12 * 5 + 2 * 24 + (8 * 12 + 24)
    stage4 = 12 * 16 * 5 + 16 * 16 * 5 + 2 * 32 + (12 * 16 + 32)
    embedding = (2 * 16) * 64 + 64  # mean- and max-pooled 4 w features
    heads = 64 * 3 + 3 + 64 + 1
    plain = stem + stage1 + stage2 + stage3 + stage4 + embedding + heads
    assert n_params(_cnn(amplitude_features=False)) == plain == 7_096
    amplitude = (4 * 3) * 32 + 32 + (64 + 32) * 64 + 64
    assert n_params(_cnn(amplitude_features=True)) == plain + amplitude == 13_720
    assert n_params(build_model("cnn1d", 3, TASKS, width=4, blocks=2, amplitude_features=False)) > plain


def test_window_norm_backbone_is_invariant_to_per_window_affine_rescaling() -> None:
    x = _windows(4, 3, 32, seed=0)
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 4.0, (4, 3, 1)).astype(np.float32)
    b = rng.uniform(-200.0, 200.0, (4, 3, 1)).astype(np.float32)
    y = a * x + b
    # unfitted: eps = 1e-3 (input_scale 1), so (x - m) / (s + eps) is affine invariant to ~1e-4 for s >= 5;
    # fitted, eps = 1e-3 x the training std (~60 here, the offsets dominate) and the invariance is only ~1e-2
    model = _cnn(input_norm="window")
    with torch.no_grad():
        base = model.backbone_embed(torch.from_numpy(x))
        moved = model.backbone_embed(torch.from_numpy(y))
        full_base = model(torch.from_numpy(x))
        full_moved = model(torch.from_numpy(y))
    assert float(base.abs().max()) > 0.1  # not a trivially constant embedding
    torch.testing.assert_close(moved, base, rtol=1e-3, atol=1e-3)
    # the normalised input itself is (nearly) the same
    torch.testing.assert_close(model.normalise(torch.from_numpy(y)), model.normalise(torch.from_numpy(x)), rtol=1e-3, atol=1e-3)
    # with amplitude_features (the default) the FULL output sees the rescaling
    assert model.has_amplitude
    assert (full_moved["speed"] - full_base["speed"]).abs().max() > 1e-3
    # and a globally normalised backbone is not invariant either
    glob = _cnn(input_norm="global", amplitude_features=False)
    glob.fit_input_statistics(x)
    with torch.no_grad():
        assert (glob.backbone_embed(torch.from_numpy(y)) - glob.backbone_embed(torch.from_numpy(x))).abs().max() > 1e-2


def test_window_norm_without_amplitude_full_output_invariant() -> None:
    x = _windows(3, 3, 16, seed=2)
    y = 2.0 * x - 7.0
    model = _cnn(input_norm="window", amplitude_features=False)
    model.fit_input_statistics(x)
    with torch.no_grad():
        torch.testing.assert_close(model(torch.from_numpy(y))["activity"], model(torch.from_numpy(x))["activity"], rtol=1e-3, atol=1e-3)


def test_window_norm_flat_channel_maps_to_zero() -> None:
    x = _windows(5, 3, 16, seed=3)
    model = _cnn()
    model.fit_input_statistics(x)
    flat = torch.from_numpy(x[:1].copy())
    flat[0, 1] = 12.5
    z = model.normalise(flat)
    assert bool((z[0, 1] == 0).all())
    assert bool(torch.isfinite(z).all())
    # the window normalisation itself: (x - mean) / (std + 1e-3 * training std)
    xt = torch.from_numpy(x)
    mean = xt.mean(-1, keepdim=True)
    std = xt.std(-1, unbiased=False, keepdim=True)
    expected = (xt - mean) / (std + 1e-3 * model.input_scale[:, None])
    torch.testing.assert_close(model.normalise(xt), expected)


def test_global_norm_uses_fitted_training_statistics() -> None:
    x = _windows(6, 3, 20, seed=4)
    x[:, 2] = 9.0  # a constant channel
    model = _cnn(input_norm="global")
    assert model.input_loc.tolist() == [0.0, 0.0, 0.0] and model.input_scale.tolist() == [1.0, 1.0, 1.0]
    model.fit_input_statistics(x)
    mean, std = channel_statistics(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(std[:2], x64.std(axis=(0, 2))[:2], rtol=1e-6)
    assert std[2] == 1.0  # constant channel -> 1, not 0
    np.testing.assert_allclose(model.input_loc.numpy(), mean.astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(model.input_scale.numpy(), std.astype(np.float32), rtol=1e-6)
    xt = torch.from_numpy(x)
    expected = (xt - torch.from_numpy(mean).float()[:, None]) / torch.from_numpy(std).float()[:, None]
    torch.testing.assert_close(model.normalise(xt), expected)
    # the buffers (and the amplitude branch's) travel in the state_dict
    state = model.state_dict()
    assert {"input_loc", "input_scale", "amplitude.loc", "amplitude.scale"} <= set(state)
    clone = _cnn(seed=1, input_norm="global")
    clone.load_state_dict(state)
    torch.testing.assert_close(clone.input_loc, model.input_loc, rtol=0, atol=0)
    with torch.no_grad():
        torch.testing.assert_close(clone(xt)["speed"], model(xt)["speed"], rtol=0, atol=0)


def test_fit_input_statistics_also_fits_the_amplitude_branch() -> None:
    x = _windows(8, 3, 16, seed=5)
    model = _cnn()
    model.fit_input_statistics(x)
    stats = amplitude_statistics_numpy(x)
    np.testing.assert_allclose(model.amplitude.loc.numpy(), stats.mean(0), rtol=1e-6)  # type: ignore[union-attr]
    np.testing.assert_allclose(model.amplitude.scale.numpy(), stats.std(0), rtol=1e-6)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match=re.escape("fit_input_statistics: expected ['windows'], got 2 array(s)")):
        model.fit_input_statistics(x, x)


def test_channel_statistics_chunked_and_errors() -> None:
    x = _windows(7, 2, 8, seed=6)
    m1, s1 = channel_statistics(x, chunk=2)
    m2, s2 = channel_statistics(x)
    np.testing.assert_allclose(m1, m2, rtol=1e-12)
    np.testing.assert_allclose(s1, s2, rtol=1e-9)
    with pytest.raises(ValueError, match=re.escape("channel statistics need non-empty raw windows (n, C, L), got shape (0, 2, 8)")):
        channel_statistics(np.zeros((0, 2, 8), np.float32))
    with pytest.raises(ValueError, match=re.escape("got shape (2, 8)")):
        channel_statistics(np.zeros((2, 8), np.float32))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"width": 0}, "in_channels, width and blocks must be >= 1, got 3, 0, 1"),
        ({"blocks": 0}, "in_channels, width and blocks must be >= 1, got 3, 4, 0"),
        ({"kernel_size": 4}, "kernel_size must be a positive odd number, got 4"),
        ({"kernel_size": 0}, "kernel_size must be a positive odd number, got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ({"dropout": -0.1}, "dropout must be in [0, 1), got -0.1"),
        ({"input_norm": "batch"}, "input_norm must be 'window' or 'global', got 'batch'"),
    ],
)
def test_invalid_options(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        build_model("cnn1d", 3, TASKS, **{"width": 4, **options})


def test_invalid_channels_unknown_option_and_wrong_input() -> None:
    with pytest.raises(ValueError, match=re.escape("in_channels, width and blocks must be >= 1, got 0, 32, 1")):
        ResidualCNN1d(0, TASKS, amplitude_features=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'hidden_size'"):
        build_model("cnn1d", 3, TASKS, hidden_size=8)
    model = _cnn()
    with pytest.raises(ValueError, match=re.escape("ResidualCNN1d expects raw windows (b, 3, L), got (1, 4, 16)")):
        model.backbone_embed(torch.zeros(1, 4, 16))
    with pytest.raises(ValueError, match=re.escape("ResidualCNN1d expects raw windows (b, 3, L), got (3, 16)")):
        model.backbone_embed(torch.zeros(3, 16))


def test_deterministic_init() -> None:
    a, b, c = _cnn(seed=7), _cnn(seed=7), _cnn(seed=8)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        torch.testing.assert_close(va, vb, rtol=0, atol=0)
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
    x = torch.from_numpy(_windows(2, 3, 16, seed=9))
    with torch.no_grad():
        torch.testing.assert_close(a(x)["activity"], b(x)["activity"], rtol=0, atol=0)


def test_build_model_records_family_and_options() -> None:
    options = {"width": 4, "blocks": 2, "input_norm": "global"}
    model = build_model("cnn1d", 3, TASKS, **options)
    assert model.build_spec == {"name": "cnn1d", "in_channels": 3, "options": options}
    options["width"] = 99  # a copy, not the caller's dict
    assert model.build_spec["options"]["width"] == 4
    spec = model.build_spec
    rebuilt = build_model(spec["name"], spec["in_channels"], TASKS, **spec["options"])
    assert n_params(rebuilt) == n_params(model)
    assert rebuilt.input_norm == "global"
    assert build_model("cnn1d", 3, TASKS).build_spec == {"name": "cnn1d", "in_channels": 3, "options": {}}
    assert build_model("lstm", 3, TASKS, hidden_size=4).build_spec["name"] == "lstm"
    assert ResidualCNN1d(3, TASKS, width=4).build_spec is None  # constructed directly


def test_gradients_reach_every_parameter() -> None:
    model = _cnn(dropout=0.0).train()
    x = torch.from_numpy(_windows(4, 3, 16, seed=10))
    model.fit_input_statistics(x.numpy())
    out = model(x)
    (out["activity"].logsumexp(1).sum() + out["speed"].sum()).backward()
    assert [name for name, p in model.named_parameters() if p.grad is None] == []
