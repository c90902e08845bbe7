"""Bit-packed recurrence plots (SPEC §3), exact and fast.

Definition (embedding dimension m = 1, per window and channel, series ``x`` of length ``L``)::

    RP[k, l] = 1  if  |x_k - x_l| < eps  else 0,      eps = percentage / 100 * max_{k,l} |x_k - x_l|

evaluated in float64 exactly as written (``abs(float64(x_k) - float64(x_l))``, ``eps`` computed as
``(percentage / 100) * max``), which is what ``pyts.image.RecurrencePlot(threshold='distance',
percentage=...)`` does. The inequality is strict, so **a constant channel (max distance 0) gives an
all-zero plot**; so does any channel whose ``eps`` underflows to 0. RPs are symmetric with a
diagonal of ones for every non-constant channel, and do not change under a per-window affine
rescaling ``a * x + b`` (``a > 0``) as long as that rescaling is exact in floating point.

Storage: one plot is packed along its last axis with ``np.packbits(..., bitorder='little')``, so
``packed[..., k, j]`` holds columns ``8 j .. 8 j + 7`` of row ``k`` in bits 0..7 (44.8 KB per
(14, 160, 160) window instead of 1.43 MB as float32).

Algorithm of :func:`encode_recurrence_plots` (``O(L log L + L^2 / 32)`` work per series instead of
``O(L^2)`` float compares, bit-identical to the float64 definition, ties at ``eps`` included):

1. Sort each series once. ``fl(|x_k - x_l|)`` is monotone in ``x_l`` on each side of ``x_k``
   (floating-point subtraction is monotone), so row ``k`` is a contiguous run ``[lo_k, hi_k)`` of
   the sorted order.
2. ``lo`` comes from one vectorised ``searchsorted`` of ``x_k - eps`` over all series of a block
   (series are made disjoint by putting the series number above an order-preserving integer key of
   the float32 value), then every ``lo`` is checked against the exact float64 predicate
   ``fl(s_i - s_lo) < eps <= fl(s_i - s_{lo-1})``; the rare misses (rounding of ``x_k - eps``)
   are repaired by an exact vectorised binary search.
3. ``hi`` needs no search: by symmetry ``hi_i = #{j : lo_j <= i}`` (a bincount and a cumsum).
4. Prefix masks ``M[t]`` = the bit set of the ``t`` smallest samples (in original column order,
   ``ceil(L/32)`` uint32 words) are built by a cumulative sum of one-hot words, and row ``k`` is
   ``M[hi_k] XOR M[lo_k]``: two 20-byte gathers per row for ``L = 160``.

Blocks of series are processed in cache-sized pieces on a small thread pool (numpy releases the
GIL), so memory is bounded by ``chunk_size`` and the block size, not by ``n``.

Reduced resolution (:func:`reduce_recurrence_plots`, ``encode_recurrence_plots(..., resolution=R)``):
with ``k = L / R`` (an integer), the plot is cut into ``R x R`` cells of ``k x k`` pixels and each
cell keeps its NUMBER of recurrences, ``counts[a, b] = sum_{i<k, j<k} RP[a k + i, b k + j]`` in
``0 .. k²`` (uint8 for ``k <= 15``). ``counts / k²`` is average pooling of the binary plot, i.e. the
local recurrence rate; the model divides by ``k²`` itself (``recurrence_cell``), so the stored array
stays exact integers, ``R² C`` bytes per window (25.6 KB for 16 channels at 40 x 40).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

logger = logging.getLogger(__name__)

__all__ = [
    "encode_recurrence_plots",
    "recurrence_cell",
    "reduce_recurrence_plots",
    "packed_width",
    "recurrence_plot_reference",
    "unpack_recurrence_plots",
    "unpack_recurrence_plots_torch",
]

_LOG_EVERY_S = 5.0
_TARGET_BLOCK_SAMPLES = 10_240  # series x length per block: keeps a block's arrays in L2 cache
_MAX_BLOCK_SERIES = 64


def packed_width(length: int) -> int:
    """Bytes per packed row, ``ceil(length / 8)``."""
    return (int(length) + 7) // 8


def _check_percentage(percentage: float) -> float:
    if isinstance(percentage, bool) or not isinstance(percentage, (int, float, np.integer, np.floating)):
        raise TypeError(f"percentage must be a real number in (0, 100], got {type(percentage).__name__}")
    value = float(percentage)
    if not 0.0 < value <= 100.0:  # also rejects NaN
        raise ValueError(f"percentage must be in (0, 100], got {percentage!r}")
    return value


def recurrence_plot_reference(series: np.ndarray, percentage: float = 10.0) -> np.ndarray:
    """Recurrence plots by the direct float64 definition (for tests and benchmarks only).

    Parameters
    ----------
    series : np.ndarray, shape (..., L), real dtype
        Time series, last axis is time.
    percentage : float
        ``eps`` as a percentage of the maximum pairwise distance of each series, in (0, 100].

    Returns
    -------
    np.ndarray, bool, shape (..., L, L)
        ``|x_k - x_l| < eps`` computed in float64; all False for a constant series.
    """
    p = _check_percentage(percentage)
    x = np.asarray(series, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError(f"series must have at least 1 dimension (..., L), got shape {x.shape}")
    dist = np.abs(x[..., :, None] - x[..., None, :])
    if x.shape[-1] == 0:
        return np.zeros(dist.shape, dtype=bool)
    eps = p / 100 * dist.max(axis=(-2, -1))
    return dist < eps[..., None, None]


def unpack_recurrence_plots(packed: np.ndarray, length: int) -> np.ndarray:
    """Unpack bit-packed plots.

    Parameters
    ----------
    packed : np.ndarray, uint8, shape (n, C, L, P)
        Output of :func:`encode_recurrence_plots`, ``P = ceil(length / 8)``.
    length : int
        Number of columns ``L`` of each plot.

    Returns
    -------
    np.ndarray, bool, shape (n, C, L, length)
    """
    packed = np.asarray(packed)
    _check_packed(packed.ndim, packed.dtype == np.uint8, str(packed.dtype), packed.shape, length)
    bits = np.unpackbits(packed, axis=-1, count=length, bitorder="little")
    return bits.view(bool)


def unpack_recurrence_plots_torch(
    packed: torch.Tensor, length: int, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Unpack a batch of bit-packed plots on the tensor's device (no Python loop).

    Parameters
    ----------
    packed : torch.Tensor, uint8, shape (b, C, L, P)
        Batch of packed plots, ``P = ceil(length / 8)``; any device.
    length : int
        Number of columns ``L`` of each plot.
    dtype : torch.dtype
        Output dtype (e.g. ``torch.float32``, ``torch.bfloat16``, ``torch.bool``).

    Returns
    -------
    torch.Tensor, shape (b, C, L, length), values 0/1 in ``dtype``
    """
    if not isinstance(packed, torch.Tensor):
        raise TypeError(f"packed must be a torch.Tensor, got {type(packed).__name__}")
    _check_packed(packed.ndim, packed.dtype == torch.uint8, str(packed.dtype), tuple(packed.shape), length)
    mask = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128], dtype=torch.uint8, device=packed.device)
    bits = torch.bitwise_and(packed.unsqueeze(-1), mask).ne_(0)  # (b, C, L, P, 8), bit b = column 8j+b
    bits = bits.flatten(-2)[..., :length]
    return bits.to(dtype)


