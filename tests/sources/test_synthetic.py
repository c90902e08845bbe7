import logging
import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.synthetic import (
    EXPERIMENT_TABLE,
    KINDS,
    SyntheticCohortConfig,
    generate_cohort,
)

logger = logging.getLogger(__name__)

FS = 40.0
FSR_R = ["fsr1_R", "fsr2_R", "fsr3_R", "fsr4_R"]
FSR_L = ["fsr1_L", "fsr2_L", "fsr3_L", "fsr4_L"]
# Small cohort shared by the physics tests: 12 subjects, durations × 0.4 (4–20 s).
SMALL = SyntheticCohortConfig(n_subjects=12, seed=3, duration_scale=0.4)


@pytest.fixture(scope="module")
def cohort() -> RawCohort:
    return generate_cohort(SMALL)


@pytest.fixture(scope="module")
def by_recording(cohort: RawCohort) -> dict[str, pd.DataFrame]:
    return {rid: g for rid, g in cohort.recordings.groupby("recording", sort=False)}


def _dominant_hz(x: np.ndarray, fs: float = FS, fmin: float = 0.2) -> float:
    """Frequency (Hz) of the largest FFT peak above ``fmin`` of a Hann-windowed, demeaned signal."""
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft((x - x.mean()) * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1.0 / fs)
    keep = freqs > fmin
    return float(freqs[keep][np.argmax(spectrum[keep])])


def _experiment_recordings(cohort: RawCohort, by_recording, experiment: int) -> list[tuple[str, pd.DataFrame]]:
    rows = cohort.recording_index[cohort.recording_index["experiment"] == experiment]
    return [(s, by_recording[r]) for r, s in zip(rows["recording"], rows["subject"])]


# ---------------------------------------------------------------------------------------------
# Contract: shapes, dtypes, ids, durations, determinism
# ---------------------------------------------------------------------------------------------


def test_columns_and_dtypes(cohort):
    rec, idx, subj = cohort.recordings, cohort.recording_index, cohort.subjects
    assert list(rec.columns) == ["recording", "time_s", *PAPER_CHANNELS]
    assert pd.api.types.is_string_dtype(rec["recording"])
    assert rec["time_s"].dtype == np.float64
    assert all(rec[c].dtype == np.float32 for c in PAPER_CHANNELS)
    assert list(idx.columns) == ["recording", "subject", "experiment", "order"]
    assert idx["experiment"].dtype == np.int64
    assert pd.api.types.is_string_dtype(idx["recording"]) and pd.api.types.is_string_dtype(idx["subject"])
    assert list(subj.columns) == ["subject", "weight_kg", "sex", "age", "insole_size", "height_cm"]
    assert subj["weight_kg"].dtype == np.float64 and subj["height_cm"].dtype == np.float64
    assert subj["age"].dtype == np.int64 and subj["insole_size"].dtype == np.int64


def test_ids_every_subject_has_every_experiment_and_order(cohort):
    idx, subj = cohort.recording_index, cohort.subjects
    assert subj["subject"].tolist() == [f"S{i:03d}" for i in range(1, 13)]
    assert idx["recording"].is_unique and len(idx) == 12 * 16
    assert idx.iloc[2]["recording"] == "S001_EXP03"
    assert (idx["recording"] == idx["subject"] + "_EXP" + idx["experiment"].map("{:02d}".format)).all()
    assert (idx.groupby("subject")["experiment"].apply(sorted) == [list(range(1, 17))] * 12).all()
    order = idx.groupby("subject")["order"].agg(lambda s: s.unique().tolist())
    assert order.loc["S001"] == ["forward"] and order.loc["S002"] == ["reverse"]
    assert (order.str[0] == "forward").sum() == 6
    assert set(cohort.recordings["recording"].unique()) == set(idx["recording"])


def test_time_restarts_and_is_strictly_increasing(by_recording):
    for rid, g in by_recording.items():
        t = g["time_s"].to_numpy()
        assert t[0] == 0.0, rid
        np.testing.assert_allclose(np.diff(t), 1.0 / FS, rtol=1e-9, err_msg=rid)


def test_durations_follow_table_scale_and_floor(cohort, by_recording):
    for rid, exp in zip(cohort.recording_index["recording"], cohort.recording_index["experiment"]):
        expected_s = max(4.0, EXPERIMENT_TABLE[exp].default_duration_s * 0.4)
        assert len(by_recording[rid]) == round(expected_s * FS), rid
    defaults = [spec.default_duration_s for spec in EXPERIMENT_TABLE.values()]
    assert 4.0 <= min(defaults) and max(defaults) == 50.0
    config = SyntheticCohortConfig(n_subjects=1, experiments=(1, 3, 16), durations_s={3: 6.5}, duration_scale=0.1)
    lengths = generate_cohort(config).recordings.groupby("recording").size()
    assert lengths.to_dict() == {"S001_EXP01": 160, "S001_EXP03": 160, "S001_EXP16": 160}  # all floored at 4 s
    config = SyntheticCohortConfig(n_subjects=1, experiments=(3,), durations_s={3: 6.5})
    assert len(generate_cohort(config).recordings) == 260


