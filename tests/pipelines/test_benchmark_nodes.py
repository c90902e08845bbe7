"""Benchmark nodes on a tiny in-memory setup: a real Table II MobileNetV2 on 3 small float windows."""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
import torch

from insole_mtl.models.registry import TaskSpec, build_model
from insole_mtl.pipelines.benchmark.nodes import (
    evaluate_edge_models,
    export_edge_models,
    measure_efficiency,
    report_efficiency,
)

TASKS = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
PARAMS = {
    "warmup": 1, "repeats": 2, "threads": 1, "calibration_windows": 2, "accuracy_windows": None,
    "throughput_batch": 2, "throughput_repeats": 1, "single_task": True, "cuda": True, "memory": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = build_model("mobilenetv2", 14, TASKS).eval()
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 10.0)
    # 32 x 32 plots instead of 160 x 160 keep the test fast; the network is size-agnostic
    inputs = (np.random.default_rng(0).random((3, 14, 32, 32)) < 0.3).astype(np.float32)
    labels = pd.DataFrame({"activity": [0, 2, 1], "speed": [3.0, np.nan, 7.5], "weight": [np.nan, np.nan, 80.0]})
    onnx_model, onnx_int8 = export_edge_models(model, inputs, inputs, PARAMS)
    return model, inputs, labels, onnx_model, onnx_int8


def test_benchmark_stage_returns_every_key(setup):
    model, inputs, labels, onnx_model, onnx_int8 = setup
    assert onnx_model[:2] == b"\x08\x08" or len(onnx_model) > 1000  # an ONNX ModelProto
    assert 0 < len(onnx_int8) < len(onnx_model)
    figures = measure_efficiency(model, onnx_model, onnx_int8, inputs, PARAMS)
    edge = evaluate_edge_models(model, onnx_model, onnx_int8, inputs, labels, PARAMS)
    efficiency, metrics = report_efficiency(figures, edge)
    for key in [
        "params", "macs", "model_size_mb", "latency_ms_cpu_bs1", "latency_ms_onnx_bs1", "latency_ms_int8_bs1",
        "throughput_windows_per_s_torch", "throughput_windows_per_s_onnx", "throughput_windows_per_s_int8",
        "peak_rss_mb_torch_bs1", "peak_rss_mb_onnx_bs1", "peak_rss_mb_int8_bs1",
        "mtl_vs_single_latency_ratio", "mtl_vs_single_params_ratio", "speedup_int8_vs_onnx_bs1",
    ]:  # fmt: skip
        assert efficiency[key] > 0, key
    for engine in ("cpu", "onnx", "int8"):
        for suffix in ("_std", "_median", "_min"):
            assert efficiency[f"latency_ms_{engine}_bs1{suffix}"] >= 0
    assert "latency_ms_cuda_bs1" in efficiency  # None without a GPU
    assert (efficiency["latency_ms_cuda_bs1"] is None) == (not torch.cuda.is_available())
    assert 0.3 < efficiency["mtl_vs_single_params_ratio"] < 0.4  # shared backbone: ~1/3 of three models
    assert efficiency["onnx_vs_torch"]["within_tolerance"] is True
    assert efficiency["onnx_vs_torch"]["activity_class_agreement"] == 1.0
    cost = efficiency["int8_accuracy_cost"]
    assert set(cost) >= {"activity_accuracy_delta", "speed_mae_delta", "weight_mae_delta", "activity_prediction_agreement"}
    assert efficiency["paper"]["params"] == 97_300
    assert metrics["latency_ms_cpu_bs1"] == {"value": efficiency["latency_ms_cpu_bs1"], "step": 0}
    assert "single_task_params.activity" in metrics
    assert all(math.isfinite(m["value"]) for m in metrics.values())
    json.dumps(efficiency)  # efficiency.json must be serialisable


def test_disabled_int8_gives_empty_bytes_and_null_figures(setup):
    model, inputs, labels, onnx_model, _ = setup
    params = {**PARAMS, "int8": False, "memory": False, "single_task": False, "throughput_batch": 0}
    fp32, int8 = export_edge_models(model, inputs, inputs, params)
    assert int8 == b"" and len(fp32) > 0
    figures = measure_efficiency(model, fp32, int8, inputs, params)
    assert figures["latency_ms_int8_bs1"] is None and figures["latency_ms_onnx_bs1"] > 0
    assert evaluate_edge_models(model, fp32, int8, inputs, labels, params)["int8_accuracy_cost"] is None


def test_unknown_parameter_and_misaligned_labels_are_errors(setup):
    model, inputs, labels, onnx_model, onnx_int8 = setup
    with pytest.raises(ValueError, match=re.escape("unknown benchmark parameter(s) ['warmups']")):
        measure_efficiency(model, onnx_model, onnx_int8, inputs, {"warmups": 1})
    with pytest.raises(ValueError, match=re.escape("test.window_labels has 2 rows but test.recurrence_plots 3 windows")):
        evaluate_edge_models(model, onnx_model, onnx_int8, inputs, labels.iloc[:2], PARAMS)
