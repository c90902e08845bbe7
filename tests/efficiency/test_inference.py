import re
from collections.abc import Mapping

import numpy as np
import pytest
import torch

from insole_mtl.efficiency.inference import (
    BenchmarkConfig,
    compare_mtl_to_single,
    input_shapes,
    measure_inference,
    mobilenet_options,
    model_arrays,
    model_build_spec,
    model_inputs,
    random_inputs,
    repeat_batch,
    single_task_models,
)
from insole_mtl.encoding.recurrence import encode_recurrence_plots, unpack_recurrence_plots
from insole_mtl.models import EnsembleModel, TaskSpec, build_model
from insole_mtl.efficiency.complexity import count_parameters

TASKS = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
SMALL = {"bottlenecks": [(2, 8, 1, 1)], "stem_channels": 8, "last_channels": 16, "embedding_dim": 8}


def _windows(n: int, length: int = 32, channels: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, channels, length)).astype(np.float32)


def _built(name: str, channels: int, tasks, **options):
    """build_model in eval mode (the registry records the model's build_spec)."""
    return build_model(name, channels, tasks, **options).eval()


class _Refusing(Mapping):
    """Split arrays whose plots must never be read (a raw-signal model's run has none)."""

    def __init__(self, windows):
        self._windows = windows

    def __getitem__(self, key):
        if key != "windows":
            raise AssertionError(f"read {key!r}, which the model does not read")
        return self._windows

    def __iter__(self):
        return iter(("recurrence_plots", "windows"))

    def __len__(self):
        return 2

    def __contains__(self, key):
        return key in ("recurrence_plots", "windows")


def test_config_defaults_and_errors():
    assert BenchmarkConfig.from_params({"threads": None, "repeats": 5}) == BenchmarkConfig(repeats=5)
    with pytest.raises(ValueError, match=re.escape("benchmark.int8 needs benchmark.onnx")):
        BenchmarkConfig(onnx=False)
    with pytest.raises(ValueError, match=re.escape("benchmark.warmup must be >= 0 and benchmark.repeats >= 1, got 10, 0")):
        BenchmarkConfig(repeats=0)


def test_model_inputs_of_every_stored_form():
    windows = _windows(5)
    packed = encode_recurrence_plots(windows, percentage=20.0)  # (5, 4, 32, 4) uint8
    counts = encode_recurrence_plots(windows, percentage=20.0, resolution=8)  # (5, 4, 8, 8) uint8
    paper = build_model("mobilenetv2", 4, TASKS, **SMALL)
    (plots,) = model_inputs(paper, {"recurrence_plots": packed, "windows": windows}, [1, 3])
    assert plots.shape == (2, 4, 32, 32) and plots.dtype == torch.float32
    np.testing.assert_array_equal(plots.numpy(), unpack_recurrence_plots(packed[[1, 3]], 32))
    amplitude = build_model("mobilenetv2", 4, TASKS, **SMALL, recurrence_cell=4, amplitude_features=True)
    got = model_inputs(amplitude, {"recurrence_plots": counts, "windows": windows}, [4])
    assert [tuple(x.shape) for x in got] == [(1, 4, 8, 8), (1, 4, 32)]
    np.testing.assert_array_equal(got[0].numpy(), counts[[4]].astype(np.float32))  # counts: the model scales them
    np.testing.assert_array_equal(got[1].numpy(), windows[[4]])
    # a raw-signal model never touches the (empty) plots
    cnn = build_model("cnn1d", 4, TASKS, width=8)
    (raw,) = model_inputs(cnn, _Refusing(windows))
    assert raw.shape == (5, 4, 32) and raw.dtype == torch.float32
    # float plots pass through
    (x,) = model_inputs(("recurrence_plots",), {"recurrence_plots": np.ones((4, 2, 8, 8), dtype=np.float32)}, [1, 3])
    assert x.shape == (2, 2, 8, 8) and x.dtype == torch.float32


def test_model_inputs_work_on_memory_maps(tmp_path):
    windows = _windows(4)
    np.save(tmp_path / "w.npy", windows)
    mapped = np.load(tmp_path / "w.npy", mmap_mode="r")
    (raw,) = model_inputs(("windows",), {"windows": mapped})
    np.testing.assert_array_equal(raw.numpy(), windows)


def test_model_arrays_errors_name_the_inputs():
    amplitude = build_model("mobilenetv2", 4, TASKS, **SMALL, recurrence_cell=4, amplitude_features=True)
    counts = np.zeros((3, 4, 8, 8), np.uint8)
    with pytest.raises(ValueError, match=re.escape("the model reads inputs ['recurrence_plots', 'windows']; no array for ['windows']")):
        model_arrays(amplitude, {"recurrence_plots": counts})
    with pytest.raises(ValueError, match=re.escape("inputs ['recurrence_plots', 'windows'] hold different numbers of windows: [3, 2]")):
        model_arrays(amplitude, {"recurrence_plots": counts, "windows": _windows(2)})
    with pytest.raises(ValueError, match=re.escape("input 'windows' must be (n, C, L) raw windows, got shape (3, 4, 8, 8)")):
        model_arrays(("windows",), {"windows": counts})


def test_random_inputs_and_batches_follow_the_input_names():
    amplitude = build_model("mobilenetv2", 4, TASKS, **SMALL, recurrence_cell=4, amplitude_features=True)
    plots, windows = random_inputs(amplitude, 2, window_length=32)
    assert plots.shape == (2, 4, 8, 8) and 0 <= float(plots.min()) and float(plots.max()) <= 16
    assert windows.shape == (2, 4, 32)
    assert input_shapes((plots[:1], windows[:1])) == ((4, 8, 8), (4, 32))
    batch = repeat_batch((plots[:1], windows[:1]), 3)
    assert [tuple(x.shape) for x in batch] == [(3, 4, 8, 8), (3, 4, 32)]
    assert torch.equal(batch[1][2], windows[0])


