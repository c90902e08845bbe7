"""The edge benchmark's timing schedule: every path gets its timed calls in blocks of consecutive calls, each
block after one untimed call, in an order rotated round by round."""

from __future__ import annotations

import numpy as np

from insole_mtl.edge.raw_benchmark import time_paths


def _recording_paths(names: list[str]) -> tuple[dict, list[tuple[str, float]]]:
    calls: list[tuple[str, float]] = []
    paths = {name: (lambda x, name=name: calls.append((name, float(x[0, 0, 0])))) for name in names}
    return paths, calls


def test_paths_are_timed_in_rotated_blocks_of_consecutive_calls():
    windows = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    paths, calls = _recording_paths(["a", "b", "c"])
    report = time_paths(paths, windows, warmup=1, repeats=5, block=2)
    # warm-up a, b, c; then rounds of (one untimed + up to 2 timed) per path, order a b c / b c a / c a b
    assert [name for name, _ in calls] == (
        ["a", "b", "c"]
        + ["a"] * 3 + ["b"] * 3 + ["c"] * 3
        + ["b"] * 3 + ["c"] * 3 + ["a"] * 3
        + ["c"] * 2 + ["a"] * 2 + ["b"] * 2
    )  # fmt: skip
    # round r's block reads windows r*block, r*block+1 (its untimed call repeats the first)
    assert [value for name, value in calls if name == "a"] == [0.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 4.0]
    assert set(report) == {"a", "b", "c"}
    assert all(row["median_ms"] >= 0 and set(row) == {"median_ms", "p90_ms", "mean_ms"} for row in report.values())


def test_a_block_longer_than_the_repeats_times_each_path_once_per_repeat():
    windows = np.zeros((4, 1, 1), dtype=np.float32)
    paths, calls = _recording_paths(["a", "b"])
    time_paths(paths, windows, warmup=0, repeats=3, block=100)
    assert [name for name, _ in calls] == ["a"] * 4 + ["b"] * 4


def test_streaming_calls_each_follow_the_idle_time_and_get_no_untimed_lead_in(monkeypatch):
    import insole_mtl.edge.raw_benchmark as raw_benchmark

    windows = np.arange(4, dtype=np.float32).reshape(4, 1, 1)
    paths, calls = _recording_paths(["a", "b"])
    monkeypatch.setattr(raw_benchmark.time, "sleep", lambda seconds: calls.append(("sleep", seconds)))
    time_paths(paths, windows, warmup=0, repeats=2, block=2, idle_s=0.5)
    assert calls == [("sleep", 0.5), ("a", 0.0), ("sleep", 0.5), ("a", 1.0), ("sleep", 0.5), ("b", 0.0), ("sleep", 0.5), ("b", 1.0)]
