"""Benchmark of the bit-packed recurrence-plot encoder against pyts (issue #5).

``python -m insole_mtl.benchmarks recurrence [--n-series 10000] [--length 160] [--repeats 5]``

Generates realistic float32 windows (random walks + sines + noise, some quantised channels with
exact ties, some constant channels), then times

* pyts ``RecurrencePlot(threshold='distance')``: cold (import + first call) and warm (median of
  ``repeats``), on the same series, in batches of ``--pyts-batch`` series to bound its memory
  (it materialises an (n, L, L) float64 distance array);
* a plain torch float32 broadcast ``|x_k - x_l| < eps`` + ``packbits`` (for reference);
* :func:`~insole_mtl.encoding.recurrence.encode_recurrence_plots` (median of ``repeats``),

checks the encoder bit-for-bit against the float64 definition on all series (and pyts against the
same definition), and reports seconds, series/s, speed-ups and the encoder's peak traced memory.
pyts is a dev dependency: without it the pyts figures are ``None``.
"""

from __future__ import annotations

import argparse
import logging
import math
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import torch

from insole_mtl.encoding.recurrence import (
    encode_recurrence_plots,
    recurrence_plot_reference,
    unpack_recurrence_plots,
)

logger = logging.getLogger(__name__)


def make_windows(n_series: int, length: int, n_channels: int = 14, seed: int = 0) -> np.ndarray:
    """Realistic test windows, float32, shape (ceil(n_series / n_channels), n_channels, length).

    Channels mix random walks, sines of random frequency/phase and noise; every 7th window has a
    quantised channel (integer ADC-like levels, hence many exact ties, some exactly at ``eps``) and
    every 11th window a constant channel.
    """
    rng = np.random.default_rng(seed)
    n_windows = max(1, math.ceil(n_series / n_channels))
    t = np.arange(length, dtype=np.float64)
    walk = np.cumsum(rng.standard_normal((n_windows, n_channels, length)), axis=-1)
    freq = rng.uniform(0.5, 4.0, (n_windows, n_channels, 1)) / length
    phase = rng.uniform(0, 2 * np.pi, (n_windows, n_channels, 1))
    amp = rng.uniform(0.5, 5.0, (n_windows, n_channels, 1))
    x = 0.3 * walk + amp * np.sin(2 * np.pi * freq * t + phase) + 0.1 * rng.standard_normal(walk.shape)
    x *= rng.uniform(0.1, 100.0, (n_windows, n_channels, 1))
    x = x.astype(np.float32)
    x[::7, 6] = np.round(x[::7, 6] / np.maximum(np.ptp(x[::7, 6], axis=-1, keepdims=True), 1e-3) * 20)
    x[::11, 9] = 512.0
    return x


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def _pyts_transform(series: np.ndarray, percentage: float, batch: int) -> None:
    from pyts.image import RecurrencePlot

    rp = RecurrencePlot(threshold="distance", percentage=percentage)
    for i in range(0, len(series), batch):
        rp.transform(series[i : i + batch])


def _torch_broadcast(series: np.ndarray, percentage: float, batch: int) -> None:
    xt = torch.from_numpy(series)
    for i in range(0, len(xt), batch):
        xb = xt[i : i + batch]
        dist = (xb[:, :, None] - xb[:, None, :]).abs_()
        eps = percentage / 100 * dist.amax(dim=(1, 2))
        np.packbits((dist < eps[:, None, None]).numpy(), axis=-1, bitorder="little")


