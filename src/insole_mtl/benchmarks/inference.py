"""Inference efficiency of a multitask model (issue #5, SPEC §7, paper Table V).

``python -m insole_mtl.benchmarks inference [--model trained_model.pkl] [--threads 2] [--repeats 30]``

Works for every model family whatever its inputs (``model.input_names``: ``("recurrence_plots",)``,
``("recurrence_plots", "windows")`` or ``("windows",)``): an example or a batch is a TUPLE of
model-ready tensors in ``input_names`` order (:func:`model_inputs` builds it from the stored split
arrays). Measures, on one model and the same input windows:

* batch-1 latency (``warmup`` untimed passes, then ``repeats`` timed ones; mean/std/median/min in
  ms) of eager PyTorch fp32 (NCHW, and in the CLI channels_last and BatchNorm-folded), ONNX Runtime
  fp32 and ONNX Runtime int8 (static QDQ per-channel), and synchronised CUDA latency when a GPU is
  present;
* throughput (windows/s) at a larger batch for PyTorch and ONNX Runtime;
* MTL vs three single-task models of the same family and options (one per task, built with the
  registry from the MTL model's ``build_spec``; their weights are freshly initialised, which does
  not change parameters or latency);
* peak resident memory of batch-1 inference, each engine in a fresh subprocess.

The library functions here are used by the Kedro benchmark stage (``pipelines/benchmark``) too.
Without ``--model`` an untrained Table II model with the paper's three tasks is built; the inputs are
random (:func:`random_inputs`: binary recurrence plots ``(n, 14, 160, 160)`` for it; latency does
not depend on values).
"""

from __future__ import annotations

import argparse
import copy
import logging
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Union

import numpy as np
import torch

from insole_mtl.evaluation.efficiency import summarise_ms, time_calls
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS, MultitaskModel, TaskSpec, build_model
from insole_mtl.models.complexity import count_parameters
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


#: Model inputs: one tensor for a one-input model, else a tuple in ``model.input_names`` order.
Example = Union[torch.Tensor, Sequence[torch.Tensor]]

#: ndim of each known input's stored and model-ready arrays, without the batch axis
def as_example(example: Example) -> tuple[torch.Tensor, ...]:
    """A tensor -> a 1-tuple; a tuple/list of tensors -> a tuple."""
    if isinstance(example, torch.Tensor):
        return (example,)
    if isinstance(example, (tuple, list)) and example and all(isinstance(x, torch.Tensor) for x in example):
        return tuple(example)
    raise TypeError(f"example must be a tensor or a non-empty tuple of tensors (one per model input), got {type(example).__name__}")


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


def input_shapes(example: Example) -> tuple[tuple[int, ...], ...]:
    """Per-input shapes of ONE window (no batch axis), e.g. ``((14, 40, 40), (14, 160))``."""
    return tuple(tuple(int(d) for d in x.shape[1:]) for x in as_example(example))


def repeat_batch(example: Example, batch: int) -> tuple[torch.Tensor, ...]:
    """Each input of a one-window example repeated ``batch`` times along the batch axis (contiguous)."""
    return tuple(x.expand(batch, *x.shape[1:]).contiguous() for x in as_example(example))


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def _summary(seconds: list[float]) -> dict[str, float]:
    return summarise_ms(seconds)


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
    return _summary(time_calls(lambda: model(*inputs), warmup, repeats, inputs[0].device))


def session_latency(session: Any, example: Example | np.ndarray, warmup: int, repeats: int) -> dict[str, float]:
    """Batch latency (ms: mean/std/median/min) of an ONNX Runtime session on ``example`` (fed by input name)."""
    from insole_mtl.edge.onnx_export import session_feed

    feed = session_feed(session, example)
    names = [output.name for output in session.get_outputs()]
    return _summary(time_calls(lambda: session.run(names, feed), warmup, repeats))


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
    """One single-task model per task of ``model``: same family and options (registry), fresh (untrained) weights."""
    name, in_channels, options = model_build_spec(model)
    return [build_model(name, in_channels, [task], **options).eval() for task in model.tasks]


