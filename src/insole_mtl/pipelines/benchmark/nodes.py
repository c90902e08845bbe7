"""Efficiency benchmark nodes (SPEC §7, paper Table V; issue #5 edge deployment).

``export_edge_models`` -> ONNX fp32 + int8 models (06_models); ``measure_efficiency`` -> size, MACs,
latencies (PyTorch, ONNX Runtime fp32/int8, CUDA), throughput, peak memory, MTL vs single-task;
``evaluate_edge_models`` -> ONNX-vs-PyTorch agreement and the int8 accuracy cost on labelled test windows;
``report_efficiency`` -> ``efficiency.json`` and its MLflow metrics. Settings: ``params:benchmark``
(:class:`insole_mtl.efficiency.inference.BenchmarkConfig`; missing keys take its defaults).

Every node gets a split's recurrence plots AND its raw windows and reads only what the model reads
(``model.input_names``: ``recurrence_plots`` and/or ``windows``), so a raw-signal model's run, whose
encoding stage wrote an empty plot array, never touches the plots (nor a plot model the windows). The
training split pairs ``train.recurrence_plots`` with ``train_oversampled.windows``, the windows it was
encoded from.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from insole_mtl.efficiency.inference import (
    PAPER_TABLE_V,
    BenchmarkConfig,
    input_names_of,
    input_shapes,
    measure_inference,
    model_inputs,
    n_windows,
)
from insole_mtl.edge.onnx_export import (
    compare_outputs,
    export_onnx,
    onnx_session,
    run_session_batched,
    torch_outputs,
)
from insole_mtl.edge.quantization import accuracy_cost, quantize_int8
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS
from insole_mtl.signals.windows import evenly_spaced
from insole_mtl.efficiency.complexity import count_macs, count_parameters, model_size_mb

logger = logging.getLogger(__name__)

#: Batch size of the accuracy/agreement passes and of int8 calibration.
_EVAL_BATCH = 32


def split_inputs(recurrence_plots: np.ndarray | None, windows: np.ndarray | None) -> dict[str, np.ndarray]:
    """``{input name: stored array}`` of one split (``None`` entries left out: the model must not read them)."""
    arrays = {RECURRENCE_PLOTS: recurrence_plots, WINDOWS: windows}
    return {name: array for name, array in arrays.items() if array is not None}


def _batches(model: torch.nn.Module, arrays: Mapping[str, np.ndarray], indices: np.ndarray, size: int = _EVAL_BATCH) -> list[tuple[torch.Tensor, ...]]:
    return [model_inputs(model, arrays, indices[start : start + size]) for start in range(0, len(indices), size)]


def _non_empty(model: torch.nn.Module, arrays: Mapping[str, np.ndarray], split: str) -> int:
    n = n_windows(model, arrays)
    if n == 0:
        names = ", ".join(f"{split}.{name}" for name in input_names_of(model))
        raise ValueError(f"the model reads {names}, which hold no windows")
    return n


def _input_formats(model: torch.nn.Module, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    from insole_mtl.training.data import is_packed_recurrence_plots

    formats = {}
    for name in input_names_of(model):
        array = arrays[name]
        if name == RECURRENCE_PLOTS:
            formats[name] = "packed" if is_packed_recurrence_plots(array) else ("counts" if array.dtype == np.uint8 else "plots")
        else:
            formats[name] = "raw"
    return formats


def export_edge_models(
    model: torch.nn.Module,
    train_recurrence_plots: np.ndarray,
    train_windows: np.ndarray,
    test_recurrence_plots: np.ndarray,
    test_windows: np.ndarray,
    benchmark: Mapping[str, Any],
) -> tuple[bytes, bytes]:
    """Export the trained model to ONNX (fp32) and quantise it to int8 (static QDQ, per-channel).

    Args:
        model: the trained multitask model.
        train_recurrence_plots, train_windows: the training split's stored inputs (``train.recurrence_plots``,
            packed ``(n, C, L, P)`` or counts ``(n, C, R, R)`` uint8, and ``train_oversampled.windows``
            ``(n, C, L)``); ``calibration_windows`` evenly spaced windows, with every input the model reads,
            calibrate the int8 activation ranges (never test windows). Inputs the model does not read are
            not touched (they may be empty).
        test_recurrence_plots, test_windows: the test split's inputs; its first window is the export example.
        benchmark: ``params:benchmark``.

    Returns:
        ``(onnx fp32 bytes, onnx int8 bytes)``; ``b""`` for a model disabled by ``onnx``/``int8: false``.
        The graph has one input per model input, named after ``model.input_names``.
    """
    config = BenchmarkConfig.from_params(benchmark)
    if not config.onnx:
        return b"", b""
    model = model.to("cpu").eval()
    test = split_inputs(test_recurrence_plots, test_windows)
    _non_empty(model, test, "test")
    onnx_model = export_onnx(model, model_inputs(model, test, [0]), opset=config.opset)
    logger.info("Exported ONNX model (opset %d, inputs %s): %.1f KB", config.opset, list(input_names_of(model)), len(onnx_model) / 1024)
    if not config.int8:
        return onnx_model, b""
    train = split_inputs(train_recurrence_plots, train_windows)
    indices = evenly_spaced(_non_empty(model, train, "train"), config.calibration_windows)
    # unpacked lazily, batch by batch; one {input name: array} dict per batch
    names = input_names_of(model)
    calibration = (
        {name: x.numpy() for name, x in zip(names, model_inputs(model, train, indices[start : start + 16]))}
        for start in range(0, len(indices), 16)
    )
    onnx_int8 = quantize_int8(
        onnx_model, calibration, quant_format=config.quant_format, per_channel=config.per_channel,
        activation_type=config.activation_type, weight_type=config.weight_type,
        calibration_method=config.calibration_method, reduce_range=config.reduce_range, scope=config.quant_scope,
    )  # fmt: skip
    return onnx_model, onnx_int8


def measure_efficiency(
    model: torch.nn.Module,
    onnx_model: bytes,
    onnx_model_int8: bytes,
    test_recurrence_plots: np.ndarray,
    test_windows: np.ndarray,
    benchmark: Mapping[str, Any],
) -> dict[str, Any]:
    """Parameters, MACs, fp32 size and every latency/throughput/memory figure on one test window.

    Args:
        test_recurrence_plots, test_windows: ``test.recurrence_plots`` and ``test.windows``; only the inputs
            the model reads are used (its first window is the example).

    Returns:
        ``params``, ``macs`` (convolutions, linear and recurrent layers: the paper's column),
        ``macs_with_elementwise`` (+ BatchNorm, activation and pooling element counts), ``model_size_mb``, ``onnx_model_kb``, ``onnx_int8_model_kb``, ``input_names``,
        ``input_shapes`` (``{name: model-ready shape of one window}``, e.g. ``{"recurrence_plots": [14, 40, 40],
        "windows": [14, 160]}``), ``input_formats`` (``{name: "packed" | "counts" | "plots" | "raw"}``: how the
        split stores it) and the figures of :func:`insole_mtl.efficiency.inference.measure_inference`
        (``latency_ms_cpu_bs1``, ``latency_ms_onnx_bs1``, ``latency_ms_int8_bs1``, ..., ``mtl_vs_single_latency_ratio``,
        ``mtl_vs_single_params_ratio``).
    """
    config = BenchmarkConfig.from_params(benchmark)
    model = model.to("cpu").eval()
    test = split_inputs(test_recurrence_plots, test_windows)
    _non_empty(model, test, "test")
    example = model_inputs(model, test, [0])
    result: dict[str, Any] = {
        "params": count_parameters(model),
        "macs": count_macs(model, input_shapes(example)),
        "macs_with_elementwise": count_macs(model, input_shapes(example), include_elementwise=True),
        "model_size_mb": model_size_mb(model),
        "onnx_model_kb": len(onnx_model) / 1024 if onnx_model else None,
        "onnx_int8_model_kb": len(onnx_model_int8) / 1024 if onnx_model_int8 else None,
        "input_formats": _input_formats(model, test),
    }
    result.update(measure_inference(model, example, config, onnx_model or None, onnx_model_int8 or None))
    return result


def _label_arrays(labels: pd.DataFrame, tasks: tuple[str, ...], indices: np.ndarray) -> dict[str, np.ndarray]:
    picked = labels.reset_index(drop=True).iloc[indices]
    return {task: picked[task].to_numpy(np.float64) for task in tasks if task in picked.columns}


def evaluate_edge_models(
    model: torch.nn.Module,
    onnx_model: bytes,
    onnx_model_int8: bytes,
    test_recurrence_plots: np.ndarray,
    test_windows: np.ndarray,
    test_labels: pd.DataFrame,
    benchmark: Mapping[str, Any],
) -> dict[str, Any]:
    """ONNX-vs-PyTorch agreement and the int8-vs-fp32 accuracy cost on (a subset of) the labelled test windows.

    ``test_recurrence_plots`` / ``test_windows``: ``test.recurrence_plots`` and ``test.windows``; only the
    inputs the model reads are used, and they must align with ``test_labels`` row for row.

    Returns:
        ``{"n_windows", "onnx_vs_torch": {...}, "int8_vs_torch": {...}, "int8_accuracy_cost": {...}}``
        (see :func:`insole_mtl.edge.onnx_export.compare_outputs` and
        :func:`insole_mtl.edge.quantization.accuracy_cost`; the cost compares ORT int8 with ORT fp32,
        accuracy in percentage points, MAE in km/h and kg). Sections of disabled models are None.
    """
    config = BenchmarkConfig.from_params(benchmark)
    test = split_inputs(test_recurrence_plots, test_windows)
    n = n_windows(model, test)
    if len(test_labels) != n:
        names = " and ".join(f"test.{name}" for name in input_names_of(model))
        raise ValueError(f"test.window_labels has {len(test_labels)} rows but {names} {n} windows")
    model = model.to("cpu").eval()
    indices = evenly_spaced(n, config.accuracy_windows)
    batches = _batches(model, test, indices)
    tasks = model.tasks
    classification = [task.name for task in tasks if not task.is_regression]
    labels = _label_arrays(test_labels, model.task_names, indices)
    reference = {name: np.concatenate(parts) for name, parts in _collect(torch_outputs(model, b) for b in batches).items()}
    result: dict[str, Any] = {"n_windows": int(len(indices)), "onnx_vs_torch": None, "int8_vs_torch": None, "int8_accuracy_cost": None}
    result["torch_fp32_scores"] = _scores(reference, labels, classification)
    if onnx_model:
        fp32 = run_session_batched(onnx_session(onnx_model, config.threads), batches)
        result["onnx_vs_torch"] = compare_outputs(reference, fp32, tasks, config.atol, config.rtol)
        if onnx_model_int8:
            int8 = run_session_batched(onnx_session(onnx_model_int8, config.threads), batches)
            result["int8_vs_torch"] = compare_outputs(reference, int8, tasks, config.atol, config.rtol)
            result["int8_accuracy_cost"] = accuracy_cost(fp32, int8, labels, classification)
    return result


def _collect(outputs: Any) -> dict[str, list[np.ndarray]]:
    parts: dict[str, list[np.ndarray]] = {}
    for output in outputs:
        for name, value in output.items():
            parts.setdefault(name, []).append(value)
    return parts


def _scores(outputs: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], classification: list[str]) -> dict[str, float]:
    from insole_mtl.edge.quantization import task_scores

    return task_scores(outputs, labels, classification)


def _flat_metrics(values: Mapping[str, Any], prefix: str = "") -> dict[str, dict[str, float]]:
    """Nested figures -> MLflow ``{"<path>": {"value", "step": 0}}`` (finite numbers only; the catalog prefixes "efficiency.")."""
    metrics: dict[str, dict[str, float]] = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            metrics.update(_flat_metrics(value, name))
        elif isinstance(value, (bool, np.bool_)):
            metrics[name] = {"value": float(value), "step": 0}
        elif isinstance(value, (int, float, np.integer, np.floating)) and math.isfinite(float(value)):
            metrics[name] = {"value": float(value), "step": 0}
    return metrics


def _ratio(numerator: Any, denominator: Any) -> float | None:
    return float(numerator) / float(denominator) if numerator and denominator else None


def _speedup(figures: Mapping[str, Any], slower: str, faster: str) -> float | None:
    """``slower / faster`` of two latency figures by their medians (``<key>_median``; the mean where none is
    recorded): on a CPU shared with other work one stalled call moves a mean by more than the engines differ (a
    clean-clone run, 2026-12-02: int8 mean 0.278 ms with std 0.73 against a median of 0.142 ms, fp32 0.211 / 0.207 ms,
    so the means said int8 was 0.76x as fast and the medians 1.46x)."""
    return _ratio(figures.get(f"{slower}_median", figures.get(slower)), figures.get(f"{faster}_median", figures.get(faster)))


def report_efficiency(
    figures: Mapping[str, Any], edge_accuracy: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Assemble ``efficiency.json`` (figures, edge accuracy, speed-ups by median latency, the paper's Table V) and its MLflow metrics."""
    efficiency: dict[str, Any] = dict(figures)
    efficiency["onnx_vs_torch"] = edge_accuracy.get("onnx_vs_torch")
    efficiency["int8_vs_torch"] = edge_accuracy.get("int8_vs_torch")
    efficiency["int8_accuracy_cost"] = edge_accuracy.get("int8_accuracy_cost")
    efficiency["torch_fp32_scores"] = edge_accuracy.get("torch_fp32_scores")
    efficiency["accuracy_windows"] = edge_accuracy.get("n_windows")
    efficiency["speedup_onnx_vs_torch_bs1"] = _speedup(figures, "latency_ms_cpu_bs1", "latency_ms_onnx_bs1")
    efficiency["speedup_int8_vs_torch_bs1"] = _speedup(figures, "latency_ms_cpu_bs1", "latency_ms_int8_bs1")
    efficiency["speedup_int8_vs_onnx_bs1"] = _speedup(figures, "latency_ms_onnx_bs1", "latency_ms_int8_bs1")
    efficiency["paper"] = dict(PAPER_TABLE_V)
    cost = efficiency["int8_accuracy_cost"] or {}
    logger.info(
        "Efficiency: %d params, %.3f GMAC, %.3f MB | batch-1 latency torch %.2f ms, ORT fp32 %s ms, ORT int8 %s ms, CUDA %s ms",
        efficiency["params"], efficiency["macs"] / 1e9, efficiency["model_size_mb"], efficiency["latency_ms_cpu_bs1"],
        _fmt(efficiency.get("latency_ms_onnx_bs1")), _fmt(efficiency.get("latency_ms_int8_bs1")),
        _fmt(efficiency.get("latency_ms_cuda_bs1")),
    )  # fmt: skip
    logger.info(
        "Throughput (batch %s): torch %s, ORT fp32 %s, ORT int8 %s windows/s | peak RSS bs1: torch %s, ORT %s, int8 %s MiB",
        efficiency.get("throughput_batch"), _fmt(efficiency.get("throughput_windows_per_s_torch")),
        _fmt(efficiency.get("throughput_windows_per_s_onnx")), _fmt(efficiency.get("throughput_windows_per_s_int8")),
        _fmt(efficiency.get("peak_rss_mb_torch_bs1")), _fmt(efficiency.get("peak_rss_mb_onnx_bs1")),
        _fmt(efficiency.get("peak_rss_mb_int8_bs1")),
    )  # fmt: skip
    logger.info(
        "MTL vs three single-task: latency ratio %s (paper %.3f on Jetson GPU, %.3f CPU), params ratio %s",
        _fmt(efficiency.get("mtl_vs_single_latency_ratio")), PAPER_TABLE_V["mtl_vs_single_latency_ratio_gpu"],
        PAPER_TABLE_V["mtl_vs_single_latency_ratio_cpu"], _fmt(efficiency.get("mtl_vs_single_params_ratio")),
    )  # fmt: skip
    if efficiency["onnx_vs_torch"]:
        logger.info("ONNX vs PyTorch on %s test windows: %s", efficiency["accuracy_windows"], efficiency["onnx_vs_torch"])
    if cost:
        logger.info(
            "int8 accuracy cost: activity %s points, speed MAE %s km/h, weight MAE %s kg (int8 - fp32)",
            _fmt(cost.get("activity_accuracy_delta")), _fmt(cost.get("speed_mae_delta")), _fmt(cost.get("weight_mae_delta")),
        )  # fmt: skip
    metrics = _flat_metrics({k: v for k, v in efficiency.items() if k != "paper"})
    return efficiency, metrics


def _fmt(value: Any) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{float(value):.3g}"
