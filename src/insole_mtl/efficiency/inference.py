"""Inference efficiency of a multitask model (SPEC §7, paper Table V): the benchmark stage's figures.

Works for every model family whatever its inputs (``model.input_names``: ``("recurrence_plots",)``,
``("recurrence_plots", "windows")`` or ``("windows",)``): an example or a batch is a TUPLE of
model-ready tensors in ``input_names`` order (:func:`model_inputs` builds it from the stored split
arrays). :func:`measure_inference` measures, on one model and the same input windows:

* batch-1 latency (``warmup`` untimed passes, then ``repeats`` timed ones; mean/std/median/min in
  ms) of eager PyTorch fp32 (NCHW, and optionally channels_last and BatchNorm-folded), ONNX Runtime
  fp32 and ONNX Runtime int8 (static QDQ per-channel), and synchronised CUDA latency when a GPU is
  present;
* throughput (windows/s) at a larger batch for PyTorch and ONNX Runtime;
* MTL vs three single-task models of the same family and options (one per task, built with the
  registry from the MTL model's ``build_spec``; their weights are freshly initialised, which does
  not change parameters or latency);
* peak resident memory of batch-1 inference, each engine in a fresh subprocess.

Used by the Kedro benchmark stage (``pipelines/benchmark``) and the command-line tool
``python -m insole_mtl.benchmarks inference``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Union

import numpy as np
import torch

from insole_mtl.efficiency.latency import (
    Example,
    as_example,
    cuda_latency,
    has_image_input,
    input_shapes,
    repeat_batch,
    session_latency,
    throughput,
    torch_latency,
    with_threads,
)
from insole_mtl.efficiency.complexity import count_parameters
from insole_mtl.efficiency.memory import inference_peak_rss
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS, EnsembleModel, MultitaskModel, TaskSpec, build_model
from insole_mtl.training.data import default_input_transform, pick_input_arrays

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
        quant_format, per_channel, activation_type, weight_type, reduce_range, calibration_method, quant_scope:
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
    quant_scope: str = "feature_maps"
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


def input_names_of(model: torch.nn.Module) -> tuple[str, ...]:
    """``model.input_names`` (a clear error for a module without it)."""
    names = getattr(model, "input_names", None)
    if not names:
        raise TypeError(f"{type(model).__name__} has no input_names; expected a MultitaskModel")
    return tuple(names)


def model_arrays(model: torch.nn.Module | Sequence[str], arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The stored split arrays ``model`` (a :class:`MultitaskModel` or its ``input_names``) reads, in
    ``input_names`` order: :func:`insole_mtl.training.data.pick_input_arrays`."""
    names = tuple(model) if isinstance(model, (tuple, list)) else input_names_of(model)  # type: ignore[arg-type]
    return pick_input_arrays(names, arrays)


def n_windows(model: torch.nn.Module | Sequence[str], arrays: Mapping[str, np.ndarray]) -> int:
    """Number of windows of the split arrays ``model`` reads (checked to agree)."""
    return int(model_arrays(model, arrays)[0].shape[0])


def model_ready(array: np.ndarray, indices: np.ndarray | Sequence[int] | None = None) -> torch.Tensor:
    """Selected windows of one stored array as a model-ready float32 tensor.

    Bit-packed plots ``(n, C, L, ceil(L/8))`` uint8 are unpacked to ``(k, C, L, L)`` {0, 1}
    (:func:`insole_mtl.encoding.recurrence.unpack_recurrence_plots_torch`); recurrence counts
    ``(n, C, R, R)`` (the model scales them itself), float plots and raw windows ``(n, C, L)`` are
    cast to float32 — the rule of :func:`insole_mtl.training.data.default_input_transform`.
    """
    array = np.asarray(array) if not isinstance(array, np.ndarray) else array
    if array.ndim not in (3, 4):
        raise ValueError(f"inputs must be (n, C, L, P) packed / (n, C, R, R) plots or (n, C, L) raw windows, got shape {array.shape}")
    picked = array if indices is None else array[np.asarray(indices, dtype=np.int64)]
    picked = np.array(picked, copy=True) if not (picked.flags.writeable and picked.flags.c_contiguous) else picked
    transform = default_input_transform(array)
    return transform(torch.from_numpy(picked)).float()  # type: ignore[operator]


