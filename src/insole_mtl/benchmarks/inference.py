"""Inference efficiency of the multitask MobileNetV2 (issue #5, SPEC §7, paper Table V).

``python -m insole_mtl.benchmarks inference [--model trained_model.pkl] [--threads 2] [--repeats 30]``

Measures, on one model and the same input windows:

* batch-1 latency (``warmup`` untimed passes, then ``repeats`` timed ones; mean/std/median/min in
  ms) of eager PyTorch fp32 (NCHW, and in the CLI channels_last and BatchNorm-folded), ONNX Runtime
  fp32 and ONNX Runtime int8 (static QDQ per-channel), and synchronised CUDA latency when a GPU is
  present;
* throughput (windows/s) at a larger batch for PyTorch and ONNX Runtime;
* MTL vs three single-task MobileNetV2s (one per task, built with the MTL model's architecture;
  their weights are freshly initialised, which does not change parameters or latency);
* peak resident memory of batch-1 inference, each engine in a fresh subprocess.

The library functions here are used by the Kedro benchmark stage (``pipelines/benchmark``) too.
Without ``--model`` an untrained Table II model with the paper's three tasks is built, and the
inputs are random binary recurrence plots ``(n, 14, 160, 160)`` (latency does not depend on values).
"""

from __future__ import annotations

import argparse
import copy
import logging
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from insole_mtl.evaluation.efficiency import summarise_ms, time_calls
from insole_mtl.models.complexity import count_parameters
from insole_mtl.models.registry import MultitaskModel, TaskSpec, build_model

logger = logging.getLogger(__name__)

#: The paper's three tasks (Table I).
PAPER_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("activity", "classification", 7),
    TaskSpec("speed", "regression", 1),
    TaskSpec("weight", "regression", 1),
)

#: Table V of the paper (Jetson Nano), for the report.
PAPER_TABLE_V: dict[str, float] = {
    "params": 97_300,
    "macs": 340_000_000,
    "model_size_mb": 0.39,
    "latency_ms_gpu_mtl": 38.0,
    "latency_ms_gpu_three_single_task": 112.5,
    "latency_ms_cpu_mtl": 2080.0,
    "latency_ms_cpu_three_single_task": 6390.0,
    "mtl_vs_single_latency_ratio_gpu": 38.0 / 112.5,
    "mtl_vs_single_latency_ratio_cpu": 2080.0 / 6390.0,
}