def compare_mtl_to_single(model: MultitaskModel, example: Example, warmup: int, repeats: int) -> dict[str, Any]:
    """Table V: the MTL model vs three single-task models run one after the other on one window.

    ``example``: one window, a tuple of inputs in ``model.input_names`` order (the single-task models
    read the same inputs).

    Returns:
        ``single_task_params`` (per task), ``single_task_latency_ms_cpu_bs1`` (per task, mean),
        ``three_single_task_params`` / ``three_single_task_latency_ms_cpu_bs1`` (sums),
        ``mtl_vs_single_params_ratio`` and ``mtl_vs_single_latency_ratio`` (MTL / sum of the three;
        the paper's Jetson Nano figures are ~0.33), ``single_task_weights: "untrained"``.
    """
    inputs = as_example(example)
    singles = single_task_models(model)
    mtl = torch_latency(model, inputs, warmup, repeats)
    params = {m.task_names[0]: count_parameters(m) for m in singles}
    latency = {m.task_names[0]: torch_latency(m, inputs, warmup, repeats)["mean"] for m in singles}
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
# Peak memory
# --------------------------------------------------------------------------------------------------
def _peak_rss_code(kind: str, n_inputs: int) -> str:
    engine = "import onnxruntime as ort\n" if kind == "onnx" else "import torch\nimport insole_mtl.models\n"
    load = (
        "opts = ort.SessionOptions(); opts.log_severity_level = 3\n"
        "model = ort.InferenceSession(blob, opts, providers=['CPUExecutionProvider'])\n"
        "feed = dict(zip([i.name for i in model.get_inputs()], xs))\n"  # graph inputs in input_names order
        "for _ in range(3): model.run(None, feed)\n"
        if kind == "onnx"
        else "model = torch.load(io.BytesIO(blob), weights_only=False).eval()\n"
        "xt = [torch.from_numpy(x) for x in xs]\n"
        "with torch.inference_mode():\n"
        "    for _ in range(3): model(*xt)\n"
    )
    return (
        "import io, sys\nimport numpy as np\n" + engine
        + "baseline = _peak_kb()\n"
        + "blob = open(MODEL, 'rb').read()\n"
        + f"with np.load(EXAMPLE) as _f: xs = [np.ascontiguousarray(_f['x{{}}'.format(i)]) for i in range({n_inputs})]\n"
        + load
        + "_result = {'baseline_rss_kb': baseline}\n"
    )  # fmt: skip


def inference_peak_rss(
    model: MultitaskModel | None,
    example: Example,
    onnx_model: bytes | None = None,
    onnx_model_int8: bytes | None = None,
) -> dict[str, float | None]:
    """Peak RSS (MiB) of batch-1 inference (3 passes) on ``example``, each engine in a fresh subprocess.

    Like :func:`insole_mtl.benchmarks.memory.inference_peak_rss`, for any number of model inputs: the
    pickled model (``torch.save``) or ONNX bytes and the example's arrays (``.npz``) go to the child
    through a temporary folder; ONNX sessions are fed the arrays in graph-input (= ``input_names``) order.

    Returns:
        ``peak_rss_mb_{torch,onnx,int8}_bs1``: the child's peak RSS (None for an engine not given) and
        ``inference_rss_mb_{...}_bs1``: the part above the child's RSS right after its imports.
    """
    import io
    import tempfile

    from insole_mtl.benchmarks.memory import run_child

    inputs = tuple(x.detach().to("cpu", torch.float32).numpy() for x in as_example(example))
    torch_blob = None
    if model is not None:
        buffer = io.BytesIO()
        torch.save(model.to("cpu"), buffer)
        torch_blob = buffer.getvalue()
    engines = {"torch": ("torch", torch_blob), "onnx": ("onnx", onnx_model), "int8": ("onnx", onnx_model_int8)}
    result: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory(prefix="insole_rss_") as tmp:
        example_path = Path(tmp, "example.npz")
        np.savez(example_path, **{f"x{i}": x for i, x in enumerate(inputs)})
        for key, (kind, blob) in engines.items():
            if blob is None:
                result[f"peak_rss_mb_{key}_bs1"] = result[f"inference_rss_mb_{key}_bs1"] = None
                continue
            model_path = Path(tmp, f"{key}.bin")
            model_path.write_bytes(blob)
            code = f"MODEL = {str(model_path)!r}\nEXAMPLE = {str(example_path)!r}\n" + _peak_rss_code(kind, len(inputs))
            child = run_child(code, timeout=600)
            result[f"peak_rss_mb_{key}_bs1"] = child["peak_rss_mb"]
            result[f"inference_rss_mb_{key}_bs1"] = child["peak_rss_mb"] - child["baseline_rss_kb"] / 2**10
            model_path.unlink()
    return result


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
    restore = _with_threads(config.threads)
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
    restore = _with_threads(config.threads)
    try:
        onnx_model = export_onnx(model, example, opset=config.opset)
        agreement = compare_onnx_to_torch(
            model, onnx_session(onnx_model, config.threads), tuple(x[:16] for x in windows), config.atol, config.rtol
        )
        onnx_int8 = None
        if config.int8:
            calibration = [tuple(x[i : i + 8].numpy() for x in windows) for i in range(0, config.calibration_windows, 8)]
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
    result["random_inputs"] = "binary plots / recurrence counts / normal raw windows (latency does not depend on values)"
    for key, value in result.items():
        if isinstance(value, float):
            logger.info("%s = %.4g", key, value)
    return result
