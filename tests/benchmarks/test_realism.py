import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.benchmarks import realism
from insole_mtl.benchmarks.realism import (
    FEATURE_NAMES,
    GAITPDB_REGIONS,
    SYNTHETIC_REGIONS,
    scale_free_features,
    score_weight_baselines,
)
from insole_mtl.schema import PAPER_CHANNELS

PROJECT = Path(__file__).resolve().parents[2]
GAITPDB_CHANNELS = [f"{foot}{k}" for foot in ("L", "R") for k in range(1, 9)]
COHORT_KEYS = {
    "n_subjects", "n_windows", "weight_std_kg", "force_line_r", "mean_mae_kg", "force_line_mae_kg", "ridge_mae_kg",
    "force_line_ratio", "ridge_ratio", "force_line_ratio_std", "ridge_ratio_std", "per_seed",
    "force_and_shape_mae_kg", "force_and_shape_ratio", "force_and_shape_ratio_std",
}  # fmt: skip


def _gait_like_windows(n: int, n_channels: int, seed: int = 0) -> np.ndarray:
    """Positive, continuous-valued force-like windows (no ties: threshold features are well defined)."""
    rng = np.random.default_rng(seed)
    t = np.arange(160) / 40.0
    phase = rng.uniform(0, 2 * np.pi, (n, n_channels, 1))
    x = np.maximum(np.sin(2 * np.pi * 1.3 * t + phase), 0.0) * rng.uniform(50, 900, (n, n_channels, 1))
    return (x + rng.uniform(0, 1, (n, n_channels, 160))).astype(np.float32)


@pytest.mark.parametrize(
    ("channels", "regions"),
    [(list(PAPER_CHANNELS), SYNTHETIC_REGIONS), (GAITPDB_CHANNELS, GAITPDB_REGIONS)],
    ids=["paper-insole", "gaitpdb"],
)
def test_features_are_invariant_to_a_per_window_gain(channels, regions):
    windows = _gait_like_windows(12, len(channels))
    features = scale_free_features(windows, channels, regions)
    assert features.shape == (12, len(FEATURE_NAMES)) == (12, 16) and np.isfinite(features).all()
    assert np.ptp(features, axis=0).max() > 0  # the features vary between windows: not trivially constant
    force = [i for i, c in enumerate(channels) if c.startswith(("fsr", "L", "R"))]
    # A power-of-two gain per window is exact in floating point: the features must be bit-identical.
    exact = windows.astype(np.float64)
    exact[:, force] *= 2.0 ** np.arange(-3, 9)[:, None, None]
    np.testing.assert_array_equal(scale_free_features(exact, channels, regions), features)
    # Any positive per-window gain: identical up to rounding. The accelerometer channels are ignored.
    scaled = windows.astype(np.float64)
    scaled[:, force] *= np.random.default_rng(1).uniform(0.05, 20.0, (12, 1, 1))
    if len(force) < len(channels):
        scaled[:, : min(force)] = np.random.default_rng(2).normal(0, 30, scaled[:, : min(force)].shape)
    np.testing.assert_allclose(scale_free_features(scaled, channels, regions), features, rtol=1e-9, atol=1e-12)
    # A gain on ONE channel is not a per-window gain: the shares change (the features do see shape).
    one = windows.astype(np.float64)
    one[:, force[0]] *= 3.0
    assert not np.allclose(scale_free_features(one, channels, regions), features)


def test_feature_definitions_on_a_hand_made_window():
    window = np.zeros((1, 14, 160))
    window[0, 6:14] = 1.0  # every FSR reads 1: equal shares, flat total
    window[0, 8, :80] = 5.0  # right lateral heel (fsr3_R) 5 during the first half
    f = dict(zip(FEATURE_NAMES, scale_free_features(window, PAPER_CHANNELS, SYNTHETIC_REGIONS)[0]))
    total = 8.0 * 160 + 4.0 * 80
    assert f["share_lateral_heel_R"] == pytest.approx(5.0 * 80 / total + 80 / total)
    assert f["share_medial_fore_L"] == pytest.approx(160 / total)
    assert f["above_half_total"] == 0.5 and f["above_half_lateral_heel"] == pytest.approx(0.25)  # left FSR3 is flat
    assert f["peak_to_mean_total"] == pytest.approx(12.0 / 10.0) and f["cv_total"] == pytest.approx(2.0 / 10.0)
    assert f["left_right_asymmetry"] == pytest.approx(4.0 * 80 / total)
    assert f["contact_fraction"] == pytest.approx(0.25)  # right foot above 10 % of its range half the time, left never
    assert f["heel_loaded_fraction"] == pytest.approx(0.5)  # right foot in contact: heel 6 > forefoot 2; left: none


