"""Amplitude statistics of the raw window, the amplitude branch, and the two-input MobileNetV2."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch import nn

from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models import (
    AMPLITUDE_STATISTICS,
    AmplitudeBranch,
    ExportWrapper,
    MultitaskMobileNetV2,
    TaskSpec,
    amplitude_statistics,
    build_model,
)
from insole_mtl.models.amplitude import amplitude_statistics_numpy

ACTIVITY = TaskSpec("activity", "classification", 7)
SPEED = TaskSpec("speed", "regression", 1)
WEIGHT = TaskSpec("weight", "regression", 1)
TASKS = (ACTIVITY, SPEED, WEIGHT)
#: Table II network with the paper's three heads (tests/models/test_mobilenet.py)
TABLE_II_PARAMETERS = 93_417


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _windows(n: int, c: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (n, c, length)) * rng.uniform(0.5, 20.0, (n, c, 1)) + rng.uniform(-50, 50, (n, c, 1))
    return x.astype(np.float32)


# ------------------------------------------------------------------------------ statistics
def test_amplitude_statistics_exact_and_channel_major() -> None:
    x = torch.tensor([[[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 4.0]]])  # (1, 2, 4)
    stats = amplitude_statistics(x)
    assert stats.shape == (1, 8) and stats.dtype == torch.float32
    # c0: mean 3, std sqrt((4 + 1 + 0 + 9) / 4) (ddof 0), min 1, max 6; c1: mean 2, std 2, min 0, max 4
    expected = torch.tensor([[3.0, math.sqrt(3.5), 1.0, 6.0, 2.0, 2.0, 0.0, 4.0]])
    torch.testing.assert_close(stats, expected, rtol=0, atol=1e-6)
    assert AMPLITUDE_STATISTICS == ("mean", "std", "min", "max")
    # integer windows are cast to float32
    torch.testing.assert_close(amplitude_statistics(x.to(torch.int64)), expected, rtol=0, atol=1e-6)


def test_amplitude_statistics_batch_rows_are_independent() -> None:
    x = torch.from_numpy(_windows(5, 3, 16, seed=0))
    stats = amplitude_statistics(x)
    for i in range(5):
        torch.testing.assert_close(stats[i : i + 1], amplitude_statistics(x[i : i + 1]))
    # one statistic block per channel, in AMPLITUDE_STATISTICS order
    blocks = stats.reshape(5, 3, 4)
    torch.testing.assert_close(blocks[..., 2], x.amin(-1))
    torch.testing.assert_close(blocks[..., 3], x.amax(-1))
    torch.testing.assert_close(blocks[..., 1], x.std(-1, unbiased=False), rtol=1e-5, atol=1e-5)


def test_amplitude_statistics_wrong_shape() -> None:
    with pytest.raises(ValueError, match=re.escape("amplitude statistics expect raw windows (b, C, L), got shape (2, 4)")):
        amplitude_statistics(torch.zeros(2, 4))
    with pytest.raises(ValueError, match=re.escape("amplitude statistics expect raw windows (n, C, L), got shape (2, 4)")):
        amplitude_statistics_numpy(np.zeros((2, 4)))


def test_numpy_statistics_equal_torch_and_are_float64() -> None:
    x = _windows(9, 3, 20, seed=1)
    got = amplitude_statistics_numpy(x)
    assert got.dtype == np.float64 and got.shape == (9, 12)
    np.testing.assert_allclose(got, amplitude_statistics(torch.from_numpy(x)).double().numpy(), rtol=1e-5, atol=1e-4)
    # the exact float64 values
    x64 = x.astype(np.float64)
    expected = np.stack([x64.mean(-1), x64.std(-1), x64.min(-1), x64.max(-1)], axis=-1).reshape(9, 12)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("chunk", [1, 2, 4, 4096])
def test_numpy_statistics_chunk_independent(chunk: int) -> None:
    x = _windows(9, 2, 8, seed=2)
    np.testing.assert_array_equal(amplitude_statistics_numpy(x, chunk=chunk), amplitude_statistics_numpy(x))


def test_numpy_statistics_memmap_list_and_empty(tmp_path) -> None:
    x = _windows(5, 2, 8, seed=3)
    path = tmp_path / "w.npy"
    np.save(path, x)
    mapped = np.load(path, mmap_mode="r")
    np.testing.assert_array_equal(amplitude_statistics_numpy(mapped, chunk=2), amplitude_statistics_numpy(x))
    np.testing.assert_array_equal(amplitude_statistics_numpy(x.tolist()), amplitude_statistics_numpy(x))
    empty = amplitude_statistics_numpy(np.zeros((0, 3, 8), np.float32))
    assert empty.shape == (0, 12)


# --------------------------------------------------------------------------------- branch
def test_branch_fit_sets_training_statistics() -> None:
    x = _windows(12, 2, 10, seed=4)
    branch = AmplitudeBranch(2, out_dim=5)
    branch.fit(x)
    stats = amplitude_statistics_numpy(x)
    np.testing.assert_allclose(branch.loc.numpy(), stats.mean(0), rtol=1e-6)
    np.testing.assert_allclose(branch.scale.numpy(), stats.std(0), rtol=1e-6)
    assert branch.loc.dtype == torch.float32 and branch.scale.dtype == torch.float32
    assert branch.loc.shape == (8,)
    # standardised statistics of the training windows: mean 0, std 1 per statistic
    z = branch.standardised(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(z.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(0), 1.0, rtol=1e-5)


def test_branch_constant_statistic_gets_scale_one() -> None:
    x = _windows(6, 2, 8, seed=5)
    x[:, 1] = 4.0  # channel 1 constant in every window: mean 4, std 0, min 4, max 4 across windows
    branch = AmplitudeBranch(2)
    branch.fit(x)
    assert branch.scale[4:].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert branch.loc[4:].tolist() == [4.0, 0.0, 4.0, 4.0]
    assert bool((branch.scale[:4] != 1.0).all())
    z = branch.standardised(torch.from_numpy(x))
    assert bool((z[:, 4:] == 0).all())  # centred, not divided by ~0


def test_branch_standardised_and_forward_exact() -> None:
    torch.manual_seed(0)
    branch = AmplitudeBranch(2, out_dim=3)
    branch.loc.copy_(torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]))
    branch.scale.copy_(torch.tensor([2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0]))
    x = torch.tensor([[[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 4.0]]])
    stats = torch.tensor([[3.0, math.sqrt(3.5), 1.0, 6.0, 2.0, 2.0, 0.0, 4.0]])
    expected = (stats - branch.loc) / branch.scale
    torch.testing.assert_close(branch.standardised(x), expected)
    torch.testing.assert_close(branch(x), torch.relu(branch.project[0](expected)))
    assert branch(x).shape == (1, 3)


def test_branch_buffers_travel_in_state_dict() -> None:
    x = _windows(7, 3, 8, seed=6)
    torch.manual_seed(0)
    source = AmplitudeBranch(3, out_dim=4)
    source.fit(x)
    state = source.state_dict()
    assert {"loc", "scale"} <= set(state)
    torch.manual_seed(1)
    target = AmplitudeBranch(3, out_dim=4)
    assert not torch.equal(target.loc, source.loc)
    target.load_state_dict(state)
    torch.testing.assert_close(target.loc, source.loc, rtol=0, atol=0)
    torch.testing.assert_close(target.scale, source.scale, rtol=0, atol=0)
    torch.testing.assert_close(target(torch.from_numpy(x)), source(torch.from_numpy(x)), rtol=0, atol=0)


def test_branch_errors() -> None:
    branch = AmplitudeBranch(2)
    msg = "AmplitudeBranch.fit expects non-empty raw windows (n, 2, L), got shape (3, 3, 8)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        branch.fit(np.zeros((3, 3, 8), np.float32))
    with pytest.raises(ValueError, match=re.escape("non-empty raw windows (n, 2, L), got shape (0, 2, 8)")):
        branch.fit(np.zeros((0, 2, 8), np.float32))
    with pytest.raises(ValueError, match=re.escape("non-empty raw windows (n, 2, L), got shape (2, 8)")):
        branch.fit(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError, match=re.escape("AmplitudeBranch expects raw windows (b, 2, L), got (1, 3, 8)")):
        branch(torch.zeros(1, 3, 8))
    with pytest.raises(ValueError, match=re.escape("AmplitudeBranch: channels and out_dim must be >= 1, got 0 and 32")):
        AmplitudeBranch(0)
    with pytest.raises(ValueError, match=re.escape("got 2 and 0")):
        AmplitudeBranch(2, out_dim=0)


# ---------------------------------------------------------------- two-input MobileNetV2
def _amplitude_mobilenet(seed: int = 0, **options: object) -> MultitaskMobileNetV2:
    torch.manual_seed(seed)
    options = {"amplitude_features": True, "recurrence_cell": 4, **options}
    model = build_model("mobilenetv2", 2, TASKS, **options)
    assert isinstance(model, MultitaskMobileNetV2)
    return model.eval()


def _exact_windows(n: int, seed: int) -> np.ndarray:
    """(n, 2, 16) windows with few mantissa bits: 3 x + 5 stays exact in float32."""
    rng = np.random.default_rng(seed)
    return (np.round(rng.normal(0, 4, (n, 2, 16)) * 8) / 8).astype(np.float32)


def test_amplitude_mobilenet_inputs_and_shapes() -> None:
    model = _amplitude_mobilenet()
    assert model.input_names == ("recurrence_plots", "windows")
    assert model.has_amplitude and model.recurrence_cell == 4
    assert model.build_spec == {"name": "mobilenetv2", "in_channels": 2, "options": {"amplitude_features": True, "recurrence_cell": 4}}
    windows = _exact_windows(3, 0)
    counts = encode_recurrence_plots(windows, resolution=4)  # (3, 2, 4, 4) counts in 0..16
    assert counts.shape == (3, 2, 4, 4)
    with torch.no_grad():
        out = model(torch.from_numpy(counts), torch.from_numpy(windows))
        emb = model.embed(torch.from_numpy(counts), torch.from_numpy(windows))
    assert list(out) == ["activity", "speed", "weight"]
    assert out["activity"].shape == (3, 7) and out["speed"].shape == (3,) and out["weight"].shape == (3,)
    assert emb.shape == (3, 64)
    assert bool((emb >= 0).all()) and bool((emb <= 6).all())  # fusion ends in ReLU6


def test_amplitude_mobilenet_needs_both_inputs() -> None:
    model = _amplitude_mobilenet()
    counts = torch.zeros(1, 2, 4, 4)
    msg = "MultitaskMobileNetV2 reads 2 input(s) ['recurrence_plots', 'windows'], got 1"
    with pytest.raises(ValueError, match=re.escape(msg)):
        model(counts)
    with pytest.raises(ValueError, match=re.escape("AmplitudeBranch expects raw windows (b, 2, L), got (1, 3, 16)")):
        model(counts, torch.zeros(1, 3, 16))


def test_amplitude_changes_outputs_the_plots_cannot_see() -> None:
    windows = _exact_windows(4, 1)
    rescaled = windows * np.float32(3.0) + np.float32(5.0)
    np.testing.assert_array_equal((rescaled - np.float32(5.0)) / np.float32(3.0), windows)  # exact
    counts = encode_recurrence_plots(windows, resolution=4)
    # the plots are blind to the per-window affine rescaling ...
    np.testing.assert_array_equal(encode_recurrence_plots(rescaled, resolution=4), counts)
    plots = torch.from_numpy(counts)
    model = _amplitude_mobilenet()
    model.fit_input_statistics(counts, windows)
    with torch.no_grad():
        base = model(plots, torch.from_numpy(windows))
        moved = model(plots, torch.from_numpy(rescaled))
        same = model(plots, torch.from_numpy(windows.copy()))
    # ... the amplitude branch is not
    for name in ("activity", "speed", "weight"):
        torch.testing.assert_close(same[name], base[name], rtol=0, atol=0)
        assert (moved[name] - base[name]).abs().max() > 1e-6, name
    # a model without the option gives the same outputs for the same plots whatever the window
    torch.manual_seed(0)
    plain = build_model("mobilenetv2", 2, TASKS, recurrence_cell=4).eval()
    assert plain.input_names == ("recurrence_plots",)
    with torch.no_grad():
        torch.testing.assert_close(plain(plots)["speed"], plain(torch.from_numpy(encode_recurrence_plots(rescaled, resolution=4)))["speed"])


def test_fit_input_statistics_fits_amplitude_from_windows() -> None:
    windows = _windows(10, 2, 16, seed=7)
    counts = encode_recurrence_plots(windows, resolution=4)
    model = _amplitude_mobilenet()
    model.fit_input_statistics(counts, windows)
    stats = amplitude_statistics_numpy(windows)
    assert model.amplitude is not None
    np.testing.assert_allclose(model.amplitude.loc.numpy(), stats.mean(0), rtol=1e-6)
    np.testing.assert_allclose(model.amplitude.scale.numpy(), stats.std(0), rtol=1e-6)
    state = model.state_dict()
    torch.testing.assert_close(state["amplitude.loc"], model.amplitude.loc)
    torch.testing.assert_close(state["amplitude.scale"], model.amplitude.scale)
    with pytest.raises(ValueError, match=re.escape("fit_input_statistics: expected ['recurrence_plots', 'windows'], got 1 array(s)")):
        model.fit_input_statistics(windows)


def test_plain_mobilenet_ignores_fit_and_has_one_input() -> None:
    model = build_model("mobilenetv2", 14, TASKS)
    assert model.input_names == ("recurrence_plots",) and not model.has_amplitude
    assert model.amplitude is None and model.fusion is None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.fit_input_statistics(np.zeros((2, 14, 8, 1), np.uint8))  # nothing to fit
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    with pytest.raises(ValueError, match=re.escape("fit_input_statistics: expected ['recurrence_plots'], got 2 array(s)")):
        model.fit_input_statistics(np.zeros((2, 14, 8, 1), np.uint8), np.zeros((2, 14, 8), np.float32))


def test_parameter_counts_with_and_without_amplitude() -> None:
    plain = build_model("mobilenetv2", 14, TASKS)
    assert n_params(plain) == TABLE_II_PARAMETERS
    assert n_params(build_model("mobilenetv2", 14, TASKS, recurrence_cell=4)) == TABLE_II_PARAMETERS  # a buffer, no parameter
    amplitude = build_model("mobilenetv2", 14, TASKS, amplitude_features=True)
    branch = 4 * 14 * 32 + 32  # Linear(4 C, 32)
    fusion = (64 + 32) * 64 + 64  # Linear(64 + 32, 64)
    assert n_params(amplitude) == TABLE_II_PARAMETERS + branch + fusion == 101_449


def test_recurrence_cell_scales_counts_by_one_over_k_squared() -> None:
    torch.manual_seed(0)
    cell4 = MultitaskMobileNetV2(2, TASKS, recurrence_cell=4).eval()
    cell1 = MultitaskMobileNetV2(2, TASKS, recurrence_cell=1).eval()
    state = cell4.state_dict()
    assert float(state["recurrence_rate_scale"]) == 1 / 16  # a checkpoint says which plots it was trained on
    cell1.load_state_dict({k: v for k, v in state.items() if k != "recurrence_rate_scale"}, strict=False)
    counts = torch.from_numpy(encode_recurrence_plots(_windows(3, 2, 16, seed=8), resolution=4))  # uint8
    with torch.no_grad():
        a = cell4(counts)
        b = cell1(counts.float() / 16)
        unscaled = cell1(counts.float())
        from_float = cell4(counts.float())
    for name in ("activity", "speed", "weight"):
        torch.testing.assert_close(a[name], b[name])
        torch.testing.assert_close(from_float[name], a[name], rtol=0, atol=0)  # uint8 or float counts alike
    assert not torch.allclose(unscaled["speed"], a["speed"])


def test_recurrence_cell_three_and_amplitude_two_input_export() -> None:
    torch.manual_seed(0)
    cell3 = MultitaskMobileNetV2(2, TASKS, recurrence_cell=3, amplitude_features=True).eval()
    cell1 = MultitaskMobileNetV2(2, TASKS, recurrence_cell=1, amplitude_features=True).eval()
    cell1.load_state_dict(cell3.state_dict())
    counts = torch.randint(0, 10, (2, 2, 5, 5), dtype=torch.uint8)
    windows = torch.from_numpy(_windows(2, 2, 15, seed=9))
    with torch.no_grad():
        torch.testing.assert_close(cell3(counts, windows)["weight"], cell1(counts.float() / 9, windows)["weight"])
        cell3.set_target_scaling("weight", 70.0, 10.0)
        exported = ExportWrapper(cell3)(counts, windows)
        expected = cell3.predict(counts, windows)
    assert len(exported) == 3
    torch.testing.assert_close(exported[2], expected["weight"])


@pytest.mark.parametrize("cell", [0, -1, 2.5, True])
def test_recurrence_cell_invalid(cell: object) -> None:
    with pytest.raises(ValueError, match=re.escape(f"recurrence_cell must be an int >= 1, got {cell!r}")):
        MultitaskMobileNetV2(2, TASKS, recurrence_cell=cell)  # type: ignore[arg-type]


def test_amplitude_mobilenet_deterministic_init() -> None:
    a, b = _amplitude_mobilenet(seed=3), _amplitude_mobilenet(seed=3)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        torch.testing.assert_close(va, vb, rtol=0, atol=0)
    c = _amplitude_mobilenet(seed=4)
    assert not torch.equal(a.amplitude.project[0].weight, c.amplitude.project[0].weight)  # type: ignore[union-attr]


def test_gradients_reach_the_amplitude_branch() -> None:
    model = _amplitude_mobilenet().train()
    windows = _windows(4, 2, 16, seed=10)
    model.fit_input_statistics(encode_recurrence_plots(windows, resolution=4), windows)
    out = model(torch.from_numpy(encode_recurrence_plots(windows, resolution=4)), torch.from_numpy(windows))
    (out["activity"].logsumexp(1).sum() + out["speed"].sum() + out["weight"].sum()).backward()
    missing = [name for name, p in model.named_parameters() if p.grad is None]
    assert missing == []
    assert float(model.amplitude.project[0].weight.grad.abs().sum()) > 0  # type: ignore[union-attr]


def test_amplitude_linear_starts_at_zero_and_can_hold_the_mean_force_line():
    import pytest
    import re

    from insole_mtl.models import TaskSpec, build_model

    tasks = [TaskSpec("activity", "classification", 2), TaskSpec("weight", "regression", 1)]
    torch.manual_seed(0)
    plain = build_model("cnn1d", 2, tasks)
    torch.manual_seed(0)
    linear = build_model("cnn1d", 2, tasks, amplitude_linear=True)
    assert list(linear.amplitude_linear) == ["weight"]  # regression heads only
    windows = np.stack([np.full((2, 8), v, dtype=np.float32) for v in (1.0, 2.0, 3.0, 5.0)])
    for model in (plain, linear):
        model.fit_input_statistics(windows)
        model.eval()
    x = torch.from_numpy(windows)
    # zero-initialised: the same outputs as the model without the path
    torch.testing.assert_close(linear(x)["weight"], plain(x)["weight"], rtol=0, atol=0)
    # one setting of the path adds a * (standardised mean of channel 0) to the weight output
    with torch.no_grad():
        linear.amplitude_linear["weight"].weight[0, 0] = 2.0
    means = (windows[:, 0].mean(-1) - windows[:, 0].mean()) / windows[:, 0].mean(-1).std()
    torch.testing.assert_close(linear(x)["weight"] - plain(x)["weight"], torch.from_numpy(2.0 * means).float(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=re.escape("amplitude_linear: true needs amplitude_features: true (it reads the amplitude statistics)")):
        build_model("cnn1d", 2, tasks, amplitude_features=False, amplitude_linear=True)


def test_fit_amplitude_linear_is_the_ridge_fit_on_the_labelled_training_windows():
    from insole_mtl.models import TaskSpec, build_model

    model = build_model("cnn1d", 2, [TaskSpec("weight", "regression", 1)], amplitude_linear=True)
    level = np.array([1.0, 2.0, 3.0, 5.0, 8.0])
    windows = np.stack([np.stack([np.full(8, v), np.full(8, 10.0 - v)]) for v in level]).astype(np.float32)
    windows[:, 1] += np.array([0.3, -0.2, 0.1, 0.0, 0.4], dtype=np.float32)[:, None]  # not collinear with channel 0
    model.fit_input_statistics(windows)
    z0 = (level - level.mean()) / level.std()
    y = 3.0 * z0 - 0.5
    y[2] = np.nan  # an unlabelled window is left out of the fit
    model.fit_amplitude_linear(windows, {"weight": y}, ridge=0.0)
    model.eval()
    with torch.no_grad():
        path = model.amplitude_linear["weight"](
            ((torch.from_numpy(windows).mean(-1) - model.amplitude.loc[0::4]) / model.amplitude.scale[0::4])
        ).squeeze(-1)
    keep = np.isfinite(y)
    np.testing.assert_allclose(path.numpy()[keep], y[keep], atol=1e-4)
    # a ridge penalty shrinks the fit towards the mean target
    model.fit_amplitude_linear(windows, {"weight": y}, ridge=10.0)
    assert 0 < float(model.amplitude_linear["weight"].weight.detach().abs().sum()) < 3.0
