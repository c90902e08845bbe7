"""A self-contained edge model: raw windows in sensor units in, activity/speed/weight out (issue #11).

The existing export (:func:`insole_mtl.edge.onnx_export.export_onnx`) takes a precomputed recurrence-plot stack,
so a device would also need our Python encoder. :func:`export_raw_window_onnx` puts the encoder into the graph:

* input ``windows`` ``(batch, C, L)`` float32, the raw window in sensor units (channel order of
  ``model.preprocessing["channels"]``);
* recurrence plots computed in float64 inside the graph, exactly the definition of
  :mod:`insole_mtl.encoding.recurrence` (``|x_k - x_l| < eps``, ``eps = percentage / 100 * (max - min)`` per window
  and channel, strict inequality), so the plots are BIT-IDENTICAL to the training encoder's, then reduced to
  ``R x R`` recurrence counts per ``k x k`` cell (``k = L / R``) when the model reads reduced plots, in the
  formulation ONNX Runtime runs fastest for that ``k`` (:class:`RecurrenceCounts`; ``formulation="direct"``
  keeps the definition written literally, the reference that stock ONNX Runtime is timed on);
* the amplitude statistics (mean, std, min, max per channel) and every standardisation are part of the model;
* outputs named after the tasks: ``activity`` logits ``(batch, K)``, ``speed`` (km/h) and ``weight`` (kg)
  ``(batch,)``, plus ``activity_probability`` ``(batch, K)`` (softmax).

Variants (:func:`build_edge_variants`): ``fp32`` (the raw-window graph) and ``int8`` (the network's
convolutional feature maps statically quantised, QDQ, per-channel, U8S8, calibrated on training windows; the plot
computation, in float32 there (:data:`INT8_PLOT_PRECISION`: the network is approximate anyway), is merged in front
of it with :func:`onnx.compose.merge_models`). In both, a
convolution whose input channels the CPU kernels handle slowly (the 14-channel stem) reads zero-padded inputs
(:mod:`insole_mtl.edge.conv_channels`): exact, 47 -> 25 µs for the int8 stem at batch 1.
:func:`edge_session` opens the session (ORT_ENABLE_ALL, ORT's default threading; one thread without spinning on
request); :func:`default_variant` picks int8 on CPUs with VNNI (``avx512_vnni``/``avx_vnni``: ORT's u8s8 kernels
use ``vpdpbusd``) and fp32 elsewhere (on AVX2 without VNNI int8 was slower than fp32, issue #11), at run time from
``/proc/cpuinfo``.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import compose
from torch import nn

from insole_mtl.cpu import cpu_info
from insole_mtl.edge.conv_channels import FP32_PADDING, ChannelPadding, pad_conv_input_channels_bytes
from insole_mtl.edge.onnx_export import DEFAULT_OPSET, export_onnx, onnx_session, run_session_batched, split_batches
from insole_mtl.edge.quantization import quantize_int8
from insole_mtl.encoding.recurrence import recurrence_cell
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS, MultitaskModel

logger = logging.getLogger(__name__)

#: name of the graph's only input
INPUT = "windows"
#: output with the softmax of the activity logits
PROBABILITY = "activity_probability"
#: variants of :func:`build_edge_variants`
VARIANTS: tuple[str, ...] = ("fp32", "int8")
#: formulations of the in-graph recurrence counts (:class:`RecurrenceCounts`), all exact
PLOT_FORMULATIONS: tuple[str, ...] = ("direct", "symmetric", "folded")
#: smallest cell ``k`` for which ``auto`` takes the folded formulation (measured, :class:`RecurrenceCounts`)
FOLDED_MIN_CELL = 2
#: arithmetic of the in-graph plot computation (:class:`RecurrenceCounts`): ``float64`` is the encoder's, exact
PLOT_PRECISIONS: dict[str, torch.dtype] = {"float64": torch.float64, "float32": torch.float32}
#: the int8 variant's plot arithmetic: its network is approximate anyway, and float32 pairs take ~28 % less time
#: at batch 1 (``folded`` block, one thread, ``python -m insole_mtl.benchmarks edge_plot_block``: 0.134 against
#: 0.185 ms on a 2-vCPU EPYC, 2026-12-02); the counts it changes are reported by ``python -m
#: insole_mtl.edge.raw_benchmark`` (``int8_plot_counts``: none on the default run's 440 test windows)
INT8_PLOT_PRECISION = "float32"


class RecurrenceCounts(nn.Module):
    """Raw windows ``(b, C, L)`` float32 -> recurrence plots ``(b, C, L, L)`` (0/1) or counts per ``k x k`` cell
    ``(b, C, L/k, L/k)`` (0..k²), float32, computed in float64 like the training encoder (or in float32 on request).

    Three formulations, all BIT-IDENTICAL to the encoder in float64 (``tests/edge/test_raw_window.py``), told apart only by
    what ONNX Runtime makes of them:

    * ``direct``: the definition written literally: ``|x_k - x_l| < eps`` for every pair, then a sum pool over
      each ``k x k`` cell (an all-ones convolution of stride ``k``: sums of 0/1 are exact in float32, where
      ``AveragePool * k²`` is not once ``k²`` is not a power of two);
    * ``symmetric``: a signed compare per ordered pair and no absolute value,
      ``S[I, J] = #{(a, b): x[Ik+a] - x[Jk+b] < eps}``, laid out ``(b, C, a, I, l)`` so the subtraction broadcasts
      over runs of ``L`` contiguous samples and the cell sums run over two axes instead of a pool; then
      ``counts = relu(S + Sᵀ - k²)``. Exact because ``x_l - x_k`` is exactly ``-(x_k - x_l)`` in IEEE
      arithmetic, so ``[d < eps] + [-d < eps] = 1 + [|d| < eps]`` when ``eps > 0``, and ``= [d != 0] <= 1``
      when ``eps = 0`` (a constant channel, whose counts the ``relu`` keeps at 0);
    * ``folded``: each unordered pair of cells once. ``|x_k - x_l|`` is exactly ``|x_l - x_k|`` in IEEE arithmetic,
      so ``counts[I, J] = counts[J, I]``; with ``n = L/k`` cells, the cells ``(I, (I + d) mod n)`` for the offsets
      ``d = 0 .. n // 2`` meet every unordered pair at least once, so ``|x_k - x_l| < eps`` is evaluated on
      ``(n // 2 + 1) n k²`` pairs (52.5 % of ``L²`` at n = 40) and a constant index map lays the result out as
      ``(L/k, L/k)``. Laid out ``(b, d, b', a, (I, C))``: every large elementwise op runs over ``n C``
      contiguous values of both operands, the ``k²`` sums are one reduction over a middle axis, and the partner
      cells come from one gather of whole ``C``-channel rows (:func:`folded_counts`).

    ``auto`` (the default) takes ``folded`` for cells of ``k >= 2`` and ``direct`` for full plots. Measured on one
    thread at batch 1 (the default run's 14-channel 160-sample test windows; ``python -m insole_mtl.benchmarks
    edge_plot_block --cell k``, 2026-12-02): ``direct`` / ``symmetric`` / ``folded`` 0.32 / 0.22 / 0.16 ms at
    k = 4, 0.41-0.44 / 0.35-0.37 / 0.23-0.25 at k = 2, 0.33 / 0.21 / 0.19 at k = 8, but 0.26 / 0.85 / 0.48 at
    k = 1, where the others' transposes and gathers cost more than the pool they save. ``folded`` is the
    batch-1 layout: from about 16 windows a call its float64 pair tensors (1.5 MB a window) leave the cache and
    ``symmetric`` is faster per window (0.50 against 0.59 ms at 64); a device calls the graph one window at a time.

    Args:
        percentage: ``eps`` as a percentage of the window-channel maximum distance, in (0, 100].
        cell: ``k`` (1 = full plots).
        formulation: ``auto``, ``direct``, ``symmetric`` or ``folded``.
        precision: ``float64`` (the encoder's arithmetic: bit-identical) or ``float32``, half the bytes per pair:
            ``x_k - x_l`` and ``eps`` are rounded to float32, so a distance within a rounding of ``eps`` can fall on
            the other side of it (the int8 path's option, whose network is approximate anyway; the counts it changes
            are counted by ``python -m insole_mtl.edge.raw_benchmark``).
    """

    def __init__(self, percentage: float, cell: int = 1, formulation: str = "auto", precision: str = "float64") -> None:
        super().__init__()
        if not 0.0 < float(percentage) <= 100.0:
            raise ValueError(f"percentage must be in (0, 100], got {percentage!r}")
        if formulation not in ("auto", *PLOT_FORMULATIONS):
            raise ValueError(f"unknown plot formulation {formulation!r}; expected one of {['auto', *PLOT_FORMULATIONS]}")
        self.fraction = float(percentage) / 100  # the encoder's ``p / 100``, in Python float64 as there
        self.cell = int(cell)
        if formulation == "auto":
            formulation = "folded" if self.cell >= FOLDED_MIN_CELL else "direct"
        self.formulation = formulation
        if precision not in PLOT_PRECISIONS:
            raise ValueError(f"unknown plot precision {precision!r}; expected one of {list(PLOT_PRECISIONS)}")
        self.precision = precision

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        x = windows.to(PLOT_PRECISIONS[self.precision])
        eps = recurrence_threshold(x, self.fraction)
        if self.formulation == "symmetric":
            return symmetric_counts(x, eps, self.cell)
        if self.formulation == "folded":
            return folded_counts(x, eps, self.cell)
        plots = (torch.abs(x.unsqueeze(-1) - x.unsqueeze(-2)) < eps.unsqueeze(-1).unsqueeze(-1)).to(torch.float32)
        if self.cell == 1:
            return plots
        b, c, length, _ = plots.shape
        ones = torch.ones(1, 1, self.cell, self.cell, dtype=plots.dtype)
        counts = nn.functional.conv2d(plots.reshape(b * c, 1, length, length), ones, stride=self.cell)
        return counts.reshape(b, c, length // self.cell, length // self.cell)


def recurrence_threshold(x: torch.Tensor, fraction: float) -> torch.Tensor:
    """The encoder's ``eps`` of every window channel: ``fraction`` of its range, ``(b, C, L) -> (b, C)`` in x's dtype."""
    return fraction * (torch.amax(x, dim=-1) - torch.amin(x, dim=-1))


def symmetric_counts(x: torch.Tensor, eps: torch.Tensor, cell: int) -> torch.Tensor:
    """Recurrence counts per ``cell x cell`` cell in the ``symmetric`` formulation (:class:`RecurrenceCounts`):
    windows ``x (b, C, L)`` and thresholds ``eps (b, C)`` of one dtype -> ``(b, C, L/cell, L/cell)`` float32."""
    b, c, length = x.shape
    k, n = int(cell), length // int(cell)
    rows = x.reshape(b, c, n, k).transpose(2, 3).reshape(b, c, k, n, 1)  # rows[a, I] = x[Ik + a]
    below = (rows - x.reshape(b, c, 1, 1, length)) < eps.reshape(b, c, 1, 1, 1)  # (b, C, a, I, l)
    s = below.to(torch.float32).sum(2).reshape(b, c, n, n, k).sum(-1)  # S (b, C, I, J)
    return torch.relu(s + s.transpose(-1, -2) - float(k * k))


def folded_cell_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Constant indices of the ``folded`` formulation for ``n`` cells a side, ``D = n // 2 + 1`` offsets.

    Returns:
        ``partner (D * n,)``: the cell ``(I + d) mod n`` paired with cell ``I`` at offset ``d``, row ``d * n + I``;
        ``layout (n * n,)``: for cell ``(I, J)`` (row ``I * n + J``), the row ``d * n + I'`` of the folded counts
        that holds it: ``d = (J - I) mod n, I' = I`` where ``d <= n // 2``, else the mirrored pair ``(J, I)``.
    """
    cells = np.arange(int(n))
    partner = (cells[None, :] + np.arange(int(n) // 2 + 1)[:, None]) % n
    offset = (cells[None, :] - cells[:, None]) % n  # [I, J]
    layout = np.where(offset <= n // 2, offset * n + cells[:, None], ((cells[:, None] - cells[None, :]) % n) * n + cells[None, :])
    return partner.reshape(-1), layout.reshape(-1)


def folded_counts(x: torch.Tensor, eps: torch.Tensor, cell: int) -> torch.Tensor:
    """Recurrence counts per ``cell x cell`` cell in the ``folded`` formulation (:class:`RecurrenceCounts`):
    windows ``x (b, C, L)`` and thresholds ``eps (b, C)`` of one dtype -> ``(b, C, L/cell, L/cell)`` float32."""
    # every size but the batch as a Python int and the batch as -1: the exported reshapes get constant shapes, so
    # no Shape/Gather/Concat chain runs per call (ONNX Runtime cannot fold one over a dynamic batch)
    c, length, k = int(x.shape[1]), int(x.shape[2]), int(cell)
    n = length // k
    offsets, m = n // 2 + 1, n * c
    partner_cells, layout = folded_cell_indices(n)
    # row b' n + (I + d) mod n of the (a, I) rows below, in (d, b', I) order: one gather lays the partners out as the
    # pairs need them (a gather on the cell axis and a transpose after it: 4 % slower at batch 1)
    partner_rows = (np.arange(k)[None, :, None] * n + partner_cells.reshape(offsets, 1, n)).reshape(-1)
    cells = x.reshape(-1, c, n, k).permute(0, 3, 2, 1).reshape(-1, k * n, c)  # row a n + I holds x[:, I k + a]
    partner = torch.index_select(cells, 1, torch.as_tensor(partner_rows, dtype=torch.long))  # (b, (d, b', I), C)
    rows = cells.reshape(-1, 1, 1, k, m)
    # eps laid out like the pairs' last axis; a product with ones, not an expand, keeps the shapes constant
    eps_rows = (eps.reshape(-1, 1, c) * torch.ones(n, c, dtype=eps.dtype)).reshape(-1, 1, 1, 1, m)
    near = torch.abs(rows - partner.reshape(-1, offsets, k, 1, m)) < eps_rows
    folded = near.to(torch.float32).reshape(-1, offsets, k * k, m).sum(2).reshape(-1, offsets * n, c)
    return torch.index_select(folded, 1, torch.as_tensor(layout, dtype=torch.long)).reshape(-1, n, n, c).permute(0, 3, 1, 2)


class PlotInputs(nn.Module):
    """Raw windows -> the model's inputs in ``input_names`` order (the preprocessing graph of the int8 variant);
    ``formulation`` and ``precision``: :class:`RecurrenceCounts`'."""

    def __init__(self, model: MultitaskModel, formulation: str = "auto", precision: str = "float64") -> None:
        super().__init__()
        self.input_names = tuple(model.input_names)
        pre = model.preprocessing.get("recurrence") or {}
        length = int(model.preprocessing["window_length"])
        resolution = pre.get("resolution")
        cell = recurrence_cell(length, int(resolution)) if resolution and int(resolution) != length else 1
        percentage = float(pre.get("percentage", 10.0))
        self.encoder = RecurrenceCounts(percentage, cell, formulation, precision) if RECURRENCE_PLOTS in self.input_names else None

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = []
        for name in self.input_names:
            out.append(self.encoder(windows) if name == RECURRENCE_PLOTS else windows * 1.0)
        return tuple(out)


class RawWindowModel(nn.Module):
    """``forward(windows)`` -> ``(*task outputs in task order, activity probability)``, physical units."""

    def __init__(self, model: MultitaskModel, formulation: str = "auto", precision: str = "float64") -> None:
        super().__init__()
        self.model = model
        self.inputs = PlotInputs(model, formulation, precision)
        self.output_names = (*model.task_names, PROBABILITY) if "activity" in model.task_names else model.task_names

    def forward(self, windows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model.predict(*self.inputs(windows))
        result = [outputs[name] for name in self.model.task_names]
        if "activity" in self.model.task_names:
            result.append(torch.softmax(outputs["activity"], dim=-1))
        return tuple(result)


def _check_model(model: MultitaskModel) -> tuple[int, int]:
    if not isinstance(model, MultitaskModel):
        raise TypeError(f"expected a MultitaskModel, got {type(model).__name__}")
    pre = model.preprocessing or {}
    if not pre.get("channels") or not pre.get("window_length"):
        raise ValueError("the model records no channels/window_length in model.preprocessing; train it with the insole_mtl pipeline")
    return len(pre["channels"]), int(pre["window_length"])


def export_window_module(module: nn.Module, example: torch.Tensor, outputs: Sequence[str], opset: int = DEFAULT_OPSET) -> bytes:
    """ONNX bytes of a module of raw windows: input ``windows``, the given ``outputs``, a dynamic batch axis."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, input_names=[INPUT], output_names=list(outputs),
            dynamic_axes={name: {0: "batch"} for name in (INPUT, *outputs)}, opset_version=opset, do_constant_folding=True,
        )  # fmt: skip
    return buffer.getvalue()


def export_raw_window_onnx(
    model: MultitaskModel,
    opset: int = DEFAULT_OPSET,
    formulation: str = "auto",
    channel_padding: ChannelPadding | None = FP32_PADDING,
    plot_precision: str = "float64",
) -> bytes:
    """The fp32 self-contained graph: ``windows (batch, C, L)`` -> task outputs + ``activity_probability``;
    ``formulation`` and ``plot_precision`` of the plot block: :class:`RecurrenceCounts`' (float64: the encoder's
    plots bit for bit); ``channel_padding``: which convolutions read zero-padded inputs
    (:mod:`insole_mtl.edge.conv_channels`; None: the graph as exported, the stock reference)."""
    channels, length = _check_model(model)
    was_training = model.training
    wrapper = RawWindowModel(model.to("cpu").eval(), formulation, plot_precision).eval()
    try:
        graph = export_window_module(wrapper, torch.zeros(2, channels, length), wrapper.output_names, opset)
    finally:
        model.train(was_training)
    if channel_padding is None:
        return graph
    return pad_conv_input_channels_bytes(graph, channel_padding)


def _preprocessing_graph(model: MultitaskModel, opset: int, formulation: str, precision: str) -> onnx.ModelProto:
    channels, length = _check_model(model)
    module = PlotInputs(model, formulation, precision).eval()
    names = [f"{name}_in" for name in module.input_names]
    return onnx.load_from_string(export_window_module(module, torch.zeros(2, channels, length), names, opset))


def _with_probability(graph_model: onnx.ModelProto, classes_output: str = "activity") -> onnx.ModelProto:
    """Append ``activity_probability = Softmax(activity, axis=-1)`` to a graph's outputs."""
    graph = graph_model.graph
    if classes_output not in [o.name for o in graph.output]:
        return graph_model
    graph.node.append(onnx.helper.make_node("Softmax", [classes_output], [PROBABILITY], axis=-1, name="activity_softmax"))
    logits = next(o for o in graph.output if o.name == classes_output)
    probability = onnx.ValueInfoProto()
    probability.CopyFrom(logits)
    probability.name = PROBABILITY
    graph.output.append(probability)
    return graph_model


def model_ready_inputs(model: MultitaskModel, windows: np.ndarray) -> tuple[np.ndarray, ...]:
    """The plot network's float32 inputs of raw windows (what the int8 calibration sees), ``input_names`` order."""
    with torch.no_grad():
        return tuple(t.numpy() for t in PlotInputs(model).eval()(torch.as_tensor(np.asarray(windows, dtype=np.float32))))


def int8_parts(
    model: MultitaskModel,
    calibration_windows: np.ndarray,
    batch_size: int = 32,
    opset: int = DEFAULT_OPSET,
    formulation: str = "auto",
    plot_precision: str = INT8_PLOT_PRECISION,
    **quantize_options: object,
) -> tuple[onnx.ModelProto, onnx.ModelProto]:
    """The two graphs the int8 variant merges: the plot computation (``windows`` -> ``<input>_in`` for each
    model input) and the statically quantised network (the model's inputs -> task outputs; with
    :func:`~insole_mtl.edge.quantization.quantize_int8`'s default, convolutions whose input channels are not a
    multiple of 4 read zero-padded inputs).

    Args:
        calibration_windows: raw TRAINING windows ``(n, C, L)`` (a few hundred), in sensor units.
        formulation, plot_precision: of the plot block (:class:`RecurrenceCounts`' ``formulation``, ``precision``).
        quantize_options: passed to :func:`insole_mtl.edge.quantization.quantize_int8`.
    """
    calibration_windows = np.asarray(calibration_windows, dtype=np.float32)
    if calibration_windows.ndim != 3 or len(calibration_windows) == 0:
        raise ValueError(f"calibration windows must be non-empty (n, C, L), got shape {calibration_windows.shape}")
    example = model_ready_inputs(model, calibration_windows[:2])
    network = export_onnx(model, tuple(torch.as_tensor(x) for x in example), opset=opset)
    batches = (model_ready_inputs(model, calibration_windows[i : i + batch_size]) for i in range(0, len(calibration_windows), batch_size))
    return _preprocessing_graph(model, opset, formulation, plot_precision), onnx.load_from_string(quantize_int8(network, batches, **quantize_options))


def merge_int8_parts(model: MultitaskModel, pre: onnx.ModelProto, quantised: onnx.ModelProto) -> bytes:
    """The int8 self-contained graph from :func:`int8_parts`' two graphs (left unchanged): ``pre`` feeding
    ``quantised``, plus ``activity_probability``."""
    pre = compose.add_prefix(pre, "pre_", rename_inputs=False, rename_outputs=False)
    quantised = onnx.load_from_string(quantised.SerializeToString())  # a copy: the versions are aligned in place
    # align opset/IR versions so merge_models accepts both graphs
    quantised.ir_version = pre.ir_version = max(pre.ir_version, quantised.ir_version)
    opsets = {o.domain: o.version for o in quantised.opset_import}
    for o in pre.opset_import:
        o.version = max(o.version, opsets.get(o.domain, o.version))
    for o in quantised.opset_import:
        o.version = max(o.version, {p.domain: p.version for p in pre.opset_import}.get(o.domain, o.version))
    io_map = [(f"{name}_in", name) for name in model.input_names]
    merged = compose.merge_models(pre, quantised, io_map=io_map)
    return _with_probability(merged).SerializeToString()


def export_int8_raw_window_onnx(
    model: MultitaskModel,
    calibration_windows: np.ndarray,
    batch_size: int = 32,
    opset: int = DEFAULT_OPSET,
    formulation: str = "auto",
    plot_precision: str = INT8_PLOT_PRECISION,
    **quantize_options: object,
) -> bytes:
    """The int8 self-contained graph: the plot computation (float32 by default, :data:`INT8_PLOT_PRECISION`) + the
    statically quantised network
    (:func:`int8_parts`, :func:`merge_int8_parts`)."""
    return merge_int8_parts(model, *int8_parts(model, calibration_windows, batch_size, opset, formulation, plot_precision, **quantize_options))


def build_edge_variants(model: MultitaskModel, calibration_windows: np.ndarray, variants: Iterable[str] = VARIANTS) -> dict[str, bytes]:
    """``{"fp32": bytes, "int8": bytes}`` (the requested ones) of the self-contained graph."""
    result: dict[str, bytes] = {}
    for variant in variants:
        if variant == "fp32":
            result[variant] = export_raw_window_onnx(model)
        elif variant == "int8":
            result[variant] = export_int8_raw_window_onnx(model, calibration_windows)
        else:
            raise ValueError(f"unknown edge variant {variant!r}; expected one of {list(VARIANTS)}")
    return result


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo`` on Linux; empty elsewhere)."""
    return cpu_info()[1] or set()


def has_vnni(flags: set[str] | None = None) -> bool:
    """True when the CPU has an int8 dot-product instruction ORT uses (AVX-512 VNNI, AVX-VNNI, AMX-INT8, ARM dotprod)."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp"})


def default_variant(flags: set[str] | None = None) -> str:
    """``"int8"`` on a CPU with VNNI, else ``"fp32"`` (see the module docstring)."""
    return "int8" if has_vnni(flags) else "fp32"


def stock_session(model_bytes: bytes, threads: int | None = None) -> ort.InferenceSession:
    """ONNX Runtime as a user gets it: default session options, CPU provider; ``threads`` set only the intra-op
    thread count (the one-thread reference that separates what threading does from what the graph does)."""
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = int(threads)
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def edge_session(model_bytes: bytes, threads: int | None = None, spinning: bool = True) -> ort.InferenceSession:
    """The edge session: all graph optimisations, sequential execution, ``threads`` intra-op threads (None: ORT's
    default, one per physical core) spin-waiting between runs unless ``spinning=False``
    (:func:`~insole_mtl.edge.onnx_export.onnx_session`). ORT's default threading is the fastest measured at batch 1
    when the cores are free, back to back and in a stream (README "A self-contained edge model"); on CPUs shared
    with other work ``threads=1, spinning=False`` is steadier and never busy-waits."""
    return onnx_session(model_bytes, threads=threads, optimization="all", spinning=spinning)


def run_raw(session: ort.InferenceSession, windows: np.ndarray, batch_size: int = 16) -> dict[str, np.ndarray]:
    """Outputs ``{name: array}`` of a raw-window session over ``windows (n, C, L)``, in batches.

    16 windows a call: the edge graph's ``folded`` plot block is laid out for single windows, and its float64 pair
    tensors (1.5 MB a window) outgrow the caches with the batch — the default run's fp32 graph, two threads:
    0.69 / 0.77 / 0.77 ms a window at 4 / 16 / 64 windows a call, 10.9 ms at 256 (``symmetric``: 0.55 / 0.64 /
    0.66 / 1.04)."""
    return run_session_batched(session, split_batches((np.asarray(windows),), batch_size))


def machine() -> dict[str, object]:
    """CPU description for benchmark reports: model name, core count, the flags that decide the edge path."""
    name, flags = cpu_info()
    flags = flags or set()
    interesting = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16")
    return {"cpu": name or "", "cores": os.cpu_count(), "flags": [f for f in interesting if f in flags], "default_variant": default_variant(flags)}