def recurrence_cell(length: int, resolution: int) -> int:
    """Cell size ``k = length / resolution`` of a reduced plot (an integer with ``k² <= 255``).

    Raises:
        ValueError: ``resolution`` not a positive divisor of ``length``, or cells too large for uint8 counts.
    """
    if isinstance(resolution, bool) or int(resolution) != resolution or resolution < 1 or length % int(resolution):
        raise ValueError(
            f"recurrence plot resolution must be a positive divisor of the window length {length}, got {resolution!r}"
        )
    cell = length // int(resolution)
    if cell * cell > 255:
        raise ValueError(
            f"recurrence plot resolution {resolution} of a {length}-sample window gives {cell}x{cell} cells; "
            "counts must fit uint8 (cell <= 15)"
        )
    return cell


def reduce_recurrence_plots(packed: np.ndarray, length: int, resolution: int, chunk: int = 128) -> np.ndarray:
    """Bit-packed plots ``(n, C, L, ceil(L/8))`` -> recurrence counts per cell ``(n, C, R, R)`` uint8.

    ``counts[..., a, b]`` = number of ones in rows ``a k .. a k + k - 1`` and columns
    ``b k .. b k + k - 1`` of the plot, ``k = L / R`` (see the module docstring).
    """
    _check_packed(packed.ndim, packed.dtype == np.uint8, str(packed.dtype), packed.shape, length)
    cell = recurrence_cell(length, resolution)
    resolution = length // cell
    n, c = packed.shape[:2]
    out = np.empty((n, c, resolution, resolution), dtype=np.uint8)
    for a in range(0, n, chunk):  # bounded memory: the unpacked plots are 8x the packed bytes
        bits = unpack_recurrence_plots(packed[a : a + chunk], length)
        m = bits.shape[0]
        out[a : a + m] = bits.reshape(m, c, resolution, cell, resolution, cell).sum(axis=(3, 5), dtype=np.uint8)
    return out


