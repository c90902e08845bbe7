"""Efficiency figures of one trained model: complexity, batch-1 latency and training memory (Table V, Appendix A).

The figures use the vocabulary of :mod:`insole_mtl.efficiency` (``params``, ``macs``, ``model_size_mb``,
``latency_ms_cpu_bs1``, ...):

* parameters, MACs and serialized size: :mod:`insole_mtl.efficiency.complexity` (``macs`` counts
  convolutions, linear and recurrent layers, the paper's column; ``macs_with_elementwise`` adds ptflops'
  BatchNorm, activation and pooling element counts);
* batch-1 latency after warm-up on the CPU (and on CUDA when present): :mod:`insole_mtl.efficiency.latency`;
* training memory, estimated without a GPU: 4 x the parameter bytes (weights, gradients, two Adam/AdamW
  moments) + the bytes of the tensors autograd saves for backward during one forward pass, per window,
  times ``memory_batch_size``, in fp32. Saved tensors are counted once per storage (views share storage).
  On CUDA the measured ``torch.cuda.max_memory_allocated`` of one forward+backward step at
  ``memory_batch_size``, with the engine's CUDA autocast and channels_last, is reported as well.

Every function takes an example of ONE window as a tuple of model-ready tensors in ``model.input_names``
order (a single tensor for a one-input model), so plot models, raw-window models and plot models with
amplitude features are measured alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from insole_mtl.efficiency.complexity import count_macs, count_parameters, model_size_mb
from insole_mtl.efficiency.latency import Example, as_example, cuda_latency, input_shapes, torch_latency
from insole_mtl.efficiency.memory import cuda_peak_training_mb, saved_activation_bytes

logger = logging.getLogger(__name__)

EFFICIENCY_KEYS: tuple[str, ...] = ("warmup", "repeats", "cuda", "memory_batch_size", "macs")


def model_efficiency(model: nn.Module, example: Example, options: Mapping[str, Any]) -> dict[str, float | None]:
    """Complexity, latency and memory figures of ``model`` on a one-window ``example``.

    Args:
        model: a trained model (moved to the CPU, eval mode).
        example: one model-ready window per input (``(1, ...)`` tensors in ``model.input_names`` order).
        options: ``warmup``, ``repeats`` (latency), ``cuda`` (also time on CUDA when present),
            ``memory_batch_size`` (training memory estimate), ``macs`` (count MACs; default true).

    Returns:
        ``params``, ``macs``, ``macs_with_elementwise``, ``model_size_mb``, ``latency_ms_cpu_bs1``,
        ``latency_ms_cpu_bs1_std``, ``latency_ms_cuda_bs1``, ``latency_ms_cuda_bs1_std`` (None without CUDA),
        ``activation_mb_per_window``, ``train_memory_mb``, ``cuda_peak_train_mb`` (None without CUDA).
    """
    unknown = sorted(set(options) - set(EFFICIENCY_KEYS))
    if unknown:
        raise ValueError(f"protocol.efficiency: unknown key(s) {unknown}; allowed: {list(EFFICIENCY_KEYS)}")
    warmup, repeats = int(options.get("warmup", 10)), int(options.get("repeats", 5))
    batch = int(options.get("memory_batch_size", 512))
    model = model.to("cpu").eval()
    example = tuple(x.to("cpu") for x in as_example(example))
    count = bool(options.get("macs", True))
    shapes = input_shapes(example)
    cpu = torch_latency(model, example, warmup, repeats)
    result: dict[str, float | None] = {
        "params": float(count_parameters(model)),
        "macs": float(count_macs(model, shapes)) if count else None,
        "macs_with_elementwise": float(count_macs(model, shapes, include_elementwise=True)) if count else None,
        "model_size_mb": float(model_size_mb(model)),
        "latency_ms_cpu_bs1": cpu["mean"],
        "latency_ms_cpu_bs1_std": cpu["std"],
        "latency_ms_cuda_bs1": None,
        "latency_ms_cuda_bs1_std": None,
        "cuda_peak_train_mb": None,
    }
    if options.get("cuda", True) and torch.cuda.is_available():
        try:  # a failed measurement must not fail a long protocol: its figures stay None
            gpu = cuda_latency(model, example, warmup, repeats)
            if gpu is not None:
                result["latency_ms_cuda_bs1"], result["latency_ms_cuda_bs1_std"] = gpu["mean"], gpu["std"]
            result["cuda_peak_train_mb"] = cuda_peak_training_mb(model, example, batch)
        except RuntimeError as error:
            logger.warning("CUDA efficiency figures not measured: %s", error)
    activation = saved_activation_bytes(model, example)
    param_bytes = sum(p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    result["activation_mb_per_window"] = activation / 2**20
    result["train_memory_mb"] = (4 * param_bytes + batch * activation) / 2**20
    return result