def model_inputs(
    model: torch.nn.Module | Sequence[str],
    arrays: Mapping[str, np.ndarray],
    indices: np.ndarray | Sequence[int] | None = None,
) -> tuple[torch.Tensor, ...]:
    """Selected windows as the model's model-ready inputs: a tuple of float32 tensors in ``input_names`` order.

    Args:
        model: a :class:`MultitaskModel` (or its ``input_names``).
        arrays: input name -> stored split array (see :func:`model_arrays`); only the inputs the
            model reads are read.
        indices: windows to take (default all).

    Returns:
        e.g. ``(plots (k, C, L, L),)`` for the paper's MobileNetV2 on packed plots,
        ``(counts (k, C, R, R), windows (k, C, L))`` with ``amplitude_features``, ``(windows (k, C, L),)``
        for the raw-signal models.
    """
    return tuple(model_ready(array, indices) for array in model_arrays(model, arrays))


def random_inputs(model: MultitaskModel, n: int, window_length: int = 160, density: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random model-ready inputs ``(n, ...)`` of ``model`` (for timing only): binary plots ``(n, C, L, L)`` (or
    recurrence counts ``(n, C, L/k, L/k)`` in ``0..k²`` with ``recurrence_cell = k``), normal raw windows ``(n, C, L)``."""
    in_channels = int(getattr(model, "in_channels"))
    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for name in input_names_of(model):
        if name == RECURRENCE_PLOTS:
            cell = int(getattr(model, "recurrence_cell", 1))
            size = window_length // cell
            plots = (torch.rand((n, in_channels, window_length, window_length), generator=generator) < density).float()
            if cell > 1:  # counts per cell, as the encoding stage stores them
                plots = plots[..., : size * cell, : size * cell].reshape(n, in_channels, size, cell, size, cell).sum(dim=(3, 5))
            inputs.append(plots)
        elif name == WINDOWS:
            inputs.append(torch.randn((n, in_channels, window_length), generator=generator))
        else:
            raise ValueError(f"no random generator for model input {name!r}")
    return tuple(inputs)


def random_plots(n: int, channels: int = 14, size: int = 160, density: float = 0.3, seed: int = 0) -> torch.Tensor:
    """Random binary recurrence plots ``(n, channels, size, size)`` float32 (for timing only)."""
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((n, channels, size, size), generator=generator) < density).float()


# --------------------------------------------------------------------------------------------------
# MTL vs single-task
# --------------------------------------------------------------------------------------------------
def mobilenet_options(model: torch.nn.Module) -> dict[str, Any]:
    """Constructor options of a :class:`MultitaskMobileNetV2` read back from the module (stem, rows, widths,
    recurrence cell, amplitude fusion)."""
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
        "recurrence_cell": int(getattr(model, "recurrence_cell", 1)),
        "amplitude_features": getattr(model, "amplitude", None) is not None,
    }


#: Attribute recording how a model was built: ``{"name": registry name, "in_channels": int, "options": dict}``
#: (``models.registry.build_model`` sets it; see :func:`model_build_spec`).
BUILD_SPEC_ATTRIBUTE = "build_spec"


def model_build_spec(model: torch.nn.Module) -> tuple[str, int, dict[str, Any]]:
    """``(registry name, in_channels, options)`` that rebuild ``model``'s architecture with ``build_model``.

    Read from ``model.build_spec`` (recorded by the registry); a MobileNetV2 without it (a model pickled
    before the registry recorded it) is read back from its modules (:func:`mobilenet_options`).

    Raises:
        ValueError: any other model without ``build_spec``.
    """
    spec = getattr(model, BUILD_SPEC_ATTRIBUTE, None)
    if spec is not None:
        try:
            return str(spec["name"]), int(spec["in_channels"]), dict(spec.get("options") or {})
        except (KeyError, TypeError) as error:
            raise ValueError(
                f"{type(model).__name__}.{BUILD_SPEC_ATTRIBUTE} must be {{'name', 'in_channels', 'options'}}, got {spec!r}"
            ) from error
    from insole_mtl.models.mobilenet import MultitaskMobileNetV2

    if isinstance(model, MultitaskMobileNetV2):
        return "mobilenetv2", int(model.in_channels), mobilenet_options(model)
    raise ValueError(
        f"cannot build single-task models like this {type(model).__name__}: it does not record its registry name and "
        f"options (no `{BUILD_SPEC_ATTRIBUTE}` attribute; models built by insole_mtl.models.build_model record it). "
        "Set benchmark.single_task: false to skip the MTL vs single-task comparison."
    )


def single_task_models(model: MultitaskModel) -> list[MultitaskModel]:
    """One single-task model per task of ``model``: same family and options (registry), fresh (untrained) weights;
    for an ensemble of N members, an ensemble of N single-task members per task (like for like)."""
    name, in_channels, options = model_build_spec(model)
    members = int((getattr(model, BUILD_SPEC_ATTRIBUTE, None) or {}).get("members", 1))

    def one(task: TaskSpec) -> MultitaskModel:
        built = [build_model(name, in_channels, [task], **options) for _ in range(members)]
        return (built[0] if members == 1 else EnsembleModel(built)).eval()

    return [one(task) for task in model.tasks]


def compare_mtl_to_single(model: MultitaskModel, example: Example, warmup: int, repeats: int) -> dict[str, Any]:
    """Table V: the MTL model vs three single-task models run one after the other on one window.

    ``example``: one window, a tuple of inputs in ``model.input_names`` order (the single-task models
    read the same inputs).

    Returns:
        ``single_task_params`` (per task), ``single_task_latency_ms_cpu_bs1`` (per task, mean; ``..._median``
        beside it), ``three_single_task_params`` / ``three_single_task_latency_ms_cpu_bs1`` (sums, of means and of
        medians), ``mtl_vs_single_params_ratio``, ``mtl_vs_single_latency_ratio`` (MTL / sum of the three, by
        medians: one stalled call on a shared CPU moves a mean by more than the models differ, as for the
        benchmark stage's speed-ups) and ``mtl_vs_single_latency_ratio_means`` (the same by means, the paper's
        Jetson Nano figures are ~0.33), ``single_task_weights: "untrained"``.
    """
    inputs = as_example(example)
    singles = single_task_models(model)
    mtl = torch_latency(model, inputs, warmup, repeats)
    params = {m.task_names[0]: count_parameters(m) for m in singles}
    timed = {m.task_names[0]: torch_latency(m, inputs, warmup, repeats) for m in singles}
    latency = {task: figures["mean"] for task, figures in timed.items()}
    median = {task: figures["median"] for task, figures in timed.items()}
    total_params, total_latency, total_median = sum(params.values()), sum(latency.values()), sum(median.values())
    return {
        "mtl_latency_ms_cpu_bs1": mtl["mean"],
        "mtl_latency_ms_cpu_bs1_median": mtl["median"],
        "single_task_params": params,
        "single_task_latency_ms_cpu_bs1": latency,
        "single_task_latency_ms_cpu_bs1_median": median,
        "three_single_task_params": total_params,
        "three_single_task_latency_ms_cpu_bs1": total_latency,
        "three_single_task_latency_ms_cpu_bs1_median": total_median,
        "mtl_vs_single_params_ratio": count_parameters(model) / total_params,
        "mtl_vs_single_latency_ratio": mtl["median"] / total_median,
        "mtl_vs_single_latency_ratio_means": mtl["mean"] / total_latency,
        "single_task_weights": "untrained (architecture only: parameters and latency do not depend on weights)",
    }


# --------------------------------------------------------------------------------------------------
# Peak memory
# --------------------------------------------------------------------------------------------------
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
    example: Example,
    config: BenchmarkConfig,
    onnx_model: bytes | None = None,
    onnx_model_int8: bytes | None = None,
    extra_torch_variants: bool = False,
) -> dict[str, Any]:
    """Latency, throughput, CUDA latency, peak memory and MTL-vs-single-task figures of one model.

    Args:
        model: the multitask model (CPU; put in eval mode).
        example: one model-ready window, a tuple of ``(1, ...)`` float32 tensors in ``model.input_names``
            order (a single tensor for a one-input model); throughput batches repeat each input.
        config: benchmark settings.
        onnx_model, onnx_model_int8: serialised ONNX models to time (skipped when None).
        extra_torch_variants: also time eager channels_last (only when an input is 4-D; None otherwise)
            and BatchNorm-folded PyTorch.

    Returns:
        Flat figures: ``latency_ms_cpu_bs1`` (+ ``_std``/``_median``/``_min``), ``latency_ms_onnx_bs1``,
        ``latency_ms_int8_bs1`` (same suffixes; None when not measured), ``latency_ms_cuda_bs1`` (None
        without CUDA), ``throughput_windows_per_s_{torch,onnx,int8}`` and ``throughput_batch``,
        ``peak_rss_mb_{torch,onnx,int8}_bs1`` (+ the import-only baseline), the single-task
        comparison keys of :func:`compare_mtl_to_single`, ``torch_threads``/``ort_threads``,
        ``input_names`` and ``input_shapes`` (``{name: per-window shape}`` of the model-ready inputs).
    """
    from insole_mtl.edge.onnx_export import fold_batchnorm, onnx_session

    names = input_names_of(model)
    inputs = as_example(example)
    if len(inputs) != len(names):
        raise ValueError(f"{type(model).__name__} reads {len(names)} input(s) {list(names)}, got {len(inputs)} example tensor(s)")
    bad = {name: tuple(x.shape) for name, x in zip(names, inputs) if x.ndim < 2 or x.shape[0] != 1}
    if bad:
        raise ValueError(f"example must be one window (1, ...) per input, got shapes {bad}")
    restore = with_threads(config.threads)
    try:
        model = model.to("cpu").eval()
        inputs = tuple(x.to("cpu", torch.float32).contiguous() for x in inputs)
        w, r = config.warmup, config.repeats
        result: dict[str, Any] = {
            "input_names": list(names),
            "input_shapes": {name: list(shape) for name, shape in zip(names, input_shapes(inputs))},
        }
        result.update(_flatten_latency("latency_ms_cpu_bs1", torch_latency(model, inputs, w, r)))
        if extra_torch_variants:
            channels_last = torch_latency(model, inputs, w, r, True) if has_image_input(inputs) else None
            result.update(_flatten_latency("latency_ms_cpu_bs1_channels_last", channels_last))
            result.update(_flatten_latency("latency_ms_cpu_bs1_bn_folded", torch_latency(fold_batchnorm(model), inputs, w, r)))
        sessions = {}
        for key, blob in (("onnx", onnx_model), ("int8", onnx_model_int8)):
            if blob is not None:
                sessions[key] = onnx_session(blob, threads=config.threads)
            result.update(_flatten_latency(f"latency_ms_{key}_bs1", session_latency(sessions[key], inputs, w, r) if blob is not None else None))
        result["latency_ms_cuda_bs1"] = None
        if config.cuda:
            result.update(_flatten_latency("latency_ms_cuda_bs1", cuda_latency(model, inputs, w, r)))
        if config.throughput_batch:
            batch = repeat_batch(inputs, config.throughput_batch)
            tw, tr = 1, config.throughput_repeats
            result["throughput_batch"] = config.throughput_batch
            result["throughput_windows_per_s_torch"] = throughput(torch_latency(model, batch, tw, tr), config.throughput_batch)
            for key in ("onnx", "int8"):
                result[f"throughput_windows_per_s_{key}"] = (
                    throughput(session_latency(sessions[key], batch, tw, tr), config.throughput_batch) if key in sessions else None
                )
            del batch
        if config.memory:
            result.update(inference_peak_rss(model, inputs, onnx_model=onnx_model, onnx_model_int8=onnx_model_int8))
        if config.single_task:
            result.update(compare_mtl_to_single(model, inputs, w, r))
        result["torch_threads"] = torch.get_num_threads()
        result["ort_threads"] = config.threads  # None = ORT default (one per physical core)
        return result
    finally:
        restore()
