"""The edge plot-block benchmark: every formulation computes the encoder's counts where no distance ties eps,
float32 misses a tie that both float64 formulations keep, and the report (no timed assertions)."""

import numpy as np
import pytest
import torch

from insole_mtl.benchmarks import edge_plot_block
from insole_mtl.benchmarks.__main__ import _available
from insole_mtl.benchmarks.edge_plot_block import FORMULATIONS, build_plot_block, compare_plot_blocks
from insole_mtl.encoding.recurrence import recurrence_plot_reference


def _tie_free_windows() -> np.ndarray:
    """Integer levels 0..19 on every channel (ptp 19, eps 1.9): no integer distance is near eps."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 20, size=(3, 2, 8)).astype(np.float32)
    x[..., 0], x[..., 1] = 0.0, 19.0
    return x


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_every_formulation_computes_the_encoders_counts_without_ties(formulation):
    x = _tie_free_windows()
    plots = recurrence_plot_reference(x.reshape(-1, 8), percentage=10.0).reshape(3, 2, 4, 2, 4, 2)
    expected = plots.sum(axis=(3, 5)).astype(np.float32)
    got = build_plot_block(formulation, 10.0, 2, 2)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(got, expected)


def test_float32_misses_the_pairs_that_tie_eps_and_float64_keeps_them():
    x = np.array([[[0.3, 4.9, 0.8, 5.3]]], dtype=np.float32)  # ptp 5.0, eps 0.5 = |0.8 - 0.3| in float32 values
    encoder = int(recurrence_plot_reference(x.reshape(1, 4), percentage=10.0).sum())
    assert encoder == 8  # the diagonal and the pairs (0.3, 0.8), (4.9, 5.3) both ways
    assert build_plot_block("float64", 10.0, 4, 1)(torch.from_numpy(x)).item() == 8.0
    assert build_plot_block("float64_symmetric", 10.0, 4, 1)(torch.from_numpy(x)).item() == 8.0
    assert build_plot_block("float32", 10.0, 4, 1)(torch.from_numpy(x)).item() == 6.0
    assert build_plot_block("float32_symmetric", 10.0, 4, 1)(torch.from_numpy(x)).item() == 6.0
    assert build_plot_block("float32_folded", 10.0, 4, 1)(torch.from_numpy(x)).item() == 6.0


def test_an_unknown_formulation_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown float32 formulation 'float16'; expected one of \['float32', "):
        build_plot_block("float16", 10.0, 4, 14)


def test_windows_whose_length_is_not_a_multiple_of_the_cell_are_refused():
    with pytest.raises(ValueError, match=r"windows must be non-empty \(n, C, L\) with L a multiple of cell=4, got shape \(2, 1, 6\)"):
        compare_plot_blocks(np.zeros((2, 1, 6), dtype=np.float32))


def test_the_report_lists_every_formulation_with_agreement_and_latency():
    assert "edge_plot_block" in _available()
    report = edge_plot_block.main(["--windows", "3", "--length", "16", "--cell", "4", "--repeats", "4"])
    rows = report["formulations"]
    assert list(rows) == list(FORMULATIONS) and report["windows"] == [3, 14, 16]
    assert rows["float64"]["cells_differing"] == 0 and rows["float64"]["speedup_vs_float64"] == 1.0
    assert rows["float64_symmetric"]["cells_differing"] == 0  # exact, like the reference
    assert all(row["median_ms"] > 0 and 0 <= row["windows_differing"] <= 3 for row in rows.values())
