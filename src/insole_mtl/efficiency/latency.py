"""Latency and throughput of a model: eager PyTorch, ONNX Runtime sessions and CUDA (SPEC §7, Table V protocol).

One window at batch size 1, ``warmup`` untimed passes, then ``repeats`` timed passes; on CUDA the device is
synchronised before each clock read so asynchronous kernels are counted. An example is a TUPLE of
model-ready tensors in ``model.input_names`` order (a single tensor for a one-input model).
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import numpy as np
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


#: Model inputs: one tensor for a one-input model, else a tuple in ``model.input_names`` order.
Example = Union[torch.Tensor, Sequence[torch.Tensor]]

def as_example(example: Example) -> tuple[torch.Tensor, ...]:
    """A tensor -> a 1-tuple; a tuple/list of tensors -> a tuple."""
    if isinstance(example, torch.Tensor):
        return (example,)
    if isinstance(example, (tuple, list)) and example and all(isinstance(x, torch.Tensor) for x in example):
        return tuple(example)
    raise TypeError(f"example must be a tensor or a non-empty tuple of tensors (one per model input), got {type(example).__name__}")


def input_shapes(example: Example) -> tuple[tuple[int, ...], ...]:
    """Per-input shapes of ONE window (no batch axis), e.g. ``((14, 40, 40), (14, 160))``."""
    return tuple(tuple(int(d) for d in x.shape[1:]) for x in as_example(example))


def repeat_batch(example: Example, batch: int) -> tuple[torch.Tensor, ...]:
    """Each input of a one-window example repeated ``batch`` times along the batch axis (contiguous)."""
    return tuple(x.expand(batch, *x.shape[1:]).contiguous() for x in as_example(example))


def _channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x


def has_image_input(example: Example) -> bool:
    """True when one of the inputs is 4-D ``(b, C, H, W)`` (the only ones channels_last applies to)."""
    return any(x.ndim == 4 for x in as_example(example))


@torch.inference_mode()
def torch_latency(
    model: torch.nn.Module, example: Example, warmup: int, repeats: int, channels_last: bool = False
) -> dict[str, float]:
    """Batch latency (ms: mean/std/median/min) of eager ``model(*example)`` on the example's device.

    ``example``: a tuple of inputs in ``model.input_names`` order (a single tensor for a one-input
    model). ``channels_last`` converts a copy of the model and the 4-D inputs (raw windows stay as they are).
    """
    model.eval()
    inputs = as_example(example)
    if channels_last:
        model = copy.deepcopy(model).to(memory_format=torch.channels_last)
        inputs = tuple(_channels_last(x) for x in inputs)
    return summarise_ms(time_calls(lambda: model(*inputs), warmup, repeats, inputs[0].device))


def session_latency(session: Any, example: Example | np.ndarray, warmup: int, repeats: int) -> dict[str, float]:
    """Batch latency (ms: mean/std/median/min) of an ONNX Runtime session on ``example`` (fed by input name)."""
    from insole_mtl.edge.onnx_export import session_feed

    feed = session_feed(session, example)
    names = [output.name for output in session.get_outputs()]
    return summarise_ms(time_calls(lambda: session.run(names, feed), warmup, repeats))


def throughput(latency_ms: Mapping[str, float], batch: int) -> float:
    """Windows per second from a batch latency summary (median, robust to a noisy shared CPU)."""
    return float(batch * 1e3 / latency_ms["median"])


def cuda_latency(model: torch.nn.Module, example: Example, warmup: int, repeats: int) -> dict[str, float] | None:
    """Synchronised CUDA batch latency (ms) of a copy of ``model``, or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    device = torch.device("cuda")
    gpu_model = copy.deepcopy(model).to(device).eval()
    result = torch_latency(gpu_model, tuple(x.to(device) for x in as_example(example)), warmup, repeats)
    del gpu_model
    torch.cuda.empty_cache()
    return result


def with_threads(threads: int | None) -> Callable[[], None]:
    """Set torch's intra-op threads; returns a callable restoring the previous value."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    return lambda: torch.set_num_threads(previous)
