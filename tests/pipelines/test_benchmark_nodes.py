"""Benchmark nodes on tiny in-memory splits, for each kind of model input.

* ``paper``: the Table II MobileNetV2 on bit-packed 32 x 32 recurrence plots (its windows are not read);
* ``counts_amplitude``: a MobileNetV2 on 40 x 40 recurrence counts with ``amplitude_features`` (two inputs);
* ``cnn1d``: the residual 1-D CNN on raw windows, with EMPTY recurrence-plot arrays (the encoding stage
  skips the plots of a model that does not read them).
"""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models import TaskSpec, build_model
from insole_mtl.pipelines.benchmark.nodes import (
    evaluate_edge_models,
    export_edge_models,
    measure_efficiency,
    report_efficiency,
)
from insole_mtl.pipelines.benchmark.pipeline import create_pipeline

TASKS = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
PARAMS = {
    "warmup": 1, "repeats": 2, "threads": 1, "calibration_windows": 2, "accuracy_windows": None,
    "throughput_batch": 2, "throughput_repeats": 1, "single_task": True, "cuda": True, "memory": True,
}  # fmt: skip
CHANNELS = 4

#: case -> (registry name, options, window length, plot resolution (None = packed), expected model-ready shapes)
CASES = {
    "paper": ("mobilenetv2", {}, 32, None, {"recurrence_plots": [4, 32, 32]}),
    "counts_amplitude": (
        "mobilenetv2",
        {"bottlenecks": 3, "recurrence_cell": 4, "amplitude_features": True},
        160, 40, {"recurrence_plots": [4, 40, 40], "windows": [4, 160]},
    ),  # fmt: skip
    "cnn1d": ("cnn1d", {"width": 8}, 32, None, {"windows": [4, 32]}),
}
FORMATS = {"paper": {"recurrence_plots": "packed"}, "counts_amplitude": {"recurrence_plots": "counts", "windows": "raw"}, "cnn1d": {"windows": "raw"}}