def test_value_ranges_like_the_device(cohort):
    values = cohort.recordings[list(PAPER_CHANNELS)].to_numpy()
    np.testing.assert_array_equal(values, np.round(values))  # integers stored as float32
    acc, fsr = values[:, :6], values[:, 6:]
    assert acc.min() >= -128 and acc.max() <= 127
    assert fsr.min() >= 0 and fsr.max() <= 1023
    assert 300 < fsr.max()  # FSR readings in the hundreds
    subj = cohort.subjects
    assert subj["weight_kg"].between(45, 110).all()
    assert set(subj["sex"]) <= {"M", "F"}
    assert subj["insole_size"].between(200, 320).all() and (subj["insole_size"] % 5 == 0).all()


def test_standing_accelerometer_at_rest_is_gravity(cohort, by_recording):
    for _, g in _experiment_recordings(cohort, by_recording, 1):
        acc = g[["x_R", "y_R", "z_R", "x_L", "y_L", "z_L"]].to_numpy()
        assert np.abs(acc).max() <= 40
        assert 25 <= np.median(g["z_R"]) <= 35  # ≈ 1 g = 32 counts on the vertical axis


def test_same_config_gives_bit_identical_frames(cohort):
    again = generate_cohort(SMALL)
    pd.testing.assert_frame_equal(cohort.recordings, again.recordings, check_exact=True)
    pd.testing.assert_frame_equal(cohort.recording_index, again.recording_index, check_exact=True)
    pd.testing.assert_frame_equal(cohort.subjects, again.subjects, check_exact=True)
    other = generate_cohort(SyntheticCohortConfig(n_subjects=12, seed=4, duration_scale=0.4))
    assert not np.array_equal(other.recordings["fsr3_R"].to_numpy(), cohort.recordings["fsr3_R"].to_numpy())


def test_adding_subjects_or_dropping_experiments_keeps_existing_data(cohort, by_recording):
    fewer = generate_cohort(SyntheticCohortConfig(n_subjects=3, seed=3, duration_scale=0.4, experiments=(16, 9)))
    pd.testing.assert_frame_equal(fewer.subjects, cohort.subjects.iloc[:3], check_exact=True)
    assert fewer.recording_index["recording"].tolist() == [
        "S001_EXP09", "S001_EXP16", "S002_EXP09", "S002_EXP16", "S003_EXP09", "S003_EXP16",
    ]  # fmt: skip
    for rid, g in fewer.recordings.groupby("recording"):
        np.testing.assert_array_equal(g.to_numpy(), by_recording[rid].to_numpy())


# ---------------------------------------------------------------------------------------------
# Physics
# ---------------------------------------------------------------------------------------------


def test_cadence_rises_with_speed(cohort, by_recording):
    medians = {}
    for exp in (3, 5, 8, 9, 11):
        freqs = [_dominant_hz(g[FSR_R].sum(axis=1).to_numpy()) for _, g in _experiment_recordings(cohort, by_recording, exp)]
        medians[exp] = float(np.median(freqs))
    logger.info("median stride frequency (Hz) by experiment: %s", medians)
    assert medians[3] < medians[5] < medians[8] < medians[9] <= medians[11]
    assert 0.65 < medians[3] < 0.9 and 0.9 < medians[8] < 1.15  # walking: ~90–120 steps/min
    assert 1.15 < medians[9] < 1.45  # running: ~150–160 steps/min


def test_other_rhythms(cohort, by_recording):
    squat = [_dominant_hz(g[FSR_R].sum(axis=1).to_numpy(), fmin=0.1) for _, g in _experiment_recordings(cohort, by_recording, 14)]
    jack = [_dominant_hz(g[FSR_R].sum(axis=1).to_numpy()) for _, g in _experiment_recordings(cohort, by_recording, 16)]
    assert 0.25 <= np.median(squat) <= 0.55
    assert 1.4 <= np.median(jack) <= 2.1
    # Squats load both feet together; lunges alternate the loaded foot.
    for exp, sign in ((14, 1.0), (15, -1.0)):
        r = [
            np.corrcoef(g[FSR_R].sum(axis=1), g[FSR_L].sum(axis=1))[0, 1]
            for _, g in _experiment_recordings(cohort, by_recording, exp)
        ]
        assert sign * np.median(r) > 0.3, (exp, r)