def test_single_task_models_share_the_mtl_architecture():
    mtl = build_model("mobilenetv2", 14, TASKS, stem_kernel=3, bottlenecks=3)
    singles = single_task_models(mtl)  # read back from the modules: no build_spec needed for MobileNetV2
    assert [m.task_names for m in singles] == [("activity",), ("speed",), ("weight",)]
    assert all(mobilenet_options(m) == mobilenet_options(mtl) for m in singles)
    heads = sum(p.numel() for p in mtl.heads.parameters())
    backbone = count_parameters(mtl) - heads
    assert sum(count_parameters(m) for m in singles) == 3 * backbone + heads


@pytest.mark.parametrize(
    ("name", "options"),
    [("mobilenetv2", {**SMALL, "recurrence_cell": 4, "amplitude_features": True}), ("cnn1d", {"width": 8}), ("gru", {"hidden_size": 8})],
)
def test_single_task_models_are_of_the_same_family_and_options(name, options):
    mtl = _built(name, 4, TASKS, **options)
    singles = single_task_models(mtl)
    assert all(type(m) is type(mtl) and m.input_names == mtl.input_names for m in singles)
    heads = sum(p.numel() for p in mtl.heads.parameters())
    assert sum(count_parameters(m) for m in singles) == 3 * (count_parameters(mtl) - heads) + heads
    if name == "mobilenetv2":  # without build_spec a MobileNetV2 is read back, amplitude fusion and cell included
        del mtl.build_spec
        assert model_build_spec(mtl)[2]["amplitude_features"] is True and model_build_spec(mtl)[2]["recurrence_cell"] == 4


def test_a_model_without_build_spec_is_a_clear_error():
    cnn = build_model("cnn1d", 4, TASKS, width=8)
    assert cnn.build_spec == {"name": "cnn1d", "in_channels": 4, "options": {"width": 8}}
    cnn.build_spec = None  # a model constructed directly (or pickled before build_spec existed)
    with pytest.raises(ValueError, match=re.escape("no `build_spec` attribute")):
        single_task_models(cnn)


FAST = BenchmarkConfig(warmup=0, repeats=2, threads=1, onnx=False, int8=False, throughput_batch=2, throughput_repeats=1, cuda=False, memory=False)


@pytest.mark.parametrize("name", ["counts_amplitude", "cnn1d"])
def test_measure_inference_takes_a_tuple_example(name):
    if name == "cnn1d":
        model = _built("cnn1d", 4, TASKS, width=8)
    else:
        model = _built("mobilenetv2", 4, TASKS, **SMALL, recurrence_cell=4, amplitude_features=True)
    example = tuple(x[:1] for x in random_inputs(model, 1, window_length=32))
    result = measure_inference(model, example, FAST, extra_torch_variants=True)
    assert result["input_names"] == list(model.input_names)
    assert result["latency_ms_cpu_bs1"] > 0 and result["throughput_windows_per_s_torch"] > 0
    assert result["latency_ms_cpu_bs1_bn_folded"] > 0
    # channels_last only applies to 4-D inputs
    assert (result["latency_ms_cpu_bs1_channels_last"] is None) == (name == "cnn1d")
    assert result["mtl_vs_single_latency_ratio"] > 0 and 0.3 < result["mtl_vs_single_params_ratio"] < 0.4
    with pytest.raises(ValueError, match=re.escape("example must be one window (1, ...) per input")):
        measure_inference(model, tuple(x.expand(2, *x.shape[1:]) for x in example), FAST)


def test_an_ensembles_single_task_models_are_ensembles_of_the_same_size():
    members = [_built("cnn1d", 4, TASKS, width=8) for _ in range(2)]
    mtl = EnsembleModel(members)
    singles = single_task_models(mtl)
    assert all(isinstance(m, EnsembleModel) and len(m.members) == 2 for m in singles)
    heads = sum(p.numel() for p in members[0].heads.parameters())
    assert sum(count_parameters(m) for m in singles) == 2 * (3 * (count_parameters(members[0]) - heads) + heads)


def test_mtl_vs_single_latency_ratio_is_by_medians(monkeypatch):
    """One stalled call moves a mean, not a median: the ratio reads the medians, the means' ratio sits beside it."""
    import insole_mtl.efficiency.inference as inference

    model = _built("cnn1d", 4, TASKS, width=8)
    # the MTL model first, then one single-task model per task (the order compare_mtl_to_single times them)
    figures = iter([{"mean": 6.0, "median": 1.0}, {"mean": 1.0, "median": 1.0}, {"mean": 9.0, "median": 1.0}, {"mean": 2.0, "median": 2.0}])
    monkeypatch.setattr(inference, "torch_latency", lambda *args, **kwargs: next(figures))
    result = compare_mtl_to_single(model, random_inputs(model, 1, window_length=32), warmup=0, repeats=1)
    assert result["mtl_vs_single_latency_ratio"] == 0.25
    assert result["mtl_vs_single_latency_ratio_means"] == 0.5
    assert result["single_task_latency_ms_cpu_bs1"] == {"activity": 1.0, "speed": 9.0, "weight": 2.0}
    assert result["single_task_latency_ms_cpu_bs1_median"] == {"activity": 1.0, "speed": 1.0, "weight": 2.0}
    assert (result["three_single_task_latency_ms_cpu_bs1"], result["three_single_task_latency_ms_cpu_bs1_median"]) == (12.0, 4.0)
    assert (result["mtl_latency_ms_cpu_bs1"], result["mtl_latency_ms_cpu_bs1_median"]) == (6.0, 1.0)
