"""Latency and throughput measurement of a model (SPEC §7, Table V protocol).

One window at batch size 1, ``warmup`` untimed passes, then ``repeats`` timed passes; on CUDA the device is
synchronised before each clock read so asynchronous kernels are counted.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], object], warmup: int, repeats: int, device: torch.device | None = None) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times; return each timed call's seconds."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"warmup must be >= 0 and repeats >= 1, got warmup={warmup}, repeats={repeats}")
    device = device or torch.device("cpu")
    for _ in range(warmup):
        fn()
    _synchronise(device)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronise(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def summarise_ms(seconds: list[float]) -> dict[str, float]:
    """Mean, std, median, min of timings in milliseconds."""
    ms = [s * 1e3 for s in seconds]
    return {
        "mean": statistics.fmean(ms),
        "std": statistics.stdev(ms) if len(ms) > 1 else 0.0,
        "median": statistics.median(ms),
        "min": min(ms),
    }


@torch.inference_mode()
def measure_latency(
    model: torch.nn.Module, example: torch.Tensor, warmup: int = 10, repeats: int = 30
) -> dict[str, float]:
    """Latency of ``model(example)`` in ms (mean/std/median/min) on ``example``'s device, model in eval mode."""
    model.eval()
    seconds = time_calls(lambda: model(example), warmup, repeats, example.device)
    return summarise_ms(seconds)