@dataclass(frozen=True)
class BenchmarkConfig:
    """Settings of the inference benchmark (``params:benchmark``; missing keys take these defaults).

    Attributes:
        warmup, repeats: untimed and timed passes per latency measurement.
        threads: torch intra-op threads and ORT intra-op threads (None = library default).
        onnx: export to ONNX and time ONNX Runtime fp32.
        opset: ONNX opset of the export.
        atol, rtol: ONNX-vs-PyTorch agreement tolerances.
        int8: quantise (static QDQ) and time/evaluate the int8 model (needs ``onnx``).
        calibration_windows: training windows used to calibrate the int8 activation ranges.
        quant_format, per_channel, activation_type, weight_type, reduce_range, calibration_method:
            see :func:`insole_mtl.edge.quantization.quantize_int8`.
        accuracy_windows: test windows (evenly spaced) for the ONNX agreement and the int8
            accuracy cost; None = all test windows.
        throughput_batch, throughput_repeats: batch size and timed passes of the throughput runs
            (0 batch = skip).
        single_task: time the three single-task models (Table V comparison).
        cuda: time on CUDA when available.
        memory: peak RSS of batch-1 inference in fresh subprocesses.
    """

    warmup: int = 10
    repeats: int = 30
    threads: int | None = None
    onnx: bool = True
    opset: int = 17
    atol: float = 1e-4
    rtol: float = 1e-3
    int8: bool = True
    calibration_windows: int = 64
    quant_format: str = "qdq"
    per_channel: bool = True
    activation_type: str = "uint8"
    weight_type: str = "int8"
    reduce_range: bool = False
    calibration_method: str = "minmax"
    accuracy_windows: int | None = 512
    throughput_batch: int = 64
    throughput_repeats: int = 3
    single_task: bool = True
    cuda: bool = True
    memory: bool = True

    def __post_init__(self) -> None:
        if self.warmup < 0 or self.repeats < 1:
            raise ValueError(f"benchmark.warmup must be >= 0 and benchmark.repeats >= 1, got {self.warmup}, {self.repeats}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"benchmark.threads must be null or >= 1, got {self.threads}")
        if self.int8 and not self.onnx:
            raise ValueError("benchmark.int8 needs benchmark.onnx: the int8 model is quantised from the ONNX export")
        if self.calibration_windows < 1:
            raise ValueError(f"benchmark.calibration_windows must be >= 1, got {self.calibration_windows}")
        if self.accuracy_windows is not None and self.accuracy_windows < 1:
            raise ValueError(f"benchmark.accuracy_windows must be null or >= 1, got {self.accuracy_windows}")
        if self.throughput_batch < 0 or self.throughput_repeats < 1:
            raise ValueError(
                f"benchmark.throughput_batch must be >= 0 and throughput_repeats >= 1, "
                f"got {self.throughput_batch}, {self.throughput_repeats}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> BenchmarkConfig:
        """Build from ``params:benchmark``; unknown keys are an error (they are usually typos)."""
        params = dict(params or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown benchmark parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**{key: value for key, value in params.items() if value is not None or key in ("threads", "accuracy_windows")})


# --------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------
def evenly_spaced(n: int, k: int | None) -> np.ndarray:
    """``min(k, n)`` indices spread evenly over ``range(n)`` (int64, ascending); all of them when ``k`` is None."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if k is None or k >= n:
        return np.arange(n, dtype=np.int64)
    if k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def model_inputs(inputs: np.ndarray, indices: np.ndarray | Sequence[int] | None = None) -> torch.Tensor:
    """Selected windows as model-ready float32 ``(k, C, L, L)`` recurrence plots.

    Args:
        inputs: bit-packed recurrence plots ``(n, C, L, ceil(L/8))`` uint8 (as stored by the encoding
            stage; unpacked with :func:`insole_mtl.encoding.recurrence.unpack_recurrence_plots_torch`)
            or already unpacked ``(n, C, H, W)`` float plots. May be a memory map.
        indices: windows to take (default all).
    """
    array = np.asarray(inputs) if not isinstance(inputs, np.ndarray) else inputs
    if array.ndim != 4:
        raise ValueError(f"inputs must be (n, C, L, P) packed or (n, C, H, W) plots, got shape {array.shape}")
    picked = np.ascontiguousarray(array if indices is None else array[np.asarray(indices, dtype=np.int64)])
    tensor = torch.from_numpy(picked)
    if picked.dtype == np.uint8 and picked.shape[3] * 8 >= picked.shape[2] > picked.shape[3]:
        from insole_mtl.encoding.recurrence import unpack_recurrence_plots_torch  # written by the encoding stage

        return unpack_recurrence_plots_torch(tensor, picked.shape[2]).float()
    return tensor.float()


def random_plots(n: int, channels: int = 14, size: int = 160, density: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Random binary recurrence plots ``(n, channels, size, size)`` float32 (for timing only)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((n, channels, size, size), generator=generator) < density).float()


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def _summary(seconds: list[float]) -> dict[str, float]:
    return summarise_ms(seconds)


@torch.inference_mode()
def torch_latency(
    model: torch.nn.Module, example: torch.Tensor, warmup: int, repeats: int, channels_last: bool = False
) -> dict[str, float]:
    """Batch latency (ms: mean/std/median/min) of eager ``model(example)`` on ``example``'s device."""
    model.eval()
    if channels_last:
        model = copy.deepcopy(model).to(memory_format=torch.channels_last)
        example = example.contiguous(memory_format=torch.channels_last)
    return _summary(time_calls(lambda: model(example), warmup, repeats, example.device))


def session_latency(session: Any, example: np.ndarray | torch.Tensor, warmup: int, repeats: int) -> dict[str, float]:
    """Batch latency (ms: mean/std/median/min) of an ONNX Runtime session on ``example``."""
    array = example.numpy() if isinstance(example, torch.Tensor) else example
    feed = {session.get_inputs()[0].name: np.ascontiguousarray(array, dtype=np.float32)}
    names = [output.name for output in session.get_outputs()]
    return _summary(time_calls(lambda: session.run(names, feed), warmup, repeats))


def throughput(latency_ms: Mapping[str, float], batch: int) -> float:
    """Windows per second from a batch latency summary (median, robust to a noisy shared CPU)."""
    return float(batch * 1e3 / latency_ms["median"])


def cuda_latency(model: torch.nn.Module, example: torch.Tensor, warmup: int, repeats: int) -> dict[str, float] | None:
    """Synchronised CUDA batch latency (ms) of a copy of ``model``, or None without CUDA."""
    if not torch.cuda.is_available():
        return None
    device = torch.device("cuda")
    gpu_model = copy.deepcopy(model).to(device).eval()
    result = torch_latency(gpu_model, example.to(device), warmup, repeats)
    del gpu_model
    torch.cuda.empty_cache()
    return result


def _with_threads(threads: int | None) -> Callable[[], None]:
    """Set torch's intra-op threads; returns a callable restoring the previous value."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    return lambda: torch.set_num_threads(previous)


# --------------------------------------------------------------------------------------------------
# MTL vs single-task
# --------------------------------------------------------------------------------------------------
def mobilenet_options(model: torch.nn.Module) -> dict[str, Any]:
    """Constructor options of a :class:`MultitaskMobileNetV2` read back from the module (stem, rows, widths)."""
    from insole_mtl.models.mobilenet import MultitaskMobileNetV2

    if not isinstance(model, MultitaskMobileNetV2):
        raise TypeError(f"expected a MultitaskMobileNetV2, got {type(model).__name__}")
    stem = model.features[0][0]
    last = model.features[-1][0]
    activation = model.embedding[1]
    name = {torch.nn.ReLU6: "relu6", torch.nn.ReLU: "relu", torch.nn.Identity: "none"}[type(activation)]
    return {
        "stem_kernel": int(stem.kernel_size[0]),
        "stem_padding": int(stem.padding[0]),
        "bottlenecks": model.bottleneck_table,
        "stem_channels": int(stem.out_channels),
        "last_channels": int(last.out_channels),
        "embedding_dim": int(model.embedding_dim),
        "embedding_activation": name,
    }


def single_task_models(model: MultitaskModel) -> list[MultitaskModel]:
    """One single-task MobileNetV2 per task of ``model``, same architecture, fresh (untrained) weights."""
    options = mobilenet_options(model)
    in_channels = int(model.features[0][0].in_channels)  # type: ignore[attr-defined,index]
    return [build_model("mobilenetv2", in_channels, [task], **options).eval() for task in model.tasks]


def compare_mtl_to_single(model: MultitaskModel, example: torch.Tensor, warmup: int, repeats: int) -> dict[str, Any]:
    """Table V: the MTL model vs three single-task models run one after the other on one window.

    Returns:
        ``single_task_params`` (per task), ``single_task_latency_ms_cpu_bs1`` (per task, mean),
        ``three_single_task_params`` / ``three_single_task_latency_ms_cpu_bs1`` (sums),
        ``mtl_vs_single_params_ratio`` and ``mtl_vs_single_latency_ratio`` (MTL / sum of the three;
        the paper's Jetson Nano figures are ~0.33), ``single_task_weights: "untrained"``.
    """
    mtl = torch_latency(model, example, warmup, repeats)
    singles = single_task_models(model)
    params = {m.task_names[0]: count_parameters(m) for m in singles}
    latency = {m.task_names[0]: torch_latency(m, example, warmup, repeats)["mean"] for m in singles}
    total_params, total_latency = sum(params.values()), sum(latency.values())
    return {
        "mtl_latency_ms_cpu_bs1": mtl["mean"],
        "single_task_params": params,
        "single_task_latency_ms_cpu_bs1": latency,
        "three_single_task_params": total_params,
        "three_single_task_latency_ms_cpu_bs1": total_latency,
        "mtl_vs_single_params_ratio": count_parameters(model) / total_params,
        "mtl_vs_single_latency_ratio": mtl["mean"] / total_latency,
        "single_task_weights": "untrained (architecture only: parameters and latency do not depend on weights)",
    }


# --------------------------------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------------------------------
def _flatten_latency(prefix: str, summary: Mapping[str, float] | None) -> dict[str, float | None]:
    if summary is None:
        return {prefix: None}
    return {
        prefix: summary["mean"],
        f"{prefix}_std": summary["std"],
        f"{prefix}_median": summary["median"],
        f"{prefix}_min": summary["min"],
    }


def measure_inference(
    model: MultitaskModel,
    example: torch.Tensor,
    config: BenchmarkConfig,
    onnx_model: bytes | None = None,
    onnx_model_int8: bytes | None = None,
    extra_torch_variants: bool = False,
) -> dict[str, Any]:
    """Latency, throughput, CUDA latency, peak memory and MTL-vs-single-task figures of one model.

    Args:
        model: the multitask model (CPU; put in eval mode).
        example: one model-ready window ``(1, C, H, W)`` float32; throughput batches repeat it.
        config: benchmark settings.
        onnx_model, onnx_model_int8: serialised ONNX models to time (skipped when None).
        extra_torch_variants: also time eager channels_last and BatchNorm-folded PyTorch.

    Returns:
        Flat figures: ``latency_ms_cpu_bs1`` (+ ``_std``/``_median``/``_min``), ``latency_ms_onnx_bs1``,
        ``latency_ms_int8_bs1`` (same suffixes; None when not measured), ``latency_ms_cuda_bs1`` (None
        without CUDA), ``throughput_windows_per_s_{torch,onnx,int8}`` and ``throughput_batch``,
        ``peak_rss_mb_{torch,onnx,int8}_bs1`` (+ the import-only baseline), the single-task
        comparison keys of :func:`compare_mtl_to_single` and ``torch_threads``/``ort_threads``.
    """
    from insole_mtl.benchmarks.memory import inference_peak_rss
    from insole_mtl.edge.onnx_export import fold_batchnorm, onnx_session

    if example.ndim != 4 or example.shape[0] != 1:
        raise ValueError(f"example must be one window (1, C, H, W), got {tuple(example.shape)}")
    restore = _with_threads(config.threads)
    try:
        model = model.to("cpu").eval()
        example = example.to("cpu", torch.float32).contiguous()
        w, r = config.warmup, config.repeats
        result: dict[str, Any] = {}
        result.update(_flatten_latency("latency_ms_cpu_bs1", torch_latency(model, example, w, r)))
        if extra_torch_variants:
            result.update(_flatten_latency("latency_ms_cpu_bs1_channels_last", torch_latency(model, example, w, r, True)))
            result.update(_flatten_latency("latency_ms_cpu_bs1_bn_folded", torch_latency(fold_batchnorm(model), example, w, r)))
        sessions = {}
        for key, blob in (("onnx", onnx_model), ("int8", onnx_model_int8)):
            if blob is not None:
                sessions[key] = onnx_session(blob, threads=config.threads)
            result.update(_flatten_latency(f"latency_ms_{key}_bs1", session_latency(sessions[key], example, w, r) if blob is not None else None))
        result["latency_ms_cuda_bs1"] = None
        if config.cuda:
            result.update(_flatten_latency("latency_ms_cuda_bs1", cuda_latency(model, example, w, r)))
        if config.throughput_batch:
            batch = example.expand(config.throughput_batch, -1, -1, -1).contiguous()
            tw, tr = 1, config.throughput_repeats
            result["throughput_batch"] = config.throughput_batch
            result["throughput_windows_per_s_torch"] = throughput(torch_latency(model, batch, tw, tr), config.throughput_batch)
            for key in ("onnx", "int8"):
                result[f"throughput_windows_per_s_{key}"] = (
                    throughput(session_latency(sessions[key], batch, tw, tr), config.throughput_batch) if key in sessions else None
                )
            del batch
        if config.memory:
            shape = tuple(int(d) for d in example.shape[1:])
            result.update(inference_peak_rss(model=model, onnx_model=onnx_model, onnx_model_int8=onnx_model_int8, input_shape=shape))
        if config.single_task:
            result.update(compare_mtl_to_single(model, example, w, r))
        result["torch_threads"] = torch.get_num_threads()
        result["ort_threads"] = config.threads  # None = ORT default (one per physical core)
        return result
    finally:
        restore()


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
    in_channels = int(model.features[0][0].in_channels)
    windows = random_plots(max(args.calibration_windows, 16), channels=in_channels, seed=1)
    example = windows[:1]
    restore = _with_threads(config.threads)
    try:
        onnx_model = export_onnx(model, example, opset=config.opset)
        agreement = compare_onnx_to_torch(model, onnx_session(onnx_model, config.threads), windows[:16], config.atol, config.rtol)
        onnx_int8 = None
        if config.int8:
            calibration = [windows[i : i + 8].numpy() for i in range(0, config.calibration_windows, 8)]
            onnx_int8 = quantize_int8(onnx_model, calibration, reduce_range=config.reduce_range)
    finally:
        restore()
    result = measure_inference(model, example, config, onnx_model, onnx_int8, extra_torch_variants=True)
    result["onnx_agreement"] = agreement
    result["onnx_model_kb"] = len(onnx_model) / 1024
    result["onnx_int8_model_kb"] = len(onnx_int8) / 1024 if onnx_int8 else None
    result.update(_ratios(result))
    result["paper_table_v"] = PAPER_TABLE_V
    result["model"] = str(args.model) if args.model else "untrained Table II MobileNetV2 (3 tasks), random binary inputs"
    for key, value in result.items():
        if isinstance(value, float):
            logger.info("%s = %.4g", key, value)
    return result
