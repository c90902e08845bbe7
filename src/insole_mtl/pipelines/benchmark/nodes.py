"""Efficiency benchmark node (SPEC §7, Table V): size, MACs and batch-1 latency of the trained model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from insole_mtl.encoding.recurrence import unpack_recurrence_plots_torch
from insole_mtl.evaluation.efficiency import measure_latency
from insole_mtl.models.complexity import count_macs, count_parameters, model_size_mb

logger = logging.getLogger(__name__)


def benchmark_efficiency(
    model: torch.nn.Module, test_inputs: np.ndarray, benchmark: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """Parameters, MACs (ptflops), fp32 state_dict size and CPU latency of one test window at batch size 1.

    Returns:
        ``efficiency.json`` content (``params``, ``macs``, ``model_size_mb``, ``latency_ms_cpu_bs1`` + its
        spread) and the same figures as MLflow metrics.
    """
    if benchmark.get("threads"):
        torch.set_num_threads(int(benchmark["threads"]))
    packed = torch.from_numpy(np.ascontiguousarray(test_inputs[:1]))
    length = packed.shape[2]
    example = unpack_recurrence_plots_torch(packed, length)
    model = model.to("cpu").eval()
    latency = measure_latency(model, example, warmup=int(benchmark["warmup"]), repeats=int(benchmark["repeats"]))
    result: dict[str, Any] = {
        "params": count_parameters(model),
        "macs": count_macs(model, tuple(example.shape[1:])),
        "model_size_mb": model_size_mb(model),
        "latency_ms_cpu_bs1": latency["mean"],
        "latency_ms_cpu_bs1_std": latency["std"],
        "latency_ms_cpu_bs1_median": latency["median"],
        "torch_threads": torch.get_num_threads(),
        "paper": {"params": 97_300, "macs": 340_000_000, "model_size_mb": 0.39},
    }
    logger.info(
        "Efficiency: %d params, %.3f GMAC, %.3f MB, CPU batch-1 latency %.2f ± %.2f ms",
        result["params"], result["macs"] / 1e9, result["model_size_mb"], latency["mean"], latency["std"],
    )
    mlflow_metrics = {
        f"efficiency.{k}": {"value": float(v), "step": 0}
        for k, v in result.items()
        if isinstance(v, (int, float))
    }
    return result, mlflow_metrics
