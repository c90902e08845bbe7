from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from insole_mtl.evaluation.gait_features import (
    GaitFeatureBaseline,
    analysis_bounds,
    balanced_sample_weights,
    gait_feature_names,
    recording_gait_features,
)

LEFT = ["L1", "L2", "L3"]
RIGHT = ["R1", "R2"]
SHARES_L = (0.5, 0.3, 0.2)
SHARES_R = (0.6, 0.4)
PHASES = ("stride", "stance", "swing", "double_support")
TIMING = [f"{p}_{s}" for p in PHASES for s in ("time_s", "cv", "cv_turnfree", "masd_s")]


def _square_gait(
    rate: float,
    stride_n: int,
    stance_n: int,
    n: int,
    level: float = 500.0,
    right_lag_n: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Contact masks (n,) of a two-foot square-wave gait: each foot in contact for ``stance_n`` of every
    ``stride_n`` samples, the right foot lagging half a stride. Returns the (n, 5) channel array and time."""
    i = np.arange(n)
    lag = stride_n // 2 if right_lag_n is None else right_lag_n
    left = (i % stride_n) < stance_n
    right = ((i - lag) % stride_n) < stance_n
    forces = np.concatenate(
        [np.outer(left * level, SHARES_L), np.outer(right * level, SHARES_R)], axis=1
    )
    return forces, i / rate


def _frame(forces: np.ndarray, rate: float, recording: str = "rec") -> pd.DataFrame:
    frame = pd.DataFrame(forces, columns=[*LEFT, *RIGHT])
    frame.insert(0, "time_s", np.arange(len(forces)) / rate)
    frame.insert(0, "recording", recording)
    return frame


def test_square_wave_gait_gives_its_timing_and_forces() -> None:
    # 50 Hz, stride 1.1 s (55 samples), stance 0.66 s (33 samples), right foot lagging 27 samples
    rate, stride_n, stance_n, lag = 50.0, 55, 33, 27
    forces, _ = _square_gait(rate, stride_n, stance_n, n=20 * stride_n, right_lag_n=lag)
    feats = recording_gait_features(_frame(forces, rate), LEFT, RIGHT, rate)
    row = feats.loc["rec"]
    sample = 1.0 / rate
    # double support per stride: the overlaps after each foot's heel strike (33 - 27) + (33 - 28) samples
    ds = ((stance_n - lag) + (stance_n - (stride_n - lag))) / rate
    assert row["stride_time_s"] == pytest.approx(1.1, abs=sample)
    assert row["stance_time_s"] == pytest.approx(0.66, abs=sample)
    assert row["swing_time_s"] == pytest.approx(0.44, abs=sample)
    assert row["double_support_time_s"] == pytest.approx(ds, abs=sample)
    assert row["cadence_spm"] == pytest.approx(120 / 1.1, abs=1.0)
    assert row["stance_pct"] == pytest.approx(60.0, abs=100 * sample / 1.1)
    assert row["swing_pct"] == pytest.approx(40.0, abs=100 * sample / 1.1)
    assert row["double_support_pct"] == pytest.approx(100 * ds / 1.1, abs=100 * sample / 1.1)
    for name in ("stride_cv", "stance_cv", "swing_cv", "double_support_cv", "stride_cv_turnfree", "stride_masd_s"):
        assert row[name] == pytest.approx(0.0, abs=1e-12), name
    assert row["stride_asym"] == pytest.approx(0.0, abs=1e-12)
    assert row["stance_asym"] == pytest.approx(0.0, abs=1e-12)
    assert row["stride_kept_frac"] == 1.0
    # forces: every stance at 500, each foot loaded 60 % of the time
    assert row["abs_peak_force_L"] == pytest.approx(500.0)
    assert row["abs_stance_force_R"] == pytest.approx(500.0)
    assert row["abs_mean_force_L"] == pytest.approx(300.0)
    assert row["abs_mean_total_force"] == pytest.approx(600.0)
    assert row["left_force_share"] == pytest.approx(0.5)
    assert row["peak_to_mean_L"] == pytest.approx(500 / 600)
    assert row["peak_to_stance_R"] == pytest.approx(1.0)
    np.testing.assert_allclose(row[[f"share_{c}" for c in (*LEFT, *RIGHT)]], [*SHARES_L, *SHARES_R])
    peak_rel = row[[f"peak_rel_{c}" for c in (*LEFT, *RIGHT)]]
    np.testing.assert_allclose(peak_rel, np.array([*SHARES_L, *SHARES_R]) * 500 / 600)


def test_feature_table_shape_names_and_order() -> None:
    forces, _ = _square_gait(100.0, 100, 60, n=1000)
    frame = pd.concat([_frame(forces, 100.0, "b"), _frame(forces[::-1] * 2, 100.0, "a")], ignore_index=True)
    feats = recording_gait_features(frame, LEFT, RIGHT, 100.0)
    assert feats.index.tolist() == ["a", "b"] and feats.index.name == "recording"
    assert feats.columns.tolist() == gait_feature_names(LEFT, RIGHT)
    assert all(dtype == np.float64 for dtype in feats.dtypes)
    # a recording's features do not depend on the others in the table
    alone = recording_gait_features(_frame(forces, 100.0, "b"), LEFT, RIGHT, 100.0)
    pd.testing.assert_frame_equal(feats.loc[["b"]], alone)
    # about 40-70 features: 71 for gaitpdb (8 + 8 sensors), 55 for the paper insole (4 + 4)
    assert 40 <= len(gait_feature_names([f"L{i}" for i in range(1, 9)], [f"R{i}" for i in range(1, 9)])) <= 71
    assert 40 <= len(gait_feature_names([f"fsr{i}_L" for i in range(1, 5)], [f"fsr{i}_R" for i in range(1, 5)])) <= 71


def test_flicker_is_bridged_and_blips_are_dropped() -> None:
    rate = 100.0
    forces, _ = _square_gait(rate, 100, 60, n=1200)
    clean = recording_gait_features(_frame(forces, rate), LEFT, RIGHT, rate)
    noisy = forces.copy()
    noisy[330:332, :3] = 0.0  # 20 ms drop-out mid-stance of the left foot: bridged (< 40 ms)
    noisy[575:580, :3] = 400.0  # 50 ms blip in the left swing: dropped (< 0.1 s)
    feats = recording_gait_features(_frame(noisy, rate), LEFT, RIGHT, rate)
    for name in ("stride_time_s", "stance_time_s", "swing_time_s", "stride_cv", "stance_cv"):
        assert feats[name].iloc[0] == pytest.approx(clean[name].iloc[0], abs=1e-12), name


def test_idle_offset_of_an_fsr_insole_is_measured_from() -> None:
    # FSR insoles read an idle offset in swing (here 11 % and 7.4 % of the feet's peaks: above the 7 % threshold)
    rate = 40.0
    forces, _ = _square_gait(rate, 44, 27, n=44 * 12)
    clean = recording_gait_features(_frame(forces, rate), LEFT, RIGHT, rate)
    offset = recording_gait_features(_frame(forces + 20.0, rate), LEFT, RIGHT, rate)
    for name in ("stride_time_s", "stance_time_s", "double_support_time_s", "stance_cv", "cadence_spm"):
        assert offset[name].iloc[0] == pytest.approx(clean[name].iloc[0], abs=1e-12), name
    # the plain BASELINES rule (7 % of the median peak) never sees the foot leave the ground
    plain = recording_gait_features(_frame(forces + 20.0, rate), LEFT, RIGHT, rate, offset_correction=False)
    assert np.isnan(plain["stride_time_s"].iloc[0])
    without = recording_gait_features(_frame(forces, rate), LEFT, RIGHT, rate, offset_correction=False)
    pd.testing.assert_frame_equal(without, clean)  # no offset: both rules agree


def test_scale_free_features_ignore_a_force_gain_and_abs_features_scale() -> None:
    rng = np.random.default_rng(0)
    rate = 40.0
    forces, t = _square_gait(rate, 44, 27, n=44 * 30)
    # realistic-ish: stance humps, per-stride variation, sensor noise and offsets
    forces = forces * (1.0 + 0.2 * np.sin(2 * np.pi * t / 0.55))[:, None] * rng.uniform(0.9, 1.1, forces.shape)
    forces += rng.normal(0.0, 2.0, forces.shape)
    frame = _frame(forces, rate)
    gained = frame.copy()
    gained[[*LEFT, *RIGHT]] *= 3.0
    base = recording_gait_features(frame, LEFT, RIGHT, rate)
    scaled = recording_gait_features(gained, LEFT, RIGHT, rate)
    absolute = [c for c in base.columns if c.startswith("abs_")]
    shape = [c for c in base.columns if not c.startswith("abs_")]
    assert len(absolute) == 7 and base.notna().all(axis=None)
    np.testing.assert_allclose(scaled[shape].to_numpy(), base[shape].to_numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(scaled[absolute].to_numpy(), 3.0 * base[absolute].to_numpy(), rtol=1e-9)


@pytest.mark.parametrize(
    "kind", ["standing", "zeros", "squat", "too_short", "few_strides"]
)
def test_recordings_without_gait_give_nan_not_errors(kind: str) -> None:
    rng = np.random.default_rng(1)
    rate, n = 40.0, 800
    t = np.arange(n) / rate
    if kind == "standing":
        forces = np.array([*SHARES_L, *SHARES_R]) * 350.0 + rng.normal(0, 3.0, (n, 5))
    elif kind == "zeros":
        forces = np.zeros((n, 5))
    elif kind == "squat":
        # both feet always loaded, the load swinging slowly between them
        load = 350.0 * (1.0 + 0.5 * np.sin(2 * np.pi * t / 3.0))
        forces = np.concatenate([np.outer(load, SHARES_L), np.outer(700.0 - load, SHARES_R)], axis=1)
    elif kind == "too_short":
        forces = np.array([*SHARES_L, *SHARES_R])[None, :] * np.array([[0.0], [500.0]])
    else:  # two strides per foot only
        forces, _ = _square_gait(rate, 40, 24, n=100)
    feats = recording_gait_features(_frame(forces, rate), LEFT, RIGHT, rate)
    assert feats.shape == (1, len(gait_feature_names(LEFT, RIGHT)))
    row = feats.iloc[0]
    for name in [*TIMING, "cadence_spm", "stance_pct", "abs_peak_force_L", "peak_to_mean_R", "peak_rel_L1"]:
        assert np.isnan(row[name]), name
    if kind in ("standing", "squat"):  # gait-free features stay defined
        assert row["abs_mean_total_force"] == pytest.approx(700.0, rel=0.01)
        np.testing.assert_allclose(row[[f"share_{c}" for c in LEFT]], SHARES_L, atol=0.02)
    if kind == "zeros":
        assert row["abs_mean_total_force"] == 0.0 and np.isnan(row["share_L1"]) and np.isnan(row["left_force_share"])


def test_empty_input_and_bad_tables() -> None:
    empty = recording_gait_features(_frame(np.zeros((0, 5)), 40.0), LEFT, RIGHT, 40.0)
    assert empty.shape == (0, len(gait_feature_names(LEFT, RIGHT)))
    forces, _ = _square_gait(40.0, 40, 24, n=200)
    frame = _frame(forces, 40.0)
    with pytest.raises(ValueError, match="lack column"):
        recording_gait_features(frame, LEFT, ["R1", "R9"], 40.0)
    with pytest.raises(ValueError, match="both feet"):
        recording_gait_features(frame, LEFT, ["L1", "R1"], 40.0)
    split = pd.concat([frame.iloc[:100], _frame(forces, 40.0, "other"), frame.iloc[100:]], ignore_index=True)
    with pytest.raises(ValueError, match="not contiguous"):
        recording_gait_features(split, LEFT, RIGHT, 40.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        recording_gait_features(frame.iloc[::-1], LEFT, RIGHT, 40.0)


def test_trim_applies_only_to_recordings_longer_than_six_trims() -> None:
    assert analysis_bounds(6000, 100.0, 10.0) == (0, 6000)  # exactly 60 s: kept whole
    assert analysis_bounds(6001, 100.0, 10.0) == (1000, 5001)
    assert analysis_bounds(200, 40.0, 10.0) == (0, 200)  # a 5 s synthetic recording
    assert analysis_bounds(6001, 100.0, 0.0) == (0, 6001)
    # 10 s of slow gait (stride 1.4 s) at each end, regular 1.0 s strides in between
    rate = 100.0

    def recording(middle_s: int) -> np.ndarray:
        slow, _ = _square_gait(rate, 140, 84, n=1000)
        mid, _ = _square_gait(rate, 100, 60, n=100 * middle_s)
        return np.concatenate([slow, mid, slow])

    long = recording_gait_features(_frame(recording(45), rate), LEFT, RIGHT, rate)  # 65 s: trimmed
    assert long["stride_time_s"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert long["stride_cv"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    short = recording_gait_features(_frame(recording(35), rate), LEFT, RIGHT, rate)  # 55 s: read whole
    assert short["stride_time_s"].iloc[0] > 1.05
    untrimmed = recording_gait_features(_frame(recording(45), rate), LEFT, RIGHT, rate, trim_s=0.0)
    assert untrimmed["stride_time_s"].iloc[0] > 1.05


# --------------------------------------------------------------------------------------------
# Baseline model
# --------------------------------------------------------------------------------------------


def _table(n_subjects: int = 8, per_subject: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features f_class (separates the classes), f_speed (speed = f_speed), f_weight (weight = 50 + 10 f_weight),
    plus a constant and an all-NaN column; targets as GaitFeatureBaseline.fit expects."""
    rng = np.random.default_rng(seed)
    rows, targets = [], []
    for s in range(n_subjects):
        cls = s % 2
        weight_level = rng.uniform(0, 4)
        for r in range(per_subject):
            speed = rng.uniform(0.5, 1.5)
            rows.append([cls + rng.normal(0, 0.05), speed, weight_level, 7.0, np.nan])
            targets.append([f"S{s}", cls, speed, 50 + 10 * weight_level])
    ids = [f"S{s}_{r}" for s in range(n_subjects) for r in range(per_subject)]
    columns = ["f_class", "f_speed", "f_weight", "f_const", "f_nan"]
    features = pd.DataFrame(rows, columns=columns, index=pd.Index(ids, name="recording"))
    labels = pd.DataFrame(targets, columns=["subject", "activity", "speed", "weight"], index=features.index)
    return features, labels.reset_index()


def test_baseline_fits_and_predicts() -> None:
    features, targets = _table()
    model = GaitFeatureBaseline(seed=0).fit(features, targets)
    assert set(model.models_) == {"activity", "speed", "weight"}
    test = features.iloc[[0, 3, 4]].drop(columns=["f_nan"])  # a missing column is imputed
    pred = model.predict(test)
    assert pred.index.tolist() == test.index.tolist()
    assert pred.columns.tolist() == [
        "pred_activity", "pred_activity_proba", "proba_activity_0", "proba_activity_1", "pred_speed", "pred_weight",
    ]  # fmt: skip
    assert pred["pred_activity"].dtype == np.int64
    assert pred["pred_activity"].tolist() == targets["activity"].iloc[[0, 3, 4]].tolist()
    np.testing.assert_allclose(pred[["proba_activity_0", "proba_activity_1"]].sum(axis=1), 1.0)
    np.testing.assert_allclose(pred["pred_activity_proba"], pred[["proba_activity_0", "proba_activity_1"]].max(axis=1))
    np.testing.assert_allclose(pred["pred_speed"], targets["speed"].iloc[[0, 3, 4]], atol=0.15)
    np.testing.assert_allclose(pred["pred_weight"], targets["weight"].iloc[[0, 3, 4]], atol=8.0)
    assert model.predict(features.iloc[:0]).shape == (0, 6)


def test_baseline_is_deterministic_for_a_seed() -> None:
    features, targets = _table(seed=1)
    targets.loc[::4, "activity"] = -1  # unlabelled rows are ignored, not a class
    targets.loc[::3, "speed"] = np.nan
    a = GaitFeatureBaseline(seed=5, n_estimators=50).fit(features, targets).predict(features)
    b = GaitFeatureBaseline(seed=5, n_estimators=50).fit(features, targets).predict(features)
    c = GaitFeatureBaseline(seed=6, n_estimators=50).fit(features, targets).predict(features)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["pred_speed"], c["pred_speed"])
    assert set(a["pred_activity"]) <= {0, 1}


