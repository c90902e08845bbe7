"""Polyphase resampling of long-format raw recordings to the pipeline's sampling rate.

Used to bring sources recorded at another rate (gaitpdb: 100 Hz) to the 40 Hz the windowing,
recurrence-plot and model stages assume (4 s = 160 samples).

Method: per recording and channel, ``scipy.signal.resample_poly`` with ``up/down`` the exact
rational ratio ``target_hz / source_hz`` (100 → 40 Hz is up=2, down=5). Its default FIR
low-pass (Kaiser window, cut-off at the lower of the two Nyquist frequencies) removes content
the new rate cannot represent instead of folding it back as aliases.

Offsets and edges: each channel's least-squares line is subtracted before filtering and added
back on the new grid, and the residual is filtered with ``padtype="line"`` (extended by linear
extrapolation of its ends rather than by zeros). With zero padding a channel sitting at a large
offset (FSR forces of hundreds of newtons, accelerometer gravity) would droop towards 0 over
the first and last filter half-lengths (~20 output samples), and the filter's small per-phase
DC-gain differences would add a ripple proportional to the offset; with both measures a
constant or linear signal passes unchanged to the last sample.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from insole_mtl.schema import RECORDING, TIME

logger = logging.getLogger(__name__)

# Largest up/down factor accepted; keeps the polyphase filter short (its length grows with it).
MAX_FACTOR = 1000


def rational_ratio(source_hz: float, target_hz: float) -> tuple[int, int]:
    """Return ``(up, down)`` with ``up / down == target_hz / source_hz``.

    Args:
        source_hz: Current sampling rate (Hz), > 0.
        target_hz: Wanted sampling rate (Hz), > 0.

    Returns:
        Coprime integers, each at most ``MAX_FACTOR``.

    Raises:
        ValueError: a rate is not a positive finite number, or the ratio has no exact
            (relative error ≤ 1e-9) fraction with terms ≤ ``MAX_FACTOR``.
    """
    for name, value in (("source_hz", source_hz), ("target_hz", target_hz)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"resample: {name} must be a positive finite number of Hz, got {value!r}")
    ratio = target_hz / source_hz
    fraction = Fraction(ratio).limit_denominator(MAX_FACTOR)
    if fraction.numerator == 0 or fraction.numerator > MAX_FACTOR or abs(float(fraction) - ratio) > 1e-9 * ratio:
        raise ValueError(
            f"resample: {source_hz:g} Hz -> {target_hz:g} Hz is not a ratio up/down with up, down <= {MAX_FACTOR}"
        )
    return fraction.numerator, fraction.denominator


def _resample_block(block: np.ndarray, up: int, down: int) -> np.ndarray:
    """Resample one recording, (n, C) float64 -> (ceil(n * up / down), C) float64.

    The least-squares line of each channel is removed before filtering and evaluated on the new
    sample grid afterwards: the polyphase branches of the default filter differ in DC gain by
    ~1e-4, which on an FSR offset of hundreds would add an alternating ripple of a few hundredths
    (visible in a recurrence plot of a quiet stance); on the detrended residual it vanishes.
    """
    n = len(block)
    position = np.arange(n, dtype="float64")
    mean = block.mean(axis=0)
    centred = position - position.mean()
    # Closed-form least-squares slope (np.polyfit is ~50x slower on (10^4, 16) blocks).
    slope = centred @ (block - mean) / (centred @ centred) if n > 1 else np.zeros(block.shape[1])
    intercept = mean - slope * position.mean()
    residual = block - (intercept + position[:, None] * slope)
    resampled = resample_poly(residual, up, down, axis=0, padtype="line")
    new_position = np.arange(len(resampled), dtype="float64") * down / up  # in input-sample units
    return resampled + intercept + new_position[:, None] * slope


def resample_recordings(
    recordings: pd.DataFrame, channels: Sequence[str], source_hz: float, target_hz: float
) -> pd.DataFrame:
    """Resample every recording of a long-format table from ``source_hz`` to ``target_hz``.

    Args:
        recordings: Raw recordings table: ``recording`` (str), ``time_s`` (float64 s), one
            column per channel; rows of a recording in time order (they need not be
            contiguous).
        channels: Channel columns to resample.
        source_hz: Sampling rate of ``recordings`` (Hz).
        target_hz: Output sampling rate (Hz).

    Returns:
        New table with columns ``recording`` (str), ``time_s`` (float64), channels (float32),
        recordings in order of first appearance. A recording of n samples becomes
        ``ceil(n * up / down)`` samples with ``time_s = t0 + arange(m) / target_hz``, ``t0``
        its first time. When the rates are equal the input is returned unchanged (a copy
        with only these columns, channels as float32).

    Raises:
        ValueError: missing column, bad rates (see ``rational_ratio``), non-finite value
            (recording and channel named).
    """
    channels = list(channels)
    missing = [c for c in (RECORDING, TIME, *channels) if c not in recordings.columns]
    if missing:
        raise ValueError(f"resample_recordings: missing column(s) {missing} (columns: {list(recordings.columns)})")
    up, down = rational_ratio(source_hz, target_hz)
    columns = [RECORDING, TIME, *channels]
    if up == down:
        out = recordings[columns].copy()
        out[channels] = out[channels].astype("float32")
        return out

    codes, names = pd.factorize(recordings[RECORDING], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    values = recordings[channels].to_numpy(dtype="float64")
    times = recordings[TIME].to_numpy(dtype="float64")
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise ValueError(
            f"resample_recordings: non-finite value in recording {recordings[RECORDING].iloc[row]!r}, "
            f"channel {channels[col]!r} (row {row})"
        )

    out_names: list[str] = []
    out_lengths: list[int] = []
    out_times: list[np.ndarray] = []
    out_values: list[np.ndarray] = []
    for k, name in enumerate(names):
        rows = order[bounds[k] : bounds[k + 1]]
        resampled = _resample_block(values[rows], up, down)
        out_names.append(str(name))
        out_lengths.append(len(resampled))
        out_times.append(times[rows[0]] + np.arange(len(resampled), dtype="float64") / target_hz)
        out_values.append(resampled.astype("float32"))
    stacked = np.concatenate(out_values, axis=0) if out_values else np.zeros((0, len(channels)), dtype="float32")
    data: dict[str, object] = {
        RECORDING: pd.Series(np.repeat(np.asarray(out_names, dtype=object), out_lengths), dtype=str),
        TIME: np.concatenate(out_times) if out_times else np.zeros(0, dtype="float64"),
    }
    for j, channel in enumerate(channels):
        data[channel] = stacked[:, j]
    logger.info(
        "resampled %d recordings %g Hz -> %g Hz (up=%d, down=%d): %d -> %d samples",
        len(names), source_hz, target_hz, up, down, len(recordings), len(stacked),
    )  # fmt: skip
    return pd.DataFrame(data)