def test_features_reject_unknown_channels():
    with pytest.raises(ValueError, match=re.escape("realism: region R/medial_fore channels ['R5', 'R7', 'R8']")):
        scale_free_features(np.zeros((1, 14, 160)), PAPER_CHANNELS, GAITPDB_REGIONS)


def test_scores_predict_every_subject_out_of_fold():
    """A cohort whose force is exactly proportional to weight: the line is exact, the mean predictor is not."""
    rng = np.random.default_rng(0)
    weights = rng.uniform(50, 100, 15)
    subjects = np.repeat([f"S{i:02d}" for i in range(15)], 3)
    windows = _gait_like_windows(45, 14, seed=3).astype(np.float64)
    windows[:, 6:] /= windows[:, 6:].mean(axis=(1, 2), keepdims=True) / 100.0
    windows[:, 6:] *= np.repeat(weights, 3)[:, None, None] / 8.0
    labels = pd.DataFrame({"subject": subjects, "weight": np.repeat(weights, 3)})
    labels.loc[0, "weight"] = np.nan  # an unlabelled window is ignored
    scores = score_weight_baselines(windows, labels, PAPER_CHANNELS, PAPER_CHANNELS[6:], SYNTHETIC_REGIONS, 5, (0, 1))
    assert set(scores) == COHORT_KEYS
    assert scores["n_subjects"] == 15 and scores["n_windows"] == 44
    assert scores["force_line_mae_kg"] < 1e-6 and scores["force_line_r"] == pytest.approx(1.0)
    assert scores["mean_mae_kg"] > 5 and scores["force_line_ratio"] < 1e-6
    assert [s["fold_seed"] for s in scores["per_seed"]] == [0, 1]
    # the force beside the shape features: the force carries it all here, so the ridge is close to the exact line
    assert scores["force_and_shape_mae_kg"] < 0.2 * scores["mean_mae_kg"]
    scanned = score_weight_baselines(windows, labels, PAPER_CHANNELS, PAPER_CHANNELS[6:], SYNTHETIC_REGIONS, 5, (0,), scan=True)
    assert list(scanned["force_plus_feature"]) == list(FEATURE_NAMES)
    assert all(np.isfinite(v) and v < 0.2 * scores["mean_mae_kg"] for v in scanned["force_plus_feature"].values())
    assert "force_plus_feature" not in scores


def test_tiny_benchmark_run_returns_the_documented_keys(monkeypatch):
    monkeypatch.chdir(PROJECT)
    argv = ["--n-subjects", "10", "--seed", "1", "--duration-scale", "0.1", "--skip-gaitpdb", "--fold-seeds", "0"]
    result = realism.main(argv)
    assert set(result) == {"protocol", "synthetic", "gaitpdb", "wall_s"}
    assert result["gaitpdb"] == {"skipped": "--skip-gaitpdb"}
    protocol = result["protocol"]
    assert protocol["folds"] == 5 and protocol["fold_seeds"] == [0] and protocol["features"] == list(FEATURE_NAMES)
    synthetic = result["synthetic"]
    assert set(synthetic) == COHORT_KEYS | {"config", "windowing", "experiments"}
    assert synthetic["config"] == {"n_subjects": 10, "seed": 1, "duration_scale": 0.1}
    assert synthetic["windowing"] == {"length": 160, "stride": 40} and synthetic["experiments"] == [9, 10, 11]
    assert synthetic["n_subjects"] == 10 and synthetic["n_windows"] == 30  # EXP09-11, one 4 s window each
    for key in ("mean_mae_kg", "force_line_mae_kg", "ridge_mae_kg", "force_line_ratio", "ridge_ratio"):
        assert np.isfinite(synthetic[key]) and synthetic[key] > 0, key
    assert synthetic["force_line_ratio"] == pytest.approx(synthetic["force_line_mae_kg"] / synthetic["mean_mae_kg"])
    assert realism.main(argv)["synthetic"] == synthetic  # deterministic for fixed seeds


def test_missing_gaitpdb_folder_is_skipped(monkeypatch, tmp_path):
    monkeypatch.chdir(PROJECT)
    argv = ["--n-subjects", "6", "--duration-scale", "0.1", "--folds", "2", "--fold-seeds", "0", "--gaitpdb", str(tmp_path)]
    result = realism.main(argv)
    assert result["gaitpdb"] == {"skipped": f"no gaitpdb folder at {tmp_path}"}


def test_gaitpdb_sensor_regions_cover_every_sensor_once():
    names = [c for foot in GAITPDB_REGIONS.values() for cols in foot.values() for c in cols]
    assert sorted(names) == sorted(GAITPDB_CHANNELS)
    import yaml

    channels = yaml.safe_load((PROJECT / "conf" / "gaitpdb" / "parameters.yml").read_text())["channels"]
    assert sorted(channels) == sorted(GAITPDB_CHANNELS)
