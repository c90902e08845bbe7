"""Efficiency figures of one trained protocol model (Table V, Appendix A).

* parameters, MACs (ptflops) and serialized size: :mod:`insole_mtl.models.complexity`;
* batch-1 latency after warm-up on the CPU (and on CUDA when present): :mod:`insole_mtl.evaluation.efficiency`;
* training memory, estimated without a GPU: 4 x the parameter bytes (weights, gradients, two Adam/AdamW
  moments) + the bytes of the tensors autograd saves for backward during one forward pass, per window,
  times ``memory_batch_size``, in fp32. Saved tensors are counted once per storage (views share storage).
  On CUDA the measured ``torch.cuda.max_memory_allocated`` of one forward+backward step at
  ``memory_batch_size``, with the engine's CUDA autocast and channels_last, is reported as well.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from insole_mtl.evaluation.efficiency import measure_latency
from insole_mtl.models.complexity import count_macs, count_parameters, model_size_mb

logger = logging.getLogger(__name__)

EFFICIENCY_KEYS: tuple[str, ...] = ("warmup", "repeats", "cuda", "memory_batch_size", "macs")


def example_window(inputs: np.ndarray) -> torch.Tensor:
    """The first window of a split as a model-ready float32 batch of one.

    Packed recurrence plots ``(n, C, L, ceil(L/8))`` uint8 are unpacked to ``(1, C, L, L)``; raw windows
    ``(n, C, L)`` are returned as ``(1, C, L)`` float32.
    """
    array = np.asarray(inputs[:1])
    if array.ndim == 3:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if array.ndim == 4 and array.dtype == np.uint8:
        from insole_mtl.encoding.recurrence import unpack_recurrence_plots_torch

        return unpack_recurrence_plots_torch(torch.from_numpy(np.ascontiguousarray(array)), array.shape[2]).float()
    raise ValueError(f"expected packed plots (n, C, L, P) uint8 or raw windows (n, C, L), got {array.shape} {array.dtype}")


def saved_activation_bytes(model: nn.Module, example: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one training-mode forward of ``example``.

    Runs on a copy of ``model`` (BatchNorm running statistics of the original stay untouched).
    """
    probe = copy.deepcopy(model).train()
    storages: dict[tuple[int, int], int] = {}
    parameter_ptrs = {p.data_ptr() for p in probe.parameters()}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameter_ptrs:
            storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        probe(example.to(next(probe.parameters()).device))
    return int(sum(storages.values()))


def cuda_peak_training_mb(model: nn.Module, example: torch.Tensor, batch_size: int) -> float | None:
    """Measured peak CUDA memory (MiB) of one forward+backward step at ``batch_size``; None without CUDA.

    The step runs as the training engine runs it on CUDA: ``precision="auto"`` autocast (bf16, or fp16 on
    GPUs without bf16) and channels_last for 4-D inputs. None (and a warning) when it does not fit.
    """
    if not torch.cuda.is_available():
        return None
    from insole_mtl.training.engine import autocast_context, resolve_precision

    device = torch.device("cuda")
    precision = resolve_precision("auto", device)
    try:
        probe = copy.deepcopy(model).to(device).train()
        batch = example.to(device).expand(batch_size, *example.shape[1:]).contiguous()
        if batch.ndim == 4:
            probe = probe.to(memory_format=torch.channels_last)
            batch = batch.contiguous(memory_format=torch.channels_last)
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        with autocast_context(device, precision):
            outputs = probe(batch)
        loss = sum(value.float().sum() for value in outputs.values())
        loss.backward()
        torch.cuda.synchronize(device)
        return float(torch.cuda.max_memory_allocated(device) / 2**20)
    except torch.cuda.OutOfMemoryError:
        logger.warning("one training step at batch %d does not fit on the GPU: peak memory not measured", batch_size)
        return None
    finally:
        probe = batch = outputs = loss = None  # noqa: F841 - release before emptying the cache
        torch.cuda.empty_cache()


def model_efficiency(model: nn.Module, example: torch.Tensor, options: Mapping[str, Any]) -> dict[str, float | None]:
    """Complexity, latency and memory figures of ``model`` on a one-window ``example``.

    Args:
        model: a trained model (moved to the CPU, eval mode).
        example: ``(1, ...)`` model-ready input.
        options: ``warmup``, ``repeats`` (latency), ``cuda`` (also time on CUDA when present),
            ``memory_batch_size`` (training memory estimate), ``macs`` (count MACs; default true).

    Returns:
        ``params``, ``macs``, ``size_mb``, ``latency_cpu_ms``, ``latency_cpu_ms_std``, ``latency_cuda_ms``,
        ``latency_cuda_ms_std`` (None without CUDA), ``activation_mb_per_window``, ``train_memory_mb``,
        ``cuda_peak_mb`` (None without CUDA).
    """
    unknown = sorted(set(options) - set(EFFICIENCY_KEYS))
    if unknown:
        raise ValueError(f"protocol.efficiency: unknown key(s) {unknown}; allowed: {list(EFFICIENCY_KEYS)}")
    warmup, repeats = int(options.get("warmup", 10)), int(options.get("repeats", 5))
    batch = int(options.get("memory_batch_size", 512))
    model = model.to("cpu").eval()
    example = example.to("cpu")
    params = count_parameters(model)
    macs = count_macs(model, tuple(example.shape[1:])) if options.get("macs", True) else None
    cpu = measure_latency(model, example, warmup=warmup, repeats=repeats)
    result: dict[str, float | None] = {
        "params": float(params),
        "macs": float(macs) if macs is not None else None,
        "size_mb": float(model_size_mb(model)),
        "latency_cpu_ms": cpu["mean"],
        "latency_cpu_ms_std": cpu["std"],
        "latency_cuda_ms": None,
        "latency_cuda_ms_std": None,
        "cuda_peak_mb": None,
    }
    if options.get("cuda", True) and torch.cuda.is_available():
        from insole_mtl.benchmarks.inference import cuda_latency

        try:  # a failed measurement must not fail a long protocol: its figures stay None
            gpu = cuda_latency(model, example, warmup, repeats)
            if gpu is not None:
                result["latency_cuda_ms"], result["latency_cuda_ms_std"] = gpu["mean"], gpu["std"]
            result["cuda_peak_mb"] = cuda_peak_training_mb(model, example, batch)
        except RuntimeError as error:
            logger.warning("CUDA efficiency figures not measured: %s", error)
    activation = saved_activation_bytes(model, example)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    result["activation_mb_per_window"] = activation / 2**20
    result["train_memory_mb"] = (4 * param_bytes + batch * activation) / 2**20
    return result
