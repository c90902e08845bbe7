"""Inference efficiency benchmark (paper Table V): ``python -m insole_mtl.benchmarks inference
[--model trained_model.pkl] [--threads 2] [--repeats 30]``.

A thin command-line tool over :mod:`insole_mtl.efficiency.inference`, the library the benchmark stage
uses too. Without ``--model`` an untrained Table II model with the paper's three tasks is built; the
inputs are random (:func:`~insole_mtl.efficiency.inference.random_inputs`: binary recurrence plots
``(n, 14, 160, 160)`` for it; latency does not depend on values).
"""

from __future__ import annotations

import argparse
import logging
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from insole_mtl.efficiency.inference import PAPER_TABLE_V, PAPER_TASKS, BenchmarkConfig, measure_inference, random_inputs
from insole_mtl.efficiency.latency import with_threads
from insole_mtl.models import build_model

logger = logging.getLogger(__name__)


def _ratios(result: Mapping[str, Any]) -> dict[str, float]:
    """Speed-ups relative to eager PyTorch fp32 (batch 1, mean latency)."""
    base = result.get("latency_ms_cpu_bs1")
    ratios = {}
    for key in ("latency_ms_cpu_bs1_channels_last", "latency_ms_cpu_bs1_bn_folded", "latency_ms_onnx_bs1", "latency_ms_int8_bs1"):
        if base and result.get(key):
            ratios[f"speedup_vs_torch_fp32.{key}"] = base / result[key]
    if result.get("latency_ms_onnx_bs1") and result.get("latency_ms_int8_bs1"):
        ratios["speedup_int8_vs_onnx_fp32"] = result["latency_ms_onnx_bs1"] / result["latency_ms_int8_bs1"]
    return ratios


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks inference", description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="pickled trained model (data/06_models/trained_model.pkl/<version>/...)")
    parser.add_argument("--threads", type=int, default=None, help="torch and ORT intra-op threads (default: library default)")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--throughput-batch", type=int, default=64)
    parser.add_argument("--calibration-windows", type=int, default=32)
    parser.add_argument("--window-length", type=int, default=160, help="samples per window of the random inputs")
    parser.add_argument("--reduce-range", action="store_true", help="7-bit int8 weights (CPUs without VNNI)")
    parser.add_argument("--no-int8", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-single-task", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the inference benchmark; returns (and logs) every figure and ratio."""
    from insole_mtl.edge.onnx_export import compare_onnx_to_torch, export_onnx, onnx_session
    from insole_mtl.edge.quantization import quantize_int8

    args = _parser().parse_args(list(argv or []))
    if args.model is not None:
        with args.model.open("rb") as handle:  # a trusted artifact of this project's own training stage
            model = pickle.load(handle)
    else:
        torch.manual_seed(0)
        model = build_model("mobilenetv2", 14, PAPER_TASKS)
    model = model.to("cpu").eval()
    config = BenchmarkConfig(
        warmup=args.warmup, repeats=args.repeats, threads=args.threads, int8=not args.no_int8,
        throughput_batch=args.throughput_batch, calibration_windows=args.calibration_windows,
        reduce_range=args.reduce_range, memory=not args.no_memory, single_task=not args.no_single_task,
    )  # fmt: skip
    windows = random_inputs(model, max(args.calibration_windows, 16), window_length=args.window_length, seed=1)
    example = tuple(x[:1] for x in windows)
    restore = with_threads(config.threads)
    try:
        onnx_model = export_onnx(model, example, opset=config.opset)
        agreement = compare_onnx_to_torch(
            model, onnx_session(onnx_model, config.threads), tuple(x[:16] for x in windows), config.atol, config.rtol
        )
        onnx_int8 = None
        if config.int8:
            calibration = [tuple(x[i : i + 8].numpy() for x in windows) for i in range(0, config.calibration_windows, 8)]
            onnx_int8 = quantize_int8(onnx_model, calibration, reduce_range=config.reduce_range, scope=config.quant_scope)
    finally:
        restore()
    result = measure_inference(model, example, config, onnx_model, onnx_int8, extra_torch_variants=True)
    result["onnx_agreement"] = agreement
    result["onnx_model_kb"] = len(onnx_model) / 1024
    result["onnx_int8_model_kb"] = len(onnx_int8) / 1024 if onnx_int8 else None
    result.update(_ratios(result))
    result["paper_table_v"] = PAPER_TABLE_V
    result["model"] = str(args.model) if args.model else "untrained Table II MobileNetV2 (3 tasks), random binary inputs"
    result["random_inputs"] = "binary plots / recurrence counts / normal raw windows (latency does not depend on values)"
    for key, value in result.items():
        if isinstance(value, float):
            logger.info("%s = %.4g", key, value)
    return result