def test_impact_rises_with_speed(cohort, by_recording):
    peaks = {
        exp: np.median([g["z_R"].quantile(0.99) for _, g in _experiment_recordings(cohort, by_recording, exp)])
        for exp in (3, 8, 11)
    }
    assert peaks[3] < peaks[8] < peaks[11]


def test_left_and_right_are_half_a_cycle_apart(cohort, by_recording):
    for _, g in _experiment_recordings(cohort, by_recording, 6):
        right = g[FSR_R].sum(axis=1).to_numpy(np.float64)
        left = g[FSR_L].sum(axis=1).to_numpy(np.float64)
        period = 1.0 / _dominant_hz(right)  # stride period in s
        right, left = right - right.mean(), left - left.mean()
        lags = np.arange(1, int(period * FS))
        xcorr = [np.dot(right[:-lag], left[lag:]) for lag in lags]
        lag_cycles = lags[int(np.argmax(xcorr))] / FS / period
        assert 0.4 < lag_cycles < 0.6


def _both_feet_unloaded(g: pd.DataFrame) -> float:
    """Fraction of samples where both feet's FSR sums are within 5 % of their range from their minimum."""
    out = np.ones(len(g), dtype=bool)
    for cols in (FSR_R, FSR_L):
        total = g[cols].sum(axis=1).to_numpy(np.float64)
        out &= total < total.min() + 0.05 * np.ptp(total)
    return float(out.mean())


def test_running_has_flight_phases_walking_does_not(cohort, by_recording):
    for exp in (9, 10, 11, 16):
        flights = [_both_feet_unloaded(g) for _, g in _experiment_recordings(cohort, by_recording, exp)]
        assert min(flights) > 0.05, (exp, flights)
    for exp in (3, 8, 12):
        flights = [_both_feet_unloaded(g) for _, g in _experiment_recordings(cohort, by_recording, exp)]
        assert max(flights) == 0.0, (exp, flights)


def test_fsr_level_rises_with_weight_and_bag(cohort, by_recording):
    weights = cohort.subjects.set_index("subject")["weight_kg"]
    level = {s: g[FSR_R + FSR_L].to_numpy().mean() for s, g in _experiment_recordings(cohort, by_recording, 7)}
    r = np.corrcoef([level[s] for s in weights.index], weights.to_numpy())[0, 1]
    logger.info("r(mean FSR level while walking, weight) = %.2f", r)
    assert r > 0.4
    plain = {s: g[FSR_R + FSR_L].to_numpy().sum(axis=1).mean() for s, g in _experiment_recordings(cohort, by_recording, 1)}
    bag = {s: g[FSR_R + FSR_L].to_numpy().sum(axis=1).mean() for s, g in _experiment_recordings(cohort, by_recording, 2)}
    assert np.mean([bag[s] > plain[s] for s in plain]) >= 0.75


@pytest.fixture(scope="module")
def running() -> RawCohort:
    """80 subjects, the weight-labelled running experiments only (EXP09-11), 6 s each (3 windows each)."""
    config = SyntheticCohortConfig(n_subjects=80, seed=11, experiments=(9, 10, 11), durations_s={9: 6, 10: 6, 11: 6})
    return generate_cohort(config)


def _per_subject_running(running: RawCohort, feature) -> tuple[np.ndarray, np.ndarray]:
    """(subject mean of ``feature(recording frame)`` over EXP09-11, subject weight), subjects in id order."""
    by_rid = {rid: g for rid, g in running.recordings.groupby("recording", sort=False)}
    weights = running.subjects.set_index("subject")["weight_kg"]
    values = running.recording_index.groupby("subject")["recording"].agg(lambda rids: np.mean([feature(by_rid[r]) for r in rids]))
    return values.loc[weights.index].to_numpy(), weights.to_numpy()


def _fsr3_flat_fraction(g: pd.DataFrame) -> float:
    """Mean over FSR3 windows (4 s, stride 1 s) of the fraction of samples above half the window's range."""
    fractions = []
    for col in ("fsr3_R", "fsr3_L"):
        x = g[col].to_numpy(np.float64)
        for start in range(0, len(x) - 160 + 1, 40):
            w = x[start : start + 160]
            fractions.append(np.mean(w - w.min() > 0.5 * np.ptp(w)))
    return float(np.mean(fractions))