def test_balanced_sample_weights() -> None:
    w = balanced_sample_weights(["a", "a", "a", "b"])
    np.testing.assert_allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0])  # 1/n per recording, scaled to mean 1
    # subjects a (2 recordings) and b are class 0, c is class 1: every class sums to the same total
    w = balanced_sample_weights(["a", "a", "b", "c"], np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(w, [0.5, 0.5, 1.0, 2.0])
    assert balanced_sample_weights([]).shape == (0,)


def test_every_subject_counts_equally() -> None:
    # subject A: 20 recordings of 100 kg; B and C: one recording of 50 kg each; no feature tells them apart
    subjects = ["A"] * 20 + ["B", "C"]
    features = pd.DataFrame({"f": np.zeros(22)}, index=pd.Index([f"r{i}" for i in range(22)], name="recording"))
    targets = pd.DataFrame(
        {"subject": subjects, "activity": -1, "speed": np.nan, "weight": [100.0] * 20 + [50.0, 50.0]},
        index=features.index,
    )
    weighted = GaitFeatureBaseline(seed=0).fit(features, targets).predict(features.iloc[:1])["pred_weight"].iloc[0]
    plain = GaitFeatureBaseline(seed=0, subject_weighting=False).fit(features, targets).predict(features.iloc[:1])
    # per-subject mean: (100 + 50 + 50) / 3 = 66.7; per-recording mean: 95.5
    assert 55.0 < weighted < 80.0
    assert plain["pred_weight"].iloc[0] > 88.0


def test_tasks_without_enough_labels_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    features, targets = _table()
    targets["activity"] = 1  # one class only
    targets["speed"] = np.nan
    targets.loc[0, "speed"] = 1.0  # a single labelled recording
    targets = targets.drop(columns=["weight"])
    with caplog.at_level(logging.WARNING, logger="insole_mtl.evaluation.gait_features"):
        model = GaitFeatureBaseline(n_estimators=10).fit(features, targets)
    assert model.models_ == {}
    assert model.predict(features).columns.tolist() == []
    messages = caplog.text
    assert "activity task skipped" in messages and "speed task skipped" in messages and "'weight'" in messages


def test_constant_and_all_nan_features_do_not_crash() -> None:
    features, targets = _table()
    features[:] = np.nan
    features["f_const"] = 1.0
    pred = GaitFeatureBaseline(n_estimators=10).fit(features, targets).predict(features)
    assert pred.notna().all(axis=None)
    with pytest.raises(ValueError, match="no targets"):
        GaitFeatureBaseline().fit(features, targets.iloc[:3])
    with pytest.raises(RuntimeError, match="fit"):
        GaitFeatureBaseline().predict(features)