def _check_identical(windows: np.ndarray, packed: np.ndarray, percentage: float, batch: int) -> int:
    """Number of windows whose packed plots differ from the float64 reference (0 = bit-identical)."""
    length = windows.shape[-1]
    per = max(1, batch // windows.shape[1])
    bad = 0
    for i in range(0, len(windows), per):
        ref = recurrence_plot_reference(windows[i : i + per], percentage)
        got = unpack_recurrence_plots(packed[i : i + per], length)
        bad += int((got != ref).any(axis=(1, 2, 3)).sum())
    return bad


def _pyts_mismatches(series: np.ndarray, percentage: float, n_check: int) -> int | None:
    try:
        from pyts.image import RecurrencePlot
    except ImportError:
        return None
    sub = series[:n_check]
    got = RecurrencePlot(threshold="distance", percentage=percentage).transform(sub) > 0.5
    return int((got != recurrence_plot_reference(sub, percentage)).any(axis=(1, 2)).sum())


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; log and return its figures (seconds, series/s, ratios, bytes)."""
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks recurrence")
    parser.add_argument("--n-series", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=160)
    parser.add_argument("--channels", type=int, default=14)
    parser.add_argument("--percentage", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk-size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=None, help="encoder threads (default torch's)")
    parser.add_argument("--pyts-batch", type=int, default=1000, help="series per pyts/torch call")
    parser.add_argument("--skip-pyts", action="store_true")
    parser.add_argument("--skip-torch", action="store_true")
    args = parser.parse_args(argv)

    windows = make_windows(args.n_series, args.length, args.channels, args.seed)
    series = windows.reshape(-1, args.length)
    n = len(series)
    p = args.percentage
    logger.info("recurrence benchmark: %d series (%s windows), L=%d, p=%g%%", n, windows.shape, args.length, p)

    def encode() -> np.ndarray:
        return encode_recurrence_plots(windows, p, args.chunk_size, num_threads=args.threads)

    packed = encode()  # warm-up (thread pool, allocator)
    enc_median, enc_min = _time(encode, args.repeats)
    mismatched = _check_identical(windows, packed, p, args.pyts_batch)
    tracemalloc.start()
    encode()
    _, enc_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    result: dict = {
        "n_series": n,
        "length": args.length,
        "percentage": p,
        "threads": args.threads if args.threads is not None else torch.get_num_threads(),
        "encoder_s": enc_median,
        "encoder_min_s": enc_min,
        "encoder_series_per_s": n / enc_median,
        "encoder_s_per_10k_series": enc_median * 10_000 / n,
        "encoder_peak_traced_mb": enc_peak / 2**20,
        "output_mb": packed.nbytes / 2**20,
        "bit_identical_to_float64_definition": mismatched == 0,
        "mismatched_windows": mismatched,
    }

    if not args.skip_torch:
        torch_median, _ = _time(lambda: _torch_broadcast(series, p, args.pyts_batch), max(1, args.repeats // 2))
        result["torch_broadcast_s"] = torch_median
        result["speedup_vs_torch_broadcast"] = torch_median / enc_median

    pyts_cold = pyts_warm = None
    if not args.skip_pyts:
        try:
            t0 = time.perf_counter()
            _pyts_transform(series[: args.pyts_batch], p, args.pyts_batch)  # import + first call
            pyts_cold = time.perf_counter() - t0
            pyts_warm, _ = _time(lambda: _pyts_transform(series, p, args.pyts_batch), args.repeats)
        except ImportError:
            logger.warning("pyts is not installed (dev dependency): pyts timings skipped")
    result["pyts_cold_first_batch_s"] = pyts_cold
    result["pyts_warm_s"] = pyts_warm
    result["pyts_series_per_s"] = n / pyts_warm if pyts_warm else None
    result["speedup_vs_warm_pyts"] = pyts_warm / enc_median if pyts_warm else None
    result["pyts_mismatched_series_of_500"] = None if args.skip_pyts else _pyts_mismatches(series, p, 500)
    result["process_max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    logger.info(
        "encoder %.4f s (%.0f series/s, %.4f s per 10k series), peak traced %.1f MB, bit-identical: %s",
        enc_median, n / enc_median, result["encoder_s_per_10k_series"], result["encoder_peak_traced_mb"],
        mismatched == 0,
    )  # fmt: skip
    if pyts_warm:
        logger.info(
            "pyts warm %.3f s (cold first batch %.3f s): speed-up vs warm pyts %.1fx",
            pyts_warm, pyts_cold, result["speedup_vs_warm_pyts"],
        )  # fmt: skip
    if "torch_broadcast_s" in result:
        logger.info("torch broadcast %.3f s: speed-up %.1fx", result["torch_broadcast_s"], result["speedup_vs_torch_broadcast"])
    return result