def test_fsr3_shape_cue_to_weight_is_present_but_weak_while_running(running):
    """Heavier runners drive FSR3 further into saturation (flatter peaks), an affine-invariant weight cue; but a more
    sensitive sensor, a smaller insole or a longer stance do the same, so weight explains well under half of the
    cue's between-subject variance (the earlier, too-easy cohort gave r = 0.79 here)."""
    feature, weight = _per_subject_running(running, _fsr3_flat_fraction)
    r = np.corrcoef(feature, weight)[0, 1]
    logger.info("r(fraction of FSR3 window above half its range, weight) over running = %.2f", r)
    assert 0.2 < r < 0.65


def test_mean_fsr_level_tracks_weight_like_real_insoles(running):
    """The magnitude cue: heavier subjects load the sensors more, but per-insole calibration and per-sensor
    sensitivity spread scatter the subjects' mean readings about their weight line, as in real insoles (gaitpdb's
    calibrated mean-force line: subject r = 0.72; the earlier, too-easy cohort gave r = 0.91 here)."""
    level, weight = _per_subject_running(running, lambda g: float(g[FSR_R + FSR_L].to_numpy().mean()))
    r = np.corrcoef(level, weight)[0, 1]
    logger.info("r(mean FSR level while running, weight) = %.2f", r)
    assert 0.45 < r < 0.85


def test_experiment_table_matches_paper_protocol():
    assert sorted(EXPERIMENT_TABLE) == list(range(1, 17))
    assert {spec.kind for spec in EXPERIMENT_TABLE.values()} == set(KINDS)
    assert [EXPERIMENT_TABLE[e].speed_kmh for e in range(3, 12)] == [3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 7.0, 7.5, 8.0]
    assert [e for e, spec in EXPERIMENT_TABLE.items() if spec.bag] == [2, 13]
    assert EXPERIMENT_TABLE[12].speed_kmh is None and EXPERIMENT_TABLE[1].kind == "stand"


# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------


def test_from_params_reads_yaml_like_mapping():
    config = SyntheticCohortConfig.from_params(
        {"n_subjects": 5, "seed": 2, "durations_s": {"3": 10, 9: 12.5}, "experiments": [3, 9], "duration_scale": 2}
    )
    assert config.n_subjects == 5 and config.seed == 2 and config.experiments == (3, 9)
    assert dict(config.durations_s) == {3: 10.0, 9: 12.5}
    assert config.duration_of(3) == 20.0 and config.n_samples_of(9) == 1000
    assert SyntheticCohortConfig.from_params(None) == SyntheticCohortConfig()
    assert SyntheticCohortConfig.from_params({}) == SyntheticCohortConfig()


def test_from_params_rejects_unknown_key():
    with pytest.raises(ValueError, match=re.escape("synthetic: unknown parameter(s) ['n_subject']")):
        SyntheticCohortConfig.from_params({"n_subject": 3})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subjects": 0}, "synthetic.n_subjects: expected an integer >= 1, got 0"),
        ({"n_subjects": 2.0}, "synthetic.n_subjects: expected an integer >= 1, got 2.0"),
        ({"seed": -1}, "synthetic.seed: expected an integer >= 0, got -1"),
        ({"sampling_rate_hz": 0.0}, "synthetic.sampling_rate_hz: expected a finite number > 0, got 0.0"),
        ({"duration_scale": float("nan")}, "synthetic.duration_scale: expected a finite number > 0, got nan"),
        ({"bag_kg": -3.4}, "synthetic.bag_kg: expected a finite number >= 0, got -3.4"),
        ({"experiments": ()}, "synthetic.experiments: expected a non-empty list of experiment numbers, got ()"),
        ({"experiments": (1, 17)}, "synthetic.experiments: unknown experiment 17; expected integers 1-16"),
        ({"experiments": (3, 3)}, "synthetic.experiments: duplicate experiment numbers in [3, 3]"),
        ({"durations_s": {0: 10.0}}, "synthetic.durations_s: unknown experiment 0; expected integers 1-16"),
        ({"durations_s": {3: 3.5}}, "synthetic.durations_s[3]: expected a number of seconds >= 4, got 3.5"),
    ],
)
def test_invalid_config_values(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SyntheticCohortConfig(**kwargs)


def test_from_params_rejects_non_numeric_duration_key():
    with pytest.raises(ValueError, match=re.escape("synthetic.durations_s: unknown experiment 'EXP03'; expected integers 1-16")):
        SyntheticCohortConfig.from_params({"durations_s": {"EXP03": 10}})


def test_other_sampling_rate():
    cohort = generate_cohort(SyntheticCohortConfig(n_subjects=1, sampling_rate_hz=100.0, experiments=(7,), durations_s={7: 8}))
    assert len(cohort.recordings) == 800
    assert cohort.recordings["time_s"].iloc[1] == pytest.approx(0.01)
    assert 0.85 < _dominant_hz(cohort.recordings[FSR_R].sum(axis=1).to_numpy(), fs=100.0) < 1.15
