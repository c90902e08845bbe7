"""How fast can ONNX Runtime compute the edge graph's recurrence counts? Formulations side by side (issue #11).

``python -m insole_mtl.benchmarks edge_plot_block [--windows 200] [--repeats 300] [--data-dir data]``

The self-contained edge graph (:mod:`insole_mtl.edge.raw_window`) spends most of its batch-1 time on the plot
block: ``(b, C, L)`` raw windows -> ``|x_k - x_l| < eps`` for every pair -> ``k x k`` sum pool -> ``(b, C, L/k, L/k)``
counts. This benchmark exports each formulation below as its own ONNX graph, checks its counts against the
exported float64 block (bit-identical to the training encoder, ``tests/edge/test_raw_window.py``) and times
all of them at batch 1 on one thread in the same run (:func:`insole_mtl.edge.raw_benchmark.time_paths`):

* ``float64``: the block as its definition (cast to float64, subtract, abs, compare, cast, all-ones pool), the
  ``direct`` formulation of :class:`~insole_mtl.edge.raw_window.RecurrenceCounts` and the reference;
* ``float64_symmetric``: the edge graph's block for cells of ``k >= 4`` until 2026-12-02 (``symmetric``: a signed
  compare per ordered pair, no absolute value, laid out ``(b, C, k, L/k, L)``, cell sums over a leading and a
  trailing axis, ``relu(S + Sᵀ - k²)``), bit-identical too;
* ``float64_folded``: the edge graph's block for cells of ``k >= 2`` (``folded``: each unordered pair of cells
  once, ``|x_k - x_l| < eps`` on about half the pairs, laid out so the elementwise ops run over contiguous
  ``(cell, channel)`` rows, a constant index map back to ``(L/k, L/k)``), bit-identical too;
* ``float32``: the same compare in float32 (``eps`` rounded to float32: not bit-exact where a distance ties
  ``eps``), pooled by ``AveragePool * k²`` (exact for the 4 x 4 cells timed here, not once ``k²`` is not a power
  of two);
* ``float32_bounds``: ``x_k - eps < x_l < x_k + eps``, two compares instead of subtract + abs;
* ``float32_reshape_sum``: pooling by reshape + sum instead of AveragePool;
* ``float32_depthwise_ones``: pooling by a depthwise all-ones convolution, stride ``k``;
* ``float32_block_layout``: pairs laid out ``(b, C, L/k, L/k, k, k)``, the 16 of a cell summed innermost;
* ``float32_symmetric``: ``float64_symmetric`` in float32;
* ``float32_folded``: ``float64_folded`` in float32, the int8 edge graph's block
  (``RecurrenceCounts(precision="float32")``, :data:`~insole_mtl.edge.raw_window.INT8_PLOT_PRECISION`).

Windows: ``--data-dir``'s test windows when given, else :func:`insole_mtl.benchmarks.recurrence.make_windows`
(random walks and sines, some quantised channels with exact ties at ``eps``, some constant channels).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from insole_mtl.benchmarks.recurrence import make_windows
from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.raw_benchmark import time_paths

logger = logging.getLogger(__name__)

#: the formulations, in report order; ``float64`` is the reference
FORMULATIONS: tuple[str, ...] = (
    "float64", "float64_symmetric", "float64_folded", "float32", "float32_bounds", "float32_reshape_sum", "float32_depthwise_ones",
    "float32_block_layout", "float32_symmetric", "float32_folded",
)  # fmt: skip
#: the formulations that are :class:`~insole_mtl.edge.raw_window.RecurrenceCounts` itself: (formulation, precision)
_RECURRENCE_COUNTS = {
    "float64": ("direct", "float64"), "float64_symmetric": ("symmetric", "float64"), "float64_folded": ("folded", "float64"),
    "float32_folded": ("folded", "float32"),
}  # fmt: skip


class PlotBlock(nn.Module):
    """One float32 formulation of the counts (module docstring): ``(b, C, L)`` -> ``(b, C, L/k, L/k)`` float32."""

    def __init__(self, formulation: str, percentage: float, cell: int, channels: int) -> None:
        super().__init__()
        if formulation not in FORMULATIONS or formulation in _RECURRENCE_COUNTS:
            raise ValueError(f"unknown float32 formulation {formulation!r}; expected one of {[f for f in FORMULATIONS if f not in _RECURRENCE_COUNTS]}")
        self.formulation, self.fraction, self.cell = formulation, float(percentage) / 100, int(cell)
        self.register_buffer("ones", torch.ones(int(channels), 1, self.cell, self.cell))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.cell
        b, c, length = x.shape
        n = length // k
        eps = rw.recurrence_threshold(x, self.fraction)
        if self.formulation == "float32_symmetric":
            return rw.symmetric_counts(x, eps, k)
        if self.formulation == "float32_block_layout":
            pairs = (torch.abs(x.reshape(b, c, n, 1, k, 1) - x.reshape(b, c, 1, n, 1, k)) < eps.reshape(b, c, 1, 1, 1, 1)).float()
            return pairs.reshape(b, c, n, n, k * k).sum(-1)
        if self.formulation == "float32_bounds":
            low, high, other = (x - eps[..., None]).unsqueeze(-1), (x + eps[..., None]).unsqueeze(-1), x.unsqueeze(-2)
            plots = ((other > low) & (other < high)).float()
        else:
            plots = (torch.abs(x.unsqueeze(-1) - x.unsqueeze(-2)) < eps[..., None, None]).float()
        if self.formulation == "float32_reshape_sum":
            return plots.reshape(b, c, n, k, n, k).sum((3, 5))
        if self.formulation == "float32_depthwise_ones":
            return nn.functional.conv2d(plots, self.ones, stride=k, groups=c)
        return nn.functional.avg_pool2d(plots, k) * float(k * k)


def build_plot_block(formulation: str, percentage: float, cell: int, channels: int) -> nn.Module:
    """The module of ``formulation``; the ``float64`` ones and ``float32_folded`` are the edge graphs' own
    :class:`~insole_mtl.edge.raw_window.RecurrenceCounts`."""
    if formulation in _RECURRENCE_COUNTS:
        return rw.RecurrenceCounts(percentage, cell, *_RECURRENCE_COUNTS[formulation])
    return PlotBlock(formulation, percentage, cell, channels)


def compare_plot_blocks(
    windows: np.ndarray, percentage: float = 10.0, cell: int = 4, warmup: int = 10, repeats: int = 300
) -> dict[str, object]:
    """Counts agreement with ``float64`` and batch-1 one-thread latency of every formulation on ``windows (n, C, L)``."""
    windows = np.ascontiguousarray(windows, dtype=np.float32)
    if windows.ndim != 3 or len(windows) == 0 or windows.shape[-1] % cell:
        raise ValueError(f"windows must be non-empty (n, C, L) with L a multiple of cell={cell}, got shape {windows.shape}")
    _, channels, length = windows.shape
    example = torch.zeros(2, channels, length)
    blocks = {name: build_plot_block(name, percentage, cell, channels).eval() for name in FORMULATIONS}
    graphs = {name: rw.export_window_module(block, example, ["counts"]) for name, block in blocks.items()}
    sessions = {name: rw.edge_session(graph, threads=1, spinning=False) for name, graph in graphs.items()}
    counts = {name: rw.run_raw(session, windows)["counts"] for name, session in sessions.items()}
    reference = counts["float64"]
    latency = time_paths({name: (lambda x, s=s: s.run(None, {rw.INPUT: x})) for name, s in sessions.items()}, windows, warmup, repeats)
    exact = latency["float64"]["median_ms"]
    result: dict[str, dict[str, float | int]] = {}
    for name in FORMULATIONS:
        differing = counts[name] != reference
        result[name] = {
            **latency[name],
            "speedup_vs_float64": exact / latency[name]["median_ms"],
            "cells_differing": int(differing.sum()),
            "windows_differing": int(differing.reshape(len(windows), -1).any(axis=1).sum()),
        }
    return {"machine": rw.machine(), "windows": list(windows.shape), "cell": cell, "percentage": percentage, "formulations": result}


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="an environment's data folder: time its test windows")
    parser.add_argument("--windows", type=int, default=200, help="generated windows (without --data-dir)")
    parser.add_argument("--channels", type=int, default=14)
    parser.add_argument("--length", type=int, default=160)
    parser.add_argument("--cell", type=int, default=4, help="k: the k x k cell of the counts (160 / 4 = 40 x 40)")
    parser.add_argument("--percentage", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    if args.data_dir is not None:
        windows = np.load(args.data_dir / "04_feature" / "test" / "windows.npy")
    else:
        windows = make_windows(args.windows * args.channels, args.length, args.channels)
    report = compare_plot_blocks(windows, args.percentage, args.cell, repeats=args.repeats)
    for name, row in report["formulations"].items():  # type: ignore[union-attr]
        logger.info(
            "%-24s %.3f ms (p90 %.3f)  x%.2f vs float64  cells differing %d (%d windows)",
            name, row["median_ms"], row["p90_ms"], row["speedup_vs_float64"], row["cells_differing"], row["windows_differing"],
        )  # fmt: skip
    return report
