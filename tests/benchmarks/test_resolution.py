"""The resolution benchmark: deterministic counts and a tiny CLI run (no timed assertions)."""

import math

import numpy as np
import pytest
import torch

from insole_mtl.benchmarks import resolution
from insole_mtl.benchmarks.__main__ import _available
from insole_mtl.benchmarks.resolution import (
    CONFIGURATION_KEYS,
    RESULT_KEYS,
    Configuration,
    build_configurations,
    configuration_costs,
    random_windows,
    stored_bytes_per_window,
    stored_inputs,
    tasks_for,
)
from insole_mtl.efficiency.complexity import count_macs, count_parameters
from insole_mtl.models import build_model

TASKS = tasks_for(7)


@pytest.fixture(autouse=True)
def _one_thread():
    """Counts do not depend on threads; on busy shared cores one thread avoids waits on descheduled workers."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def costs_14():
    """Costs of the Table II network at 160 / 80 / 40, and at 160 with amplitude features (14 channels)."""
    configs = {c.name: c for c in build_configurations(160)}
    names = ["mobilenetv2@160", "mobilenetv2@80", "mobilenetv2@40", "mobilenetv2@160+amplitude", "cnn1d"]
    return {name: configuration_costs(configs[name], 14, TASKS, 160) for name in names}


def test_configurations_default_and_options():
    names = [c.name for c in build_configurations(160)]
    assert names == [
        "mobilenetv2@160", "mobilenetv2@80", "mobilenetv2@40",
        "mobilenetv2@160+amplitude", "mobilenetv2@80+amplitude", "mobilenetv2@40+amplitude", "cnn1d",
    ]  # fmt: skip
    configs = build_configurations(160, cnn_widths=[16, 32, 16], with_recurrent=True)
    # width 32 is cnn1d's default (already the "cnn1d" row), duplicates are dropped
    assert [c.name for c in configs][-3:] == ["cnn1d", "cnn1d(width=16)", "lstm"]
    by_name = {c.name: c for c in configs}
    assert by_name["mobilenetv2@80"].options == {"recurrence_cell": 2}
    assert by_name["mobilenetv2@40+amplitude"].options == {"recurrence_cell": 4, "amplitude_features": True}
    assert by_name["mobilenetv2@160"].options == {}
    with pytest.raises(ValueError):
        build_configurations(160, resolutions=[70])  # not a divisor of the window length


def test_parameters_are_those_of_freshly_built_models(costs_14):
    for name, options in [("mobilenetv2@160", {}), ("mobilenetv2@80", {"recurrence_cell": 2}),
                          ("mobilenetv2@160+amplitude", {"amplitude_features": True}), ("cnn1d", {})]:  # fmt: skip
        model = build_model(costs_14[name]["model"], 14, TASKS, **options)
        assert costs_14[name]["parameters"] == count_parameters(model), name
    # the resolution changes no weight; amplitude adds Linear(4C, 32) and the fusion Linear(64 + 32, 64)
    assert costs_14["mobilenetv2@80"]["parameters"] == costs_14["mobilenetv2@160"]["parameters"]
    assert costs_14["mobilenetv2@40"]["parameters"] == costs_14["mobilenetv2@160"]["parameters"]
    extra = (4 * 14 * 32 + 32) + (96 * 64 + 64)
    assert costs_14["mobilenetv2@160+amplitude"]["parameters"] - costs_14["mobilenetv2@160"]["parameters"] == extra


def test_macs_match_count_macs_and_scale_with_the_feature_map_area(costs_14):
    model = build_model("mobilenetv2", 14, TASKS)
    assert costs_14["mobilenetv2@160"]["macs"] == count_macs(model, (14, 160, 160), include_elementwise=False)
    assert costs_14["mobilenetv2@160"]["macs_with_elementwise"] == count_macs(model, (14, 160, 160), include_elementwise=True)
    assert costs_14["mobilenetv2@160"]["macs_with_elementwise"] > costs_14["mobilenetv2@160"]["macs"]
    assert costs_14["cnn1d"]["inputs"] == {"windows": [14, 160]}
    assert costs_14["mobilenetv2@160+amplitude"]["inputs"] == {"recurrence_plots": [14, 160, 160], "windows": [14, 160]}
    # Why not exactly 1/4: convolution MACs are proportional to each layer's OUTPUT area. The 1x1 stem
    # pads by 1 (160 -> 162, 80 -> 82) and the stride-2 stages round up (162 -> 81 -> 41 vs 82 -> 41 -> 21),
    # so every layer's area ratio lies between (82/162)^2 = 0.2562 and (21/41)^2 = 0.2624 (at 40:
    # (42/162)^2 = 0.0672 .. (11/41)^2 = 0.0720). Only the 128 -> 64 embedding and the heads (~9 K of
    # ~275 M MACs) do not scale; the 1e-3 margin covers them and the amplitude layers (~8 K).
    for res, sides in [(80, (82, 41, 21)), (40, (42, 21, 11))]:
        ratios = [(a / b) ** 2 for a, b in zip(sides, (162, 81, 41), strict=True)]
        for key in ("macs", "macs_with_elementwise"):
            r = costs_14[f"mobilenetv2@{res}"][key] / costs_14["mobilenetv2@160"][key]
            assert min(ratios) - 1e-3 <= r <= max(ratios) + 1e-3, (res, key, r)
    amp = costs_14["mobilenetv2@160+amplitude"]["macs"] - costs_14["mobilenetv2@160"]["macs"]
    assert 0 < amp < 10_000


@pytest.mark.parametrize("channels", [14, 16])
def test_stored_bytes_exact(channels, costs_14):
    c = channels
    assert stored_bytes_per_window("recurrence_plots", c, 160, 160) == c * 160 * 20  # packed bits, 20 bytes a row
    assert stored_bytes_per_window("recurrence_plots", c, 160, 80) == c * 80 * 80  # uint8 counts
    assert stored_bytes_per_window("recurrence_plots", c, 160, 40) == c * 40 * 40
    assert stored_bytes_per_window("windows", c, 160) == c * 160 * 4  # float32
    if c == 14:
        assert costs_14["mobilenetv2@160"]["stored_bytes"] == 44_800
        assert costs_14["mobilenetv2@80"]["stored_bytes"] == 89_600
        assert costs_14["mobilenetv2@40"]["stored_bytes"] == 22_400
        assert costs_14["cnn1d"]["stored_bytes"] == 8_960
        assert costs_14["mobilenetv2@160+amplitude"]["stored_bytes"] == 44_800 + 8_960
        assert costs_14["mobilenetv2@160+amplitude"]["stored_bytes_by_input"] == {"recurrence_plots": 44_800, "windows": 8_960}


@pytest.mark.parametrize("res", [160, 80, 40])
def test_stored_bytes_match_the_arrays_the_encoder_writes(res):
    channels, n = 3, 2
    config = Configuration("x", "mobilenetv2", {"amplitude_features": True, **({} if res == 160 else {"recurrence_cell": 160 // res})}, res)
    model = config.build(channels, TASKS)
    arrays = stored_inputs(model, random_windows(n, channels, 160), res)
    assert [a.dtype for a in arrays] == [np.uint8, np.float32]
    for name, array in zip(model.input_names, arrays, strict=True):
        assert array.nbytes == n * stored_bytes_per_window(name, channels, 160, res)
    if res < 160:
        assert int(arrays[0].max()) <= (160 // res) ** 2


def test_cli_tiny_run_returns_the_documented_keys():
    assert "resolution" in _available()
    argv = ["--channels", "2", "--length", "32", "--batch-size", "2", "--steps", "1", "--warmup", "1",
            "--cnn-width", "8", "--with-recurrent", "--threads", "1", "--classes", "3"]  # fmt: skip
    result = resolution.main(argv)
    assert set(result) == set(RESULT_KEYS) == {
        "benchmark", "cpu", "torch_version", "threads", "contention", "channels", "length", "tasks", "batch_size",
        "steps", "warmup", "max_seconds", "precisions", "baseline", "configurations", "table",
    }  # fmt: skip
    assert {"tiny_conv_seconds", "tiny_conv_seconds_1_thread", "load_average_1min", "contended"} <= set(result["contention"])
    assert result["channels"] == 2 and result["batch_size"] == 2 and result["threads"] == 1
    assert result["tasks"][0] == {"name": "activity", "kind": "classification", "n_outputs": 3}
    assert result["baseline"] == "mobilenetv2@32"
    assert set(result["cpu"]["flags"] or {}) <= {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx"}
    assert {"model_name", "flags", "native_bf16", "bf16_note"} <= set(result["cpu"])
    assert list(result["configurations"]) == [
        "mobilenetv2@32", "mobilenetv2@16", "mobilenetv2@8",
        "mobilenetv2@32+amplitude", "mobilenetv2@16+amplitude", "mobilenetv2@8+amplitude",
        "cnn1d", "cnn1d(width=8)", "lstm",
    ]  # fmt: skip
    for name, row in result["configurations"].items():
        assert set(CONFIGURATION_KEYS) <= set(row), name
        assert "error" not in row, row.get("error")
        for p in ("fp32", "bf16"):
            timing = row[p]
            assert timing["timed_steps"] == 1 and len(timing["step_seconds"]) == 1
            assert timing["windows_per_second"] > 0 and math.isfinite(timing["last_loss"])
            assert row["speedup_" + p] > 0
        assert row["parameters"] > 0 and row["macs"] > 0
    assert result["configurations"]["mobilenetv2@32"]["speedup_fp32"] == pytest.approx(1.0)
    assert result["configurations"]["mobilenetv2@32"]["fp32"]["channels_last"] is True
    assert result["configurations"]["lstm"]["fp32"]["channels_last"] is False
    assert "mobilenetv2@16+amplitude" in result["table"]


def test_cli_counts_only():
    result = resolution.main(["--channels", "2", "--length", "32", "--steps", "0", "--resolutions", "32", "16", "--threads", "1"])
    rows = result["configurations"]
    assert list(rows) == ["mobilenetv2@32", "mobilenetv2@16", "mobilenetv2@32+amplitude", "mobilenetv2@16+amplitude", "cnn1d"]
    assert all(row["fp32"] is None and row["bf16"] is None and row["speedup_fp32"] is None for row in rows.values())
