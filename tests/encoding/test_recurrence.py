"""Tests of the bit-packed recurrence-plot encoder (SPEC §3)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from insole_mtl.encoding.recurrence import (
    encode_recurrence_plots,
    packed_width,
    recurrence_cell,
    recurrence_plot_reference,
    reduce_recurrence_plots,
    unpack_recurrence_plots,
    unpack_recurrence_plots_torch,
)


def _encode_bool(windows: np.ndarray, percentage: float = 10.0, **kwargs: object) -> np.ndarray:
    packed = encode_recurrence_plots(windows, percentage, **kwargs)
    return unpack_recurrence_plots(packed, windows.shape[-1])


def _random_windows(n: int, c: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((n, c, length)), axis=-1)
    t = np.arange(length)
    sines = np.sin(2 * np.pi * rng.uniform(0.5, 3, (n, c, 1)) * t / length + rng.uniform(0, 6, (n, c, 1)))
    x = (walk + 3 * sines) * rng.uniform(0.01, 100, (n, c, 1))
    x = x.astype(np.float32)
    x[::3, 0] = np.round(x[::3, 0] / np.maximum(np.ptp(x[::3, 0], axis=-1, keepdims=True), 1e-3) * 10)  # ties
    x[1::4, -1] = 7.5  # constant channels
    return x


# ---------------------------------------------------------------------------- exact tiny cases


def test_hand_computed_plot() -> None:
    # max distance 10 -> eps = 1 (exact); |x_k - x_l| < 1 only on the diagonal
    x = np.array([[[0.0, 1.0, 2.0, 10.0]]], dtype=np.float32)
    expected = np.eye(4, dtype=bool)
    np.testing.assert_array_equal(_encode_bool(x)[0, 0], expected)
    np.testing.assert_array_equal(recurrence_plot_reference(x)[0, 0], expected)


def test_hand_computed_plot_wider_eps() -> None:
    # max distance 10, percentage 15 -> eps = 1.5: 0~1, 1~2, 10 alone
    x = np.array([[[0.0, 1.0, 2.0, 10.0]]], dtype=np.float32)
    expected = np.array(
        [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 1]],
        dtype=bool,
    )
    np.testing.assert_array_equal(_encode_bool(x, 15.0)[0, 0], expected)
    packed = encode_recurrence_plots(x, 15.0)
    assert packed.shape == (1, 1, 4, 1)
    assert packed.dtype == np.uint8
    # little bit order: column l is bit l of the byte
    assert packed[0, 0, :, 0].tolist() == [0b0011, 0b0111, 0b0110, 0b1000]


def test_ties_exactly_at_eps_are_excluded() -> None:
    # range 20, eps = 2 exactly; pairs at distance exactly 2 must be 0, below 2 must be 1
    x = np.array([[[0.0, 2.0, 4.0, 1.5, 20.0, 18.0, 18.25]]], dtype=np.float32)
    got = _encode_bool(x)[0, 0]
    xs = x[0, 0].astype(np.float64)
    expected = np.abs(xs[:, None] - xs[None, :]) < 2.0
    np.testing.assert_array_equal(got, expected)
    assert not got[0, 1] and not got[1, 2] and not got[4, 5]
    assert got[0, 3] and got[1, 3] and got[5, 6]


def test_ties_at_eps_on_integer_levels() -> None:
    # quantised levels: many exact ties and many pairs at exactly eps
    rng = np.random.default_rng(3)
    x = rng.integers(0, 51, size=(20, 3, 64)).astype(np.float32)
    x[:, :, 0] = 0.0
    x[:, :, 1] = 50.0  # range 50 -> eps = 5 exactly at p = 10
    np.testing.assert_array_equal(_encode_bool(x), recurrence_plot_reference(x))


def test_constant_channel_gives_all_zero_plot() -> None:
    x = np.zeros((2, 3, 10), dtype=np.float32)
    x[0, 1] = 3.25
    x[1, 2] = np.arange(10)
    got = _encode_bool(x)
    assert not got[0].any()
    assert not got[1, :2].any()
    assert got[1, 2].diagonal().all()


def test_length_one_and_short_series() -> None:
    x = np.array([[[5.0]]], dtype=np.float32)
    assert encode_recurrence_plots(x).shape == (1, 1, 1, 1)
    assert not _encode_bool(x).any()
    y = np.array([[[1.0, -1.0]]], dtype=np.float32)
    np.testing.assert_array_equal(_encode_bool(y)[0, 0], np.eye(2, dtype=bool))


def test_signed_zeros_and_negative_values() -> None:
    x = np.array([[[-0.0, 0.0, -1.0, 1.0, -0.05, 0.05, 0.1, -0.1]]], dtype=np.float32)
    np.testing.assert_array_equal(_encode_bool(x), recurrence_plot_reference(x))


# ------------------------------------------------------------------------- reference / pyts


@pytest.mark.parametrize("percentage", [10.0, 1.0, 5, 25.5, 50.0, 100.0])
def test_matches_pyts(percentage: float) -> None:
    pyts_image = pytest.importorskip("pyts.image")
    x = _random_windows(6, 4, 48, seed=int(percentage * 10))
    rp = pyts_image.RecurrencePlot(threshold="distance", percentage=percentage)
    expected = rp.transform(x.reshape(-1, 48)).reshape(6, 4, 48, 48) > 0.5
    np.testing.assert_array_equal(_encode_bool(x, percentage), expected)


@pytest.mark.parametrize("length", [1, 2, 7, 8, 9, 31, 32, 33, 100, 160, 257])
def test_matches_reference_for_many_lengths(length: int) -> None:
    x = _random_windows(5, 3, length, seed=length)
    packed = encode_recurrence_plots(x)
    assert packed.shape == (5, 3, length, packed_width(length))
    np.testing.assert_array_equal(packed, np.packbits(recurrence_plot_reference(x), axis=-1, bitorder="little"))


@pytest.mark.parametrize("percentage", [0.5, 10.0, 33.3, 100.0])
def test_matches_reference_on_realistic_windows(percentage: float) -> None:
    x = _random_windows(40, 14, 160, seed=1)
    np.testing.assert_array_equal(_encode_bool(x, percentage), recurrence_plot_reference(x, percentage))


def test_float64_input() -> None:
    x32 = _random_windows(6, 3, 50, seed=4)
    generic = x32.astype(np.float64) * np.pi + 1e-9  # not float32-representable: float64 path
    np.testing.assert_array_equal(_encode_bool(generic), recurrence_plot_reference(generic))
    exact = x32.astype(np.float64)  # float32-representable: must equal the float32 result
    np.testing.assert_array_equal(encode_recurrence_plots(exact), encode_recurrence_plots(x32))


def test_wide_dynamic_range_rounding_is_exact() -> None:
    # differences that are not exact in float64 and eps that rounds: exercises the exact repair
    x = np.array(
        [[[1e30, 1e30 * (1 + 2**-20), -1e-30, 0.0, 3e29, 1e-38, 9e29, 1e29]]], dtype=np.float32
    )
    for p in (10.0, 12.5, 90.0, 100.0):
        np.testing.assert_array_equal(_encode_bool(x, p), recurrence_plot_reference(x, p))
    rng = np.random.default_rng(9)
    y = (rng.standard_normal((30, 2, 40)) * 10.0 ** rng.integers(-30, 30, (30, 2, 40))).astype(np.float32)
    np.testing.assert_array_equal(_encode_bool(y), recurrence_plot_reference(y))


# ---------------------------------------------------------------------------- properties


def test_symmetric_with_unit_diagonal() -> None:
    x = _random_windows(10, 5, 96, seed=2)
    rp = _encode_bool(x)
    np.testing.assert_array_equal(rp, rp.transpose(0, 1, 3, 2))
    constant = np.ptp(x, axis=-1) == 0
    diag = np.diagonal(rp, axis1=-2, axis2=-1)
    assert diag[~constant].all()
    assert not diag[constant].any()


def test_invariant_to_exact_affine_rescaling() -> None:
    x = np.round(_random_windows(8, 4, 64, seed=5) * 64) / 64  # few mantissa bits: a*x+b stays exact
    x = x.astype(np.float32)
    base = encode_recurrence_plots(x)
    for scale, shift in [(2.0, 0.0), (0.25, 0.0), (4.0, 1024.0), (0.5, -3.0)]:
        y = x * np.float32(scale) + np.float32(shift)
        np.testing.assert_array_equal((y - np.float32(shift)) / np.float32(scale), x)  # exactness
        np.testing.assert_array_equal(encode_recurrence_plots(y), base)
    per_window = x * np.float32(2.0) ** np.arange(-3, 5, dtype=np.float32)[:, None, None]
    np.testing.assert_array_equal(encode_recurrence_plots(per_window), base)


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 10_000])
def test_chunking_and_threads_do_not_change_output(chunk_size: int) -> None:
    x = _random_windows(23, 14, 160, seed=6)
    expected = encode_recurrence_plots(x, chunk_size=1024, num_threads=1)
    np.testing.assert_array_equal(encode_recurrence_plots(x, chunk_size=chunk_size), expected)
    np.testing.assert_array_equal(encode_recurrence_plots(x, chunk_size=chunk_size, num_threads=2), expected)


def test_deterministic_and_progress_callback() -> None:
    x = _random_windows(9, 2, 30, seed=7)
    calls: list[tuple[int, int]] = []
    first = encode_recurrence_plots(x, chunk_size=4, progress=lambda done, total: calls.append((done, total)))
    np.testing.assert_array_equal(encode_recurrence_plots(x, chunk_size=4), first)
    assert calls == [(4, 9), (8, 9), (9, 9)]


def test_empty_input() -> None:
    out = encode_recurrence_plots(np.zeros((0, 14, 160), dtype=np.float32))
    assert out.shape == (0, 14, 160, 20)
    assert out.dtype == np.uint8


# ------------------------------------------------------------------------------- unpacking


def test_packbits_round_trip() -> None:
    rng = np.random.default_rng(8)
    for length in (5, 8, 13, 160):
        bits = rng.random((3, 2, length, length)) < 0.3
        packed = np.packbits(bits, axis=-1, bitorder="little")
        np.testing.assert_array_equal(unpack_recurrence_plots(packed, length), bits)
        assert unpack_recurrence_plots(packed, length).dtype == np.bool_


def test_torch_unpack_equals_numpy_unpack() -> None:
    x = _random_windows(4, 3, 37, seed=10)
    packed = encode_recurrence_plots(x)
    expected = unpack_recurrence_plots(packed, 37)
    for dtype in (torch.float32, torch.bfloat16, torch.uint8, torch.bool):
        got = unpack_recurrence_plots_torch(torch.from_numpy(packed), 37, dtype=dtype)
        assert got.dtype == dtype
        assert got.shape == (4, 3, 37, 37)
        np.testing.assert_array_equal(got.to(torch.float32).numpy(), expected.astype(np.float32))


# ---------------------------------------------------------------------------------- errors


def test_error_wrong_ndim() -> None:
    with pytest.raises(ValueError, match=re.escape("windows must have shape (n, C, L) (3 dimensions), got shape (4, 160)")):
        encode_recurrence_plots(np.zeros((4, 160), dtype=np.float32))


def test_error_wrong_dtype_and_type() -> None:
    with pytest.raises(TypeError, match=re.escape("windows must have dtype float32 or float64, got int64")):
        encode_recurrence_plots(np.zeros((1, 1, 4), dtype=np.int64))
    with pytest.raises(TypeError, match=re.escape("windows must be a numpy array of shape (n, C, L), got list")):
        encode_recurrence_plots([[[0.0, 1.0]]])  # type: ignore[arg-type]


def test_error_non_finite_names_window_and_channel() -> None:
    x = np.zeros((5, 3, 8), dtype=np.float32)
    x[3, 2, 6] = np.nan
    with pytest.raises(ValueError, match=re.escape("non-finite value (nan) at window index 3, channel 2, sample 6")):
        encode_recurrence_plots(x, chunk_size=2)
    x[3, 2, 6] = 0.0
    x[4, 0, 1] = -np.inf
    with pytest.raises(ValueError, match=re.escape("at window index 4, channel 0, sample 1")):
        encode_recurrence_plots(x)


@pytest.mark.parametrize("percentage", [0.0, -5.0, 100.5, float("nan")])
def test_error_percentage_out_of_range(percentage: float) -> None:
    x = np.zeros((1, 1, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape(f"percentage must be in (0, 100], got {percentage!r}")):
        encode_recurrence_plots(x, percentage)
    with pytest.raises(ValueError, match=re.escape("percentage must be in (0, 100]")):
        recurrence_plot_reference(x, percentage)


def test_error_chunk_size_and_length() -> None:
    x = np.zeros((1, 1, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=re.escape("chunk_size must be a positive integer, got 0")):
        encode_recurrence_plots(x, chunk_size=0)
    with pytest.raises(ValueError, match=re.escape("length L >= 1")):
        encode_recurrence_plots(np.zeros((1, 1, 0), dtype=np.float32))


def test_error_unpack_shapes() -> None:
    packed = np.zeros((1, 1, 10, 2), dtype=np.uint8)
    with pytest.raises(ValueError, match=re.escape("packed last axis has 2 bytes but length=20 needs ceil(20/8) = 3")):
        unpack_recurrence_plots(packed, 20)
    with pytest.raises(ValueError, match=re.escape("packed must have shape (n, C, L, P) (4 dimensions), got shape (10, 2)")):
        unpack_recurrence_plots(packed[0, 0], 10)
    with pytest.raises(TypeError, match=re.escape("packed must have dtype uint8, got torch.float32")):
        unpack_recurrence_plots_torch(torch.zeros(1, 1, 10, 2), 10)


# ------------------------------------------------------------------- reduced resolution (counts)

# x = 0..7 at p = 30: eps = 2.1, so RP[i, j] = |i - j| <= 2 (a band of half-width 2)
_RAMP8 = np.arange(8, dtype=np.float32)[None, None]


def _reshape_counts(rp: np.ndarray, resolution: int) -> np.ndarray:
    n, c, length, _ = rp.shape
    k = length // resolution
    return rp.reshape(n, c, resolution, k, resolution, k).sum(axis=(3, 5))


@pytest.mark.parametrize(("length", "resolution", "cell"), [(8, 8, 1), (8, 4, 2), (8, 2, 4), (8, 1, 8), (30, 2, 15), (160, 40, 4)])
def test_recurrence_cell_valid(length: int, resolution: int, cell: int) -> None:
    assert recurrence_cell(length, resolution) == cell
    assert recurrence_cell(length, np.int64(resolution)) == cell


@pytest.mark.parametrize("resolution", [3, 0, -2, 9, 16, 2.5, True])
def test_recurrence_cell_rejects_non_divisors(resolution: object) -> None:
    msg = f"recurrence plot resolution must be a positive divisor of the window length 8, got {resolution!r}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        recurrence_cell(8, resolution)  # type: ignore[arg-type]


def test_recurrence_cell_rejects_cells_too_large_for_uint8() -> None:
    msg = "recurrence plot resolution 10 of a 160-sample window gives 16x16 cells; counts must fit uint8 (cell <= 15)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        recurrence_cell(160, 10)
    with pytest.raises(ValueError, match=re.escape("gives 16x16 cells")):
        recurrence_cell(16, 1)
    assert recurrence_cell(15, 1) == 15  # 225 <= 255: the largest allowed cell


def test_reduce_hand_computed_length_4() -> None:
    # the plot of test_hand_computed_plot_wider_eps: [[1,1,0,0],[1,1,1,0],[0,1,1,0],[0,0,0,1]]
    x = np.array([[[0.0, 1.0, 2.0, 10.0]]], dtype=np.float32)
    packed = encode_recurrence_plots(x, 15.0)
    counts = reduce_recurrence_plots(packed, 4, 2)
    assert counts.dtype == np.uint8 and counts.shape == (1, 1, 2, 2)
    assert counts[0, 0].tolist() == [[4, 1], [1, 2]]
    assert reduce_recurrence_plots(packed, 4, 1)[0, 0].tolist() == [[8]]


def test_reduce_hand_computed_length_8() -> None:
    packed = encode_recurrence_plots(_RAMP8, 30.0)
    assert reduce_recurrence_plots(packed, 8, 4)[0, 0].tolist() == [
        [4, 3, 0, 0],
        [3, 4, 3, 0],
        [0, 3, 4, 3],
        [0, 0, 3, 4],
    ]
    assert reduce_recurrence_plots(packed, 8, 2)[0, 0].tolist() == [[14, 3], [3, 14]]
    assert reduce_recurrence_plots(packed, 8, 1)[0, 0].tolist() == [[8 + 2 * 7 + 2 * 6]]
    # resolution = L: cells of one pixel, the binary plot itself
    np.testing.assert_array_equal(reduce_recurrence_plots(packed, 8, 8), unpack_recurrence_plots(packed, 8))


@pytest.mark.parametrize(("length", "resolution"), [(12, 6), (12, 4), (12, 3), (40, 8), (40, 10), (30, 2)])
def test_reduce_equals_reshape_sum_of_reference(length: int, resolution: int) -> None:
    x = _random_windows(7, 3, length, seed=length + resolution)
    reference = recurrence_plot_reference(x)
    counts = reduce_recurrence_plots(encode_recurrence_plots(x), length, resolution)
    assert counts.dtype == np.uint8 and counts.shape == (7, 3, resolution, resolution)
    np.testing.assert_array_equal(counts, _reshape_counts(reference, resolution))
    k = length // resolution
    assert counts.max() <= k * k
    # the reduced plot is symmetric like the plot; total count is preserved
    np.testing.assert_array_equal(counts, counts.transpose(0, 1, 3, 2))
    np.testing.assert_array_equal(counts.sum(axis=(2, 3), dtype=np.int64), reference.sum(axis=(2, 3)))


def test_reduce_full_cells_of_225_do_not_overflow() -> None:
    # a constant-step series at p = 100: every pair but the two extremes recurs; 15 x 15 cells of L = 30
    x = np.arange(30, dtype=np.float32)[None, None]
    counts = reduce_recurrence_plots(encode_recurrence_plots(x, 100.0), 30, 2)
    np.testing.assert_array_equal(counts[0, 0], _reshape_counts(recurrence_plot_reference(x, 100.0), 2)[0, 0])
    assert counts[0, 0, 0, 0] == 225 and counts[0, 0, 0, 1] == 224  # only (0, 29) is not a recurrence


@pytest.mark.parametrize("chunk", [1, 2, 5, 128])
def test_reduce_is_chunk_independent(chunk: int) -> None:
    x = _random_windows(11, 2, 16, seed=21)
    packed = encode_recurrence_plots(x)
    expected = _reshape_counts(recurrence_plot_reference(x), 4)
    np.testing.assert_array_equal(reduce_recurrence_plots(packed, 16, 4, chunk=chunk), expected)


def test_reduce_errors() -> None:
    packed = encode_recurrence_plots(_RAMP8)
    with pytest.raises(ValueError, match=re.escape("positive divisor of the window length 8, got 3")):
        reduce_recurrence_plots(packed, 8, 3)
    with pytest.raises(ValueError, match=re.escape("packed must have shape (n, C, L, P) (4 dimensions), got shape (8, 1)")):
        reduce_recurrence_plots(packed[0, 0], 8, 4)
    with pytest.raises(ValueError, match=re.escape("packed last axis has 1 bytes but length=16 needs ceil(16/8) = 2")):
        reduce_recurrence_plots(packed, 16, 4)


@pytest.mark.parametrize(("resolution", "chunk_size"), [(4, 1), (4, 3), (2, 1024), (8, 2)])
def test_encode_with_resolution_equals_reduce_of_encode(resolution: int, chunk_size: int) -> None:
    x = _random_windows(9, 3, 16, seed=22)
    packed = encode_recurrence_plots(x)
    got = encode_recurrence_plots(x, chunk_size=chunk_size, resolution=resolution)
    assert got.dtype == np.uint8 and got.shape == (9, 3, resolution, resolution)
    np.testing.assert_array_equal(got, reduce_recurrence_plots(packed, 16, resolution))
    np.testing.assert_array_equal(got, _reshape_counts(recurrence_plot_reference(x), resolution))


def test_encode_resolution_none_or_length_gives_packed_plots() -> None:
    x = _random_windows(5, 2, 16, seed=23)
    packed = encode_recurrence_plots(x)
    assert packed.shape == (5, 2, 16, 2)
    np.testing.assert_array_equal(encode_recurrence_plots(x, resolution=None), packed)
    np.testing.assert_array_equal(encode_recurrence_plots(x, resolution=16), packed)


def test_encode_with_resolution_progress_empty_and_errors() -> None:
    x = _random_windows(7, 2, 8, seed=24)
    calls: list[tuple[int, int]] = []
    encode_recurrence_plots(x, chunk_size=3, resolution=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(3, 7), (6, 7), (7, 7)]
    empty = encode_recurrence_plots(np.zeros((0, 3, 8), np.float32), resolution=4)
    assert empty.shape == (0, 3, 4, 4) and empty.dtype == np.uint8
    with pytest.raises(ValueError, match=re.escape("positive divisor of the window length 8, got 3")):
        encode_recurrence_plots(x, resolution=3)
    with pytest.raises(ValueError, match=re.escape("positive divisor of the window length 8, got 0")):
        encode_recurrence_plots(x, resolution=0)
    with pytest.raises(ValueError, match=re.escape("windows must have shape (n, C, L) (3 dimensions)")):
        encode_recurrence_plots(x[0], resolution=4)


def test_encode_with_resolution_constant_channel_counts_zero() -> None:
    x = np.full((2, 2, 8), 3.0, dtype=np.float32)
    x[1, 1] = np.arange(8)
    counts = encode_recurrence_plots(x, 30.0, resolution=2)
    assert not counts[0].any() and not counts[1, 0].any()
    assert counts[1, 1].tolist() == [[14, 3], [3, 14]]


def test_encode_rejects_fractional_resolution_equal_to_length_after_truncation() -> None:
    with pytest.raises(ValueError, match=re.escape("positive divisor of the window length 8, got 8.5")):
        encode_recurrence_plots(_RAMP8, resolution=8.5)  # type: ignore[arg-type]


def test_reduce_accepts_integral_float_resolution_like_recurrence_cell() -> None:
    packed = encode_recurrence_plots(_RAMP8, 30.0)
    assert recurrence_cell(8, 4.0) == 2  # type: ignore[arg-type]
    np.testing.assert_array_equal(reduce_recurrence_plots(packed, 8, 4.0), reduce_recurrence_plots(packed, 8, 4))  # type: ignore[arg-type]