def _split(name: str, length: int, resolution, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    windows = (60.0 + 15.0 * np.random.default_rng(seed).standard_normal((n, CHANNELS, length))).astype(np.float32)
    if name == "mobilenetv2":
        plots = encode_recurrence_plots(windows, percentage=20.0, resolution=resolution)
    else:  # no plots for a raw-signal model's run
        plots = np.zeros((0, CHANNELS, length, (length + 7) // 8), dtype=np.uint8)
    return plots, windows


@pytest.fixture(scope="module", params=list(CASES))
def setup(request):
    name, options, length, resolution, _ = CASES[request.param]
    torch.manual_seed(0)
    model = build_model(name, CHANNELS, TASKS, **options)
    train_plots, train_windows = _split(name, length, resolution, 5, seed=1)
    test_plots, test_windows = _split(name, length, resolution, 3, seed=2)
    model.fit_input_statistics(*({"recurrence_plots": train_plots, "windows": train_windows}[k] for k in model.input_names))
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 10.0)
    model.eval()
    labels = pd.DataFrame({"activity": [0, 2, 1], "speed": [3.0, np.nan, 7.5], "weight": [np.nan, np.nan, 80.0]})
    params = dict(PARAMS)
    if request.param == "cnn1d":
        params["memory"] = False  # the subprocess measurement runs in the two other cases; keep the test fast
    onnx_model, onnx_int8 = export_edge_models(model, train_plots, train_windows, test_plots, test_windows, params)
    return request.param, model, (test_plots, test_windows), labels, onnx_model, onnx_int8, params


def test_benchmark_stage_returns_every_key(setup):
    case, model, test, labels, onnx_model, onnx_int8, params = setup
    assert onnx_model[:2] == b"\x08\x08" or len(onnx_model) > 1000  # an ONNX ModelProto
    assert 0 < len(onnx_int8) < len(onnx_model)
    figures = measure_efficiency(model, onnx_model, onnx_int8, *test, params)
    edge = evaluate_edge_models(model, onnx_model, onnx_int8, *test, labels, params)
    efficiency, metrics = report_efficiency(figures, edge)
    keys = [
        "params", "macs", "model_size_mb", "latency_ms_cpu_bs1", "latency_ms_onnx_bs1", "latency_ms_int8_bs1",
        "throughput_windows_per_s_torch", "throughput_windows_per_s_onnx", "throughput_windows_per_s_int8",
        "mtl_vs_single_latency_ratio", "mtl_vs_single_params_ratio", "speedup_int8_vs_onnx_bs1",
    ]  # fmt: skip
    if params["memory"]:
        keys += ["peak_rss_mb_torch_bs1", "peak_rss_mb_onnx_bs1", "peak_rss_mb_int8_bs1"]
    for key in keys:
        assert efficiency[key] > 0, key
    for engine in ("cpu", "onnx", "int8"):
        for suffix in ("_std", "_median", "_min"):
            assert efficiency[f"latency_ms_{engine}_bs1{suffix}"] >= 0
    assert "latency_ms_cuda_bs1" in efficiency  # None without a GPU
    assert (efficiency["latency_ms_cuda_bs1"] is None) == (not torch.cuda.is_available())
    assert 0.3 < efficiency["mtl_vs_single_params_ratio"] < 0.4  # shared backbone: ~1/3 of three models
    # the inputs the model read, per-window model-ready shapes and how the split stores them
    assert efficiency["input_names"] == list(model.input_names)
    assert efficiency["input_shapes"] == CASES[case][4]
    assert efficiency["input_formats"] == FORMATS[case]
    assert efficiency["onnx_vs_torch"]["within_tolerance"] is True
    assert efficiency["onnx_vs_torch"]["activity_class_agreement"] == 1.0
    assert efficiency["accuracy_windows"] == 3
    cost = efficiency["int8_accuracy_cost"]
    assert set(cost) >= {"activity_accuracy_delta", "speed_mae_delta", "weight_mae_delta", "activity_prediction_agreement"}
    assert efficiency["paper"]["params"] == 97_300
    assert metrics["latency_ms_cpu_bs1"] == {"value": efficiency["latency_ms_cpu_bs1"], "step": 0}
    assert "single_task_params.activity" in metrics
    assert not any(key.startswith(("input_names", "input_shapes", "input_formats")) for key in metrics)
    assert all(math.isfinite(m["value"]) for m in metrics.values())
    json.dumps(efficiency)  # efficiency.json must be serialisable


def test_speed_ups_are_ratios_of_median_latencies():
    """One stalled int8 call (mean 0.28 ms) must not turn a 1.5x faster engine into a slower one."""
    figures = {
        "params": 1, "macs": 1, "model_size_mb": 0.1,
        "latency_ms_cpu_bs1": 2.0, "latency_ms_cpu_bs1_median": 1.5,
        "latency_ms_onnx_bs1": 0.21, "latency_ms_onnx_bs1_median": 0.2,
        "latency_ms_int8_bs1": 0.28, "latency_ms_int8_bs1_median": 0.125,
        "latency_ms_cuda_bs1": None,
    }  # fmt: skip
    efficiency, _ = report_efficiency(figures, {})
    assert efficiency["speedup_int8_vs_onnx_bs1"] == pytest.approx(1.6)
    assert efficiency["speedup_onnx_vs_torch_bs1"] == pytest.approx(7.5)
    assert efficiency["speedup_int8_vs_torch_bs1"] == pytest.approx(12.0)
    del figures["latency_ms_int8_bs1_median"]  # no median recorded: the mean
    assert report_efficiency(figures, {})[0]["speedup_int8_vs_onnx_bs1"] == pytest.approx(0.2 / 0.28)


def test_disabled_int8_gives_empty_bytes_and_null_figures(setup):
    case, model, test, labels, onnx_model, _, _ = setup
    params = {**PARAMS, "int8": False, "memory": False, "single_task": False, "throughput_batch": 0}
    # no training inputs are read without int8 calibration
    fp32, int8 = export_edge_models(model, None, None, *test, params)
    assert int8 == b"" and len(fp32) > 0
    figures = measure_efficiency(model, fp32, int8, *test, params)
    assert figures["latency_ms_int8_bs1"] is None and figures["latency_ms_onnx_bs1"] > 0
    assert evaluate_edge_models(model, fp32, int8, *test, labels, params)["int8_accuracy_cost"] is None


def test_unknown_parameter_and_misaligned_labels_are_errors(setup):
    case, model, test, labels, onnx_model, onnx_int8, _ = setup
    with pytest.raises(ValueError, match=re.escape("unknown benchmark parameter(s) ['warmups']")):
        measure_efficiency(model, onnx_model, onnx_int8, *test, {"warmups": 1})
    read = " and ".join(f"test.{name}" for name in model.input_names)
    with pytest.raises(ValueError, match=re.escape(f"test.window_labels has 2 rows but {read} 3 windows")):
        evaluate_edge_models(model, onnx_model, onnx_int8, *test, labels.iloc[:2], PARAMS)


def test_a_model_whose_input_is_empty_is_an_error(setup):
    case, model, test, labels, onnx_model, onnx_int8, _ = setup
    plots, windows = test
    reads = model.input_names
    empty = (plots[:0] if "recurrence_plots" in reads else plots, windows[:0] if "windows" in reads else windows)
    with pytest.raises(ValueError, match="which hold no windows"):
        measure_efficiency(model, onnx_model, onnx_int8, *empty, PARAMS)


@pytest.mark.filterwarnings("ignore:One or more dataset names contain")
def test_the_stage_reads_both_inputs_of_each_split():
    inputs = {node.name: node.inputs for node in create_pipeline().nodes}
    assert inputs["export_edge_models"][1:5] == [
        "train.recurrence_plots", "train_oversampled.windows", "test.recurrence_plots", "test.windows",
    ]  # fmt: skip
    assert inputs["measure_efficiency"][3:5] == ["test.recurrence_plots", "test.windows"]
    assert inputs["evaluate_edge_models"][3:6] == ["test.recurrence_plots", "test.windows", "test.window_labels"]
