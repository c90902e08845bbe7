"""Tests for polyphase resampling of long-format recordings."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.resample import rational_ratio, resample_recordings


def _frame(signals: dict[str, np.ndarray], hz: float, t0: float = 0.0) -> pd.DataFrame:
    """Long table with one recording per entry; every signal is (n,) float."""
    parts = []
    for name, x in signals.items():
        parts.append(pd.DataFrame({"recording": name, "time_s": t0 + np.arange(len(x)) / hz, "a": x.astype("float32")}))
    return pd.concat(parts, ignore_index=True)


def _dominant_hz(x: np.ndarray, hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x - x.mean()))
    return float(np.fft.rfftfreq(len(x), 1.0 / hz)[np.argmax(spectrum)])


@pytest.mark.parametrize(("source", "target", "expected"), [(100, 40, (2, 5)), (40, 100, (5, 2)), (50, 40, (4, 5)), (128, 40, (5, 16)), (40, 40, (1, 1))])
def test_rational_ratio(source: float, target: float, expected: tuple[int, int]) -> None:
    assert rational_ratio(source, target) == expected


def test_sine_below_nyquist_keeps_amplitude_and_frequency() -> None:
    t = np.arange(1000) / 100.0  # 10 s at 100 Hz
    x = 3.0 * np.sin(2 * np.pi * 2.0 * t) + 500.0  # 2 Hz on a large offset (FSR-like)
    out = resample_recordings(_frame({"r": x}, 100.0), ["a"], 100.0, 40.0)
    y = out["a"].to_numpy(dtype=float)
    assert len(y) == 400
    assert _dominant_hz(y, 40.0) == pytest.approx(2.0, abs=0.1)
    expected = 3.0 * np.sin(2 * np.pi * 2.0 * np.arange(400) / 40.0) + 500.0
    np.testing.assert_allclose(y[20:-20], expected[20:-20], atol=0.02)  # interior: exact up to filter ripple
    np.testing.assert_allclose(y, expected, atol=0.6)  # edges: no droop towards 0 thanks to padtype='line'


def test_constant_and_linear_signals_pass_unchanged_to_the_edges() -> None:
    n = 250
    out = resample_recordings(_frame({"c": np.full(n, 700.0), "l": np.arange(n) * 0.5}, 100.0), ["a"], 100.0, 40.0)
    c = out.loc[out["recording"] == "c", "a"].to_numpy(dtype=float)
    np.testing.assert_allclose(c, 700.0, atol=1e-3)
    lin = out.loc[out["recording"] == "l", "a"].to_numpy(dtype=float)
    np.testing.assert_allclose(lin, np.arange(100) * 1.25, atol=1e-3)  # 0.5 per 10 ms = 1.25 per 25 ms


def test_content_above_new_nyquist_is_removed_not_aliased() -> None:
    t = np.arange(2000) / 100.0
    x = np.sin(2 * np.pi * 30.0 * t)  # above 20 Hz (Nyquist at 40 Hz): would alias to 10 Hz
    y = resample_recordings(_frame({"r": x}, 100.0), ["a"], 100.0, 40.0)["a"].to_numpy(dtype=float)
    assert np.abs(y[20:-20]).max() < 0.05


def test_lengths_time_axis_and_order() -> None:
    frame = _frame({"b": np.zeros(1001), "a": np.ones(7)}, 100.0, t0=2.5)
    out = resample_recordings(frame, ["a"], 100.0, 40.0)
    assert list(out.columns) == ["recording", "time_s", "a"]
    counts = out.groupby("recording", sort=False).size()
    assert counts.index.tolist() == ["b", "a"]  # order of first appearance
    assert counts.tolist() == [401, 3]  # ceil(n * 2 / 5)
    np.testing.assert_allclose(out.loc[out["recording"] == "a", "time_s"], [2.5, 2.525, 2.55])
    assert out["a"].dtype == np.float32 and out["time_s"].dtype == np.float64


def test_interleaved_rows_are_grouped_by_recording() -> None:
    frame = _frame({"x": np.arange(10.0), "y": np.arange(10.0) + 100}, 100.0)
    shuffled = frame.iloc[np.r_[0:5, 10:15, 5:10, 15:20]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        resample_recordings(shuffled, ["a"], 100.0, 40.0), resample_recordings(frame, ["a"], 100.0, 40.0)
    )


def test_equal_rates_is_a_no_op() -> None:
    frame = _frame({"r": np.arange(5.0)}, 40.0)
    frame["extra"] = 1
    out = resample_recordings(frame, ["a"], 40.0, 40.0)
    pd.testing.assert_frame_equal(out, frame[["recording", "time_s", "a"]])


def test_deterministic() -> None:
    frame = _frame({"r": np.random.default_rng(0).normal(size=300)}, 100.0)
    pd.testing.assert_frame_equal(
        resample_recordings(frame, ["a"], 100.0, 40.0), resample_recordings(frame, ["a"], 100.0, 40.0)
    )


def test_errors() -> None:
    frame = _frame({"r": np.arange(5.0)}, 100.0)
    with pytest.raises(ValueError, match=re.escape("missing column(s) ['b']")):
        resample_recordings(frame, ["a", "b"], 100.0, 40.0)
    with pytest.raises(ValueError, match=re.escape("source_hz must be a positive finite number of Hz, got 0")):
        resample_recordings(frame, ["a"], 0, 40.0)
    with pytest.raises(ValueError, match=re.escape("target_hz must be a positive finite number of Hz, got nan")):
        resample_recordings(frame, ["a"], 100.0, float("nan"))
    with pytest.raises(ValueError, match=re.escape("is not a ratio up/down with up, down <= 1000")):
        resample_recordings(frame, ["a"], 100.0, 40.0 * np.pi)
    frame.loc[3, "a"] = np.nan
    with pytest.raises(ValueError, match=re.escape("non-finite value in recording 'r', channel 'a' (row 3)")):
        resample_recordings(frame, ["a"], 100.0, 40.0)