def _check_packed(ndim: int, is_uint8: bool, dtype_name: str, shape: tuple[int, ...], length: int) -> None:
    if ndim != 4:
        raise ValueError(f"packed must have shape (n, C, L, P) (4 dimensions), got shape {tuple(shape)}")
    if not is_uint8:
        raise TypeError(f"packed must have dtype uint8, got {dtype_name}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 0:
        raise ValueError(f"length must be a non-negative integer, got {length!r}")
    if shape[-1] != packed_width(length):
        raise ValueError(
            f"packed last axis has {shape[-1]} bytes but length={length} needs ceil({length}/8) = "
            f"{packed_width(length)}"
        )


# ----------------------------------------------------------------------------------------------
# fast encoder
# ----------------------------------------------------------------------------------------------


def _sortable_keys32(values: np.ndarray) -> np.ndarray:
    """Order-preserving uint32 keys of finite float32 values.

    Negative floats get all bits flipped, non-negative floats only the sign bit, so that unsigned
    integer order equals float order and adjacent floats get adjacent keys (``-0.0`` and ``+0.0``
    get adjacent keys too, which the searches below handle: see :func:`_encode_block`).
    """
    bits = values.view(np.int32)
    mask = bits >> 31
    mask |= np.int32(-(2**31))
    mask ^= bits
    return mask.view(np.uint32)


class _Workspace:
    """Per-thread constants and buffers for blocks of at most ``n_series`` series of ``length``."""

    def __init__(self, n_series: int, length: int) -> None:
        s, ln = n_series, length
        n = s * ln
        self.n_series, self.length, self.n = s, ln, n
        self.words = (ln + 31) // 32
        self.width = packed_width(ln)
        gbits = max(1, int(n - 1).bit_length())
        sbits = max(1, int(s - 1).bit_length())
        if 32 + gbits + sbits > 64:
            raise ValueError(f"internal block of {s} series x {ln} samples is too large for 64-bit keys")
        self.kshift = np.uint64(gbits)
        self.low_mask = np.uint64((1 << gbits) - 1)
        series_key = np.arange(s, dtype=np.uint64)[:, None] << np.uint64(gbits + 32)
        # sort key = series | float key | global sample index; query = series | float key | all ones
        self.sort_tag = series_key | np.arange(n, dtype=np.uint64).reshape(s, ln)
        self.query_tag = series_key | self.low_mask
        series = np.repeat(np.arange(s, dtype=np.intp), ln).reshape(s, ln)
        self.series = series
        self.base = series * ln  # global index of each series' first sample
        self.rank = np.tile(np.arange(ln, dtype=np.intp), s).reshape(s, ln)
        # one-hot position of sorted sample (series j, rank t, column c) in planes (S, words, L + 1):
        # (j * words + c // 32) * (L + 1) + t + 1
        self.onehot_base = series * (self.words * (ln + 1)) + self.rank + 1
        self.pad_index = series * (ln + 1) + self.rank  # j * (L + 1) + r
        self.planes = np.zeros((s, self.words, ln + 1), dtype=np.uint32)
        self.rows = np.empty((s, ln + 1, self.words), dtype=np.uint32)
        # sorted values with a -inf sentinel before each series: s_pad[j, 0] = -inf
        self.s_pad = np.full((s, ln + 1), -np.inf)
        self.perm = np.empty((s, ln), dtype=np.uint64)
        self.gl = np.empty(n, dtype=np.intp)
        self.gh = np.empty(n, dtype=np.intp)
        self.lower = np.empty((n, self.width), dtype=np.uint8)


def _exact_lower_bound(s_pad: np.ndarray, eps: np.ndarray, series: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """First rank ``j`` in ``[0, i]`` with ``fl(s_i - s_j) < eps`` by vectorised binary search.

    ``s_pad`` (S, L + 1) holds each series' sorted float64 values after a sentinel column;
    ``series``/``rank`` (m,) select the elements ``i`` (their series must have ``eps > 0``, so that
    ``j = i`` satisfies the predicate). Returns the ranks (m,).
    """
    a = np.zeros_like(rank)
    b = rank.copy()
    si = s_pad[series, rank + 1]
    e = eps[series]
    while True:
        todo = a < b
        if not todo.any():
            return a
        mid = (a + b) >> 1
        inside = (si - s_pad[series, mid + 1]) < e
        b = np.where(todo & inside, mid, b)
        a = np.where(todo & ~inside, mid + 1, a)


def _candidates_float32(x: np.ndarray, p: float, ws: _Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort float32 series and find candidate run starts.

    Returns ``perm`` (S, L) global original index of each sorted sample, ``eps`` (S,) and
    ``row_lo`` (S, L) = ``j * (L + 1) + lo`` with ``lo`` = #{samples <= floor32(fl(s_i - eps))};
    fills ``ws.s_pad``.
    """
    n_series, length = x.shape
    n = n_series * length
    # one uint64 key per sample = series | order-preserving float key | global sample index
    keys = _sortable_keys32(x).astype(np.uint64)
    keys <<= ws.kshift
    keys |= ws.sort_tag[:n_series]
    keys.sort(axis=1)
    perm = np.bitwise_and(keys, ws.low_mask, out=ws.perm[:n_series]).view(np.intp)
    s_pad = ws.s_pad[:n_series]
    s_pad[:, 1:] = np.take(x.reshape(n), perm)  # sorted values as float64, like the reference
    s = s_pad[:, 1:]
    eps = p / 100 * (s[:, -1] - s[:, 0])
    # one global search of floor32(s_i - eps) (the series number in the high bits keeps series
    # apart). -0.0 and +0.0 have adjacent keys, and q32 is never -0.0 with q32 <= q, so the count
    # matches the float comparison.
    q = s - eps[:, None]
    with np.errstate(over="ignore"):
        q32 = q.astype(np.float32)
    qkeys = _sortable_keys32(q32)
    qkeys -= q32 > q  # round q down to float32: the previous float has the previous key
    query = qkeys.astype(np.uint64)
    query <<= ws.kshift
    query |= ws.query_tag[:n_series]
    found = np.searchsorted(keys.reshape(n), query.reshape(n), side="right").reshape(n_series, length)
    # found = j * L + lo counts the whole series before; the M-row index is j * (L + 1) + lo
    row_lo = np.add(found, ws.series[:n_series], out=found)
    return perm, eps, row_lo


def _candidates_float64(x: np.ndarray, p: float, ws: _Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Same as :func:`_candidates_float32` for float64 series (argsort and batched searchsorted)."""
    n_series, length = x.shape
    order = np.argsort(x, axis=1)
    perm = order + ws.base[:n_series]
    s_pad = ws.s_pad[:n_series]
    s_pad[:, 1:] = np.take_along_axis(x, order, axis=1)
    s = np.ascontiguousarray(s_pad[:, 1:])
    eps = p / 100 * (s[:, -1] - s[:, 0])
    q = s - eps[:, None]
    lo = torch.searchsorted(torch.from_numpy(s), torch.from_numpy(q), right=True).numpy()
    row_lo = lo + ws.pad_index[:n_series, :1]
    return perm, eps, row_lo


def _encode_block(x: np.ndarray, p: float, ws: _Workspace, out: np.ndarray) -> None:
    """Encode ``x`` (S, L) finite float32 or float64 into ``out`` (S * L, P) uint8, C-contiguous.

    Index conventions: series ``j`` of the block, rank ``r`` in sorted order, sample count ``L``.
    ``ws.s_pad`` is (S, L + 1) with a -inf sentinel in column 0, so sorted value ``(j, r)`` sits at
    flat index ``j * (L + 1) + r + 1``; prefix mask ``M[t]`` of series ``j`` is row ``j * (L + 1) + t``.
    """
    n_series, length = x.shape
    n = n_series * length
    words = ws.words
    series = ws.series[:n_series]  # (S, L) series number j of each element
    s_pad = ws.s_pad[:n_series]

    # 1-2. sort, eps, candidate run starts lo (as M-row indices row_lo = j * (L + 1) + lo)
    if x.dtype == np.float32:
        perm, eps, row_lo = _candidates_float32(x, p, ws)
    else:
        perm, eps, row_lo = _candidates_float64(x, p, ws)
    s = s_pad[:, 1:]

    # 3. exact check of every candidate: fl(s_i - s_lo) < eps <= fl(s_i - s_{lo-1}). The flat index
    #    of s_lo is row_lo + 1 and of s_{lo-1} is row_lo (the -inf sentinel when lo = 0, so the
    #    second test passes); a candidate lo > i fails the second test. Misses (rounding of
    #    s_i - eps, differences not exact in float64) are repaired by an exact binary search.
    zero = eps == 0.0  # constant series: empty rows by convention
    any_zero = bool(zero.any())
    if any_zero:
        row_lo[zero] = ws.pad_index[:n_series][zero, :1]  # lo = 0 keeps step 4 inside the series
    flat_s = ws.s_pad.reshape(-1)
    eps_col = eps[:, None]
    ok = (s - np.take(flat_s, row_lo + 1, mode="clip")) < eps_col
    ok &= (s - np.take(flat_s, row_lo)) >= eps_col
    if any_zero:
        ok |= zero[:, None]
    if not ok.all():
        bad_series, bad_rank = np.nonzero(~ok)
        fixed = _exact_lower_bound(s_pad, eps, bad_series, bad_rank)
        row_lo[bad_series, bad_rank] = bad_series * (length + 1) + fixed

    # 4. hi by symmetry: hi_i = #{i' : lo_i' <= i}. A bincount over M-row indices and a cumsum give
    #    C[j * (L + 1) + i] = j * L + hi_i, so the M-row index of hi is C[j * (L + 1) + i] + j.
    counts = np.bincount(row_lo.reshape(n), minlength=n_series * (length + 1))
    np.cumsum(counts, out=counts)
    row_hi = np.take(counts, ws.pad_index[:n_series])
    row_hi += series

    # 5. prefix masks M[t] = bit set of the t smallest samples (original column order), built in
    #    planes (S, words, L + 1) where the cumulative sum is contiguous, then made rows (S, L + 1, words)
    planes = ws.planes[:n_series]
    planes.fill(0)
    col = perm - ws.base[:n_series]
    np.put(
        planes.reshape(-1),
        ws.onehot_base[:n_series] + (col >> 5) * (length + 1),
        np.left_shift(np.uint32(1), (col & 31).astype(np.uint32)),
    )
    np.cumsum(planes, axis=2, out=planes)  # bits are distinct, so the sum is the OR
    rows = ws.rows[:n_series]
    np.copyto(rows, planes.transpose(0, 2, 1))

    # 6. row k (original order) = M[hi_k] xor M[lo_k]: scatter row indices to original order, gather
    gl, gh = ws.gl[:n], ws.gh[:n]
    perm_flat = perm.reshape(n)
    gl[perm_flat] = row_lo.reshape(n)
    gh[perm_flat] = row_hi.reshape(n)
    width = ws.width
    rows_bytes = rows.view(np.uint8).reshape(n_series * (length + 1), 4 * words)
    if rows_bytes.shape[1] != width:
        rows_bytes = np.ascontiguousarray(rows_bytes[:, :width])
    void = np.dtype((np.void, width))
    rows_void = rows_bytes.view(void).reshape(-1)
    lower = ws.lower[:n]
    np.take(rows_void, gh, out=out.view(void).reshape(n))
    np.take(rows_void, gl, out=lower.view(void).reshape(n))
    np.bitwise_xor(out, lower, out=out)
    if any_zero:
        out.reshape(n_series, length, width)[zero] = 0


def _block_series(length: int) -> int:
    return int(max(1, min(_MAX_BLOCK_SERIES, _TARGET_BLOCK_SAMPLES // max(1, length))))


def _validate_windows(windows: np.ndarray) -> np.ndarray:
    if not isinstance(windows, np.ndarray):
        raise TypeError(f"windows must be a numpy array of shape (n, C, L), got {type(windows).__name__}")
    if windows.ndim != 3:
        raise ValueError(f"windows must have shape (n, C, L) (3 dimensions), got shape {windows.shape}")
    if windows.dtype not in (np.float32, np.float64):
        raise TypeError(f"windows must have dtype float32 or float64, got {windows.dtype}")
    if windows.shape[2] < 1:
        raise ValueError(f"windows must have length L >= 1 on the last axis, got shape {windows.shape}")
    return windows


def _check_finite(chunk: np.ndarray, first_window: int) -> None:
    finite = np.isfinite(chunk)
    if not finite.all():
        w, c, t = np.argwhere(~finite)[0]
        raise ValueError(
            f"windows contain a non-finite value ({chunk[w, c, t]}) at window index {first_window + w}, "
            f"channel {c}, sample {t}; recurrence plots need finite values"
        )


def _encode_series(series: np.ndarray, p: float, out: np.ndarray, ws: _Workspace) -> None:
    """Encode (m, L) series into ``out`` (m * L, P) block by block with one workspace."""
    block, length = ws.n_series, ws.length
    for j in range(0, len(series), block):
        k = min(j + block, len(series))
        _encode_block(series[j:k], p, ws, out[j * length : k * length])


def encode_recurrence_plots(
    windows: np.ndarray,
    percentage: float = 10.0,
    chunk_size: int = 1024,
    *,
    num_threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    resolution: int | None = None,
) -> np.ndarray:
    """Encode windows as bit-packed recurrence plots, bit-identical to the float64 definition.

    Parameters
    ----------
    windows : np.ndarray, float32 or float64, shape (n, C, L)
        ``n`` windows of ``C`` channels and ``L`` samples (any units: the plot is scale free).
    percentage : float
        ``eps`` = ``percentage`` % of the maximum pairwise distance per window and channel, in (0, 100].
    chunk_size : int
        Windows validated and encoded per step; intermediate memory is O(chunk_size * C * L) plus
        cache-sized per-thread buffers, independent of ``n`` (the output itself is n * C * L * P bytes).
    num_threads : int, optional
        Worker threads (numpy releases the GIL); default ``torch.get_num_threads()``, capped by the
        CPU count. The result does not depend on it.
    progress : callable, optional
        Called as ``progress(windows_done, n)`` after every chunk. Independently, progress with an
        ETA is logged at INFO every few seconds for long runs.
    resolution : int, optional
        None or ``L`` (the paper): full-resolution packed plots. ``R < L`` dividing ``L``: the
        plots reduced to ``R x R`` recurrence counts (:func:`reduce_recurrence_plots`), chunk by chunk.

    Returns
    -------
    np.ndarray, uint8, shape (n, C, L, ceil(L / 8)) — or (n, C, R, R) with ``resolution = R < L``
        ``np.packbits(rp, axis=-1, bitorder='little')`` of the boolean plots of
        :func:`recurrence_plot_reference` (constant channels give all-zero plots), or their
        recurrence counts per ``(L / R) x (L / R)`` cell.

    Raises
    ------
    TypeError, ValueError
        Wrong type, ndim or dtype, ``L < 1``, non-finite values (window index and channel are
        named), ``percentage`` outside (0, 100], or ``chunk_size < 1``.
    """
    windows = _validate_windows(windows)
    p = _check_percentage(percentage)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    n, n_channels, length = windows.shape
    cell = 1 if resolution is None else recurrence_cell(length, resolution)
    if cell > 1:
        reduced = np.empty((n, n_channels, length // cell, length // cell), dtype=np.uint8)
        for a in range(0, n, chunk_size):
            b = min(n, a + chunk_size)
            packed = encode_recurrence_plots(windows[a:b], percentage, chunk_size, num_threads=num_threads)
            reduced[a:b] = reduce_recurrence_plots(packed, length, length // cell)
            if progress is not None:
                progress(b, n)
        return reduced
    width = packed_width(length)
    out = np.empty((n, n_channels, length, width), dtype=np.uint8)
    if n == 0 or n_channels == 0:
        return out
    threads = int(num_threads) if num_threads is not None else torch.get_num_threads()
    threads = max(1, min(threads, os.cpu_count() or 1))
    block = _block_series(length)
    workspaces = [_Workspace(block, length) for _ in range(threads)]
    flat_out = out.reshape(n * n_channels * length, width)
    chunk_size = int(chunk_size)
    n_chunks = (n + chunk_size - 1) // chunk_size
    started = last_log = time.perf_counter()
    executor = ThreadPoolExecutor(threads) if threads > 1 else None
    try:
        for i, a in enumerate(range(0, n, chunk_size)):
            b = min(n, a + chunk_size)
            chunk = windows[a:b]
            _check_finite(chunk, a)
            series = np.ascontiguousarray(chunk.reshape((b - a) * n_channels, length))
            if series.dtype == np.float64:
                as32 = series.astype(np.float32)
                if np.array_equal(as32, series):  # float32-representable: the fast path is exact
                    series = as32
            chunk_out = flat_out[a * n_channels * length : b * n_channels * length]
            # contiguous, block-aligned share of the chunk per thread (one task per thread)
            per = -(-len(series) // (threads * block)) * block
            shares = [(j, min(j + per, len(series))) for j in range(0, len(series), per)]
            if executor is None or len(shares) == 1:
                _encode_series(series, p, chunk_out, workspaces[0])
            else:
                futures = [
                    executor.submit(
                        _encode_series, series[j:k], p, chunk_out[j * length : k * length], workspaces[t]
                    )
                    for t, (j, k) in enumerate(shares)
                ]
                for future in futures:
                    future.result()
            if progress is not None:
                progress(b, n)
            now = time.perf_counter()
            if now - last_log >= _LOG_EVERY_S and b < n:
                rate = b / (now - started)
                logger.info(
                    "recurrence plots: chunk %d/%d, %d/%d windows, %.0f windows/s, ETA %.1f s",
                    i + 1, n_chunks, b, n, rate, (n - b) / rate,
                )  # fmt: skip
                last_log = now
    finally:
        if executor is not None:
            executor.shutdown()
    return out
