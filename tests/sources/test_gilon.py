"""Tests for the GILON release reader and the fixture writer (tiny hand-built cohorts)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.signals.validation import validate_raw_cohort
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.gilon import gilon_file_name, read_gilon, write_gilon_fixture

from ._cohort import CH, paper_channel_cohort as _cohort

CH = list(PAPER_CHANNELS)


@pytest.fixture
def cohort() -> RawCohort:
    # 200 samples -> 2 windows (starts 0, 40); 160 -> 1; 100 -> none
    return _cohort({("a", 1): 200, ("a", 9): 160, ("007", 12): 200, ("b", 3): 100}, {"a": 61.5, "007": np.nan, "b": 80.0})


@pytest.fixture
def release(cohort: RawCohort, tmp_path: Path) -> Path:
    write_gilon_fixture(cohort, {"007"}, tmp_path)
    return tmp_path


def test_fixture_schema(release: Path) -> None:
    features = pd.read_csv(release / gilon_file_name("train", "feature"))
    labels = pd.read_csv(release / gilon_file_name("train", "label"), dtype={"ID": str})
    assert list(features.columns) == ["EXP", "GLOBAL_ID", *CH]
    assert len(features) == 3 * 160
    assert features["GLOBAL_ID"].value_counts().to_dict() == {0: 160, 1: 160, 2: 160}
    assert labels.to_dict("list") == {
        "ID": ["a", "a", "a"],
        "GLOBAL_ID": [0, 1, 2],
        "EXP": ["EXP01", "EXP01", "EXP09"],
        "Weight": [61.5, 61.5, 61.5],
        "SPEED": [0.0, 0.0, 7.0],
        "ACTIVITY": [0, 0, 2],
        "Site": ["lab", "lab", "lab"],
    }
    test_labels = pd.read_csv(release / gilon_file_name("test", "label"), dtype={"ID": str})
    assert test_labels["ID"].tolist() == ["007", "007"] and test_labels["GLOBAL_ID"].tolist() == [3, 4]
    # EXP12: the release fills SPEED (8), the speed task does not use it; unknown weight stays empty
    assert test_labels["SPEED"].tolist() == [8.0, 8.0] and test_labels["Weight"].isna().all()
    assert test_labels["ACTIVITY"].tolist() == [3, 3]


def test_round_trip(cohort: RawCohort, release: Path) -> None:
    read, report = read_gilon(release)
    assert len(report) == 0
    index = read.recording_index
    assert index["recording"].tolist() == ["G0", "G1", "G2", "G3", "G4"]
    assert index["subject"].tolist() == ["a", "a", "a", "007", "007"]
    assert index["experiment"].tolist() == [1, 1, 9, 12, 12] and index["experiment"].dtype == np.int64
    assert index["given_split"].tolist() == ["train"] * 3 + ["test"] * 2
    np.testing.assert_array_equal(index["speed_kmh"], [0.0, 0.0, 7.0, 8.0, 8.0])
    assert index["site"].tolist() == ["lab"] * 5
    assert index["activity"].tolist() == [0, 0, 2, 3, 3]
    assert read.subjects["subject"].tolist() == ["a", "007"]
    np.testing.assert_array_equal(read.subjects["weight_kg"], [61.5, np.nan])
    assert read.subjects["given_split"].tolist() == ["train", "test"]

    rec = read.recordings
    assert rec.groupby("recording", sort=False).size().tolist() == [160] * 5
    np.testing.assert_allclose(rec["time_s"][:3], [0.0, 0.025, 0.05])
    assert rec["time_s"].iloc[159] == pytest.approx(3.975)
    # window G1 = samples 40..199 of a_EXP01; G4 = samples 40..199 of 007_EXP12
    src = cohort.recordings
    for window, name in (("G1", "a_EXP01"), ("G4", "007_EXP12")):
        expected = src.loc[src["recording"] == name, CH].to_numpy()[40:200]
        np.testing.assert_array_equal(rec.loc[rec["recording"] == window, CH].to_numpy(), expected)
    assert rec[CH[0]].dtype == np.float32
    validate_raw_cohort(rec, index, read.subjects, CH)


def _rewrite(path: Path, edit) -> None:  # noqa: ANN001 - a frame -> frame callable
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(frame).to_csv(path, index=False)


def test_integer_exp_names_and_extra_columns(release: Path) -> None:
    def to_ints(frame: pd.DataFrame) -> pd.DataFrame:
        frame["EXP"] = frame["EXP"].str[3:].astype(int)
        return frame

    label = release / gilon_file_name("train", "label")
    _rewrite(release / gilon_file_name("train", "feature"), to_ints)
    _rewrite(label, lambda f: to_ints(f).assign(Site="UNIST", ACTIVITY=["stand still", "Stand Still", "Treadmill Run"]))
    cohort, report = read_gilon(release)
    assert cohort.recording_index["experiment"].tolist() == [1, 1, 9, 12, 12]
    assert cohort.recording_index["activity"].tolist() == [0, 0, 2, 3, 3]
    assert len(report) == 0  # Site is read (recording_index.site), ACTIVITY names agree with EXP


def test_missing_file(release: Path) -> None:
    (release / gilon_file_name("test", "label")).unlink()
    with pytest.raises(FileNotFoundError, match=re.escape("file test_label_chunk40_window160_72users.csv not found")):
        read_gilon(release)


def test_missing_column(release: Path) -> None:
    _rewrite(release / gilon_file_name("train", "label"), lambda f: f.drop(columns=["SPEED"]))
    with pytest.raises(ValueError, match=re.escape("train_label_chunk40_window160_72users.csv: missing column(s) ['SPEED']")):
        read_gilon(release)


def test_window_with_wrong_row_count(release: Path) -> None:
    _rewrite(release / gilon_file_name("train", "feature"), lambda f: f.drop(index=[5]))
    with pytest.raises(ValueError, match=re.escape("GLOBAL_ID 0 has 159 rows, expected 160")):
        read_gilon(release)


def test_non_consecutive_rows(release: Path) -> None:
    _rewrite(release / gilon_file_name("train", "feature"), lambda f: f.iloc[np.r_[0:100, 160:320, 100:160, 320:480]])
    with pytest.raises(ValueError, match=re.escape("rows of a GLOBAL_ID are not consecutive (line 102)")):
        read_gilon(release)


def test_global_id_mismatch(release: Path) -> None:
    def renumber(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["GLOBAL_ID"] == "2", "GLOBAL_ID"] = "9"
        return frame

    _rewrite(release / gilon_file_name("train", "label"), renumber)
    with pytest.raises(ValueError, match=re.escape("1 window(s) without label (e.g. ['2']), 1 label(s) without window (e.g. ['9'])")):
        read_gilon(release)


def test_exp_mismatch(release: Path) -> None:
    _rewrite(release / gilon_file_name("train", "label"), lambda f: f.assign(EXP=["EXP01", "EXP02", "EXP09"]))
    with pytest.raises(ValueError, match=re.escape("EXP mismatch for GLOBAL_ID 1: train_feature_chunk40_window160_72users.csv says 1, train_label_chunk40_window160_72users.csv says 2")):
        read_gilon(release)


def test_subject_leak(release: Path) -> None:
    _rewrite(release / gilon_file_name("test", "label"), lambda f: f.assign(ID="a"))
    with pytest.raises(ValueError, match=re.escape("subject(s) ['a'] appear in both the train and the test files (subject leak)")):
        read_gilon(release)


def test_bad_values(release: Path) -> None:
    label = release / gilon_file_name("train", "label")
    original = label.read_text()
    _rewrite(label, lambda f: f.assign(ACTIVITY=["0", "9", "1"]))  # ACTIVITY is a cross-check, never the label
    cohort, report = read_gilon(release)
    assert cohort.recording_index["activity"].tolist() == [0, 0, 2, 3, 3]  # from EXP
    assert report.to_dict("records") == [{
        "stage": "labels", "item": f"{label.name}:ACTIVITY",
        "reason": "ACTIVITY disagrees with the Table I class of EXP (first: GLOBAL_ID 1, ACTIVITY '9', EXP01 -> class 0 "
                  "'Stand Still'); the activity is taken from EXP",
        "count": 2,
    }]  # fmt: skip
    label.write_text(original)
    _rewrite(label, lambda f: f.assign(EXP=["EXP01", "run", "EXP09"]))
    with pytest.raises(ValueError, match=re.escape("line 3, column 'EXP': expected EXPnn or an integer, got 'run'")):
        read_gilon(release)
    label.write_text(original)
    _rewrite(label, lambda f: f.assign(Weight=["61.5", "61.5", "62"]))
    with pytest.raises(ValueError, match=re.escape("subject 'a' has several Weight values [61.5, 62.0]")):
        read_gilon(release)
    label.write_text(original)
    feature = release / gilon_file_name("train", "feature")
    _rewrite(feature, lambda f: f.assign(fsr3_L=["x"] + list(f["fsr3_L"][1:])))
    with pytest.raises(ValueError, match=re.escape("line 2, column 'fsr3_L': expected a number, got 'x'")):
        read_gilon(release)


def test_writer_errors(cohort: RawCohort, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("test subject(s) ['zz'] not in cohort.subjects")):
        write_gilon_fixture(cohort, {"zz"}, tmp_path)
    fast = RawCohort(cohort.recordings.assign(time_s=cohort.recordings["time_s"] / 2.5), cohort.recording_index, cohort.subjects)
    with pytest.raises(ValueError, match=re.escape("recording 'a_EXP01' is sampled at 100 Hz, expected 40 Hz")):
        write_gilon_fixture(fast, set(), tmp_path)
    odd = RawCohort(cohort.recordings, cohort.recording_index.assign(experiment=17), cohort.subjects)
    with pytest.raises(ValueError, match=re.escape("experiment(s) [17] are not in Table I (1-16)")):
        write_gilon_fixture(odd, set(), tmp_path)


def test_deterministic(cohort: RawCohort, tmp_path: Path) -> None:
    write_gilon_fixture(cohort, {"007"}, tmp_path / "one")
    write_gilon_fixture(cohort, {"007"}, tmp_path / "two")
    for split in ("train", "test"):
        for kind in ("feature", "label"):
            name = gilon_file_name(split, kind)
            assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_each_window_is_one_recording_marked_as_given_window(release: Path) -> None:
    from insole_mtl.sources.cohort import SOURCE_WINDOW

    cohort, _ = read_gilon(release)
    assert cohort.recording_index[SOURCE_WINDOW].tolist() == [160] * 5


def test_windowing_160_40_reproduces_the_released_windows(cohort: RawCohort, release: Path) -> None:
    """Ingest + windowing with the gilon env's settings give back exactly the released windows, once each."""
    from insole_mtl.pipelines.ingest.nodes import prepare_recordings
    from insole_mtl.signals.windows import make_windows

    read, drops = read_gilon(release)
    tasks = {
        "activity": {"kind": "classification", "from": "recording", "column": "activity", "classes": list("abcdefg")},
        "speed": {"kind": "regression", "from": "recording", "column": "speed_kmh", "experiments": list(range(1, 12))},
        "weight": {"kind": "regression", "from": "subject", "column": "weight_kg", "experiments": [9, 10, 11]},
    }
    recordings, labels, subjects, report = prepare_recordings(
        read.recordings, read.recording_index, read.subjects, drops, CH,
        {"source_rate_hz": 40.0, "target_rate_hz": 40.0}, tasks, {"length": 160, "stride": 40},
    )  # fmt: skip
    assert subjects["given_split"].tolist() == ["train", "test"]
    windows, window_labels, _ = make_windows(recordings, labels, CH, length=160, stride=40)
    assert len(windows) == 5 and window_labels["start"].tolist() == [0] * 5
    src = cohort.recordings
    expected = {  # window -> (source recording, first sample)
        "G0": ("a_EXP01", 0), "G1": ("a_EXP01", 40), "G2": ("a_EXP09", 0), "G3": ("007_EXP12", 0), "G4": ("007_EXP12", 40),
    }  # fmt: skip
    for k, window in enumerate(window_labels["recording"]):
        name, start = expected[window]
        block = src.loc[src["recording"] == name, CH].to_numpy()[start : start + 160]
        np.testing.assert_array_equal(windows[k], block.T)
    assert window_labels["activity"].tolist() == [0, 0, 2, 3, 3]
    np.testing.assert_array_equal(window_labels["speed"], [0.0, 0.0, 7.0, np.nan, np.nan])
    np.testing.assert_array_equal(window_labels["weight"], [np.nan, np.nan, 61.5, np.nan, np.nan])
    # speed NaN on EXP12 is outside the speed experiments: masked by configuration, not reported as missing;
    # the weight of subject 007 (EXP12) likewise; nothing was dropped
    assert len(report) == 0


@pytest.mark.parametrize(
    ("sampling", "windowing", "message"),
    [
        ({"source_rate_hz": 40.0, "target_rate_hz": 40.0}, {"length": 80, "stride": 40}, "windowing.length = 80; set windowing.length: 160"),
        ({"source_rate_hz": 40.0, "target_rate_hz": 20.0}, {"length": 160, "stride": 40}, "they cannot be resampled"),
    ],
)
def test_ingest_refuses_to_recut_given_windows(release: Path, sampling: dict, windowing: dict, message: str) -> None:
    from insole_mtl.pipelines.ingest.nodes import prepare_recordings

    read, drops = read_gilon(release)
    tasks = {"activity": {"kind": "classification", "from": "recording", "column": "activity", "classes": list("abcdefg")}}
    with pytest.raises(ValueError, match=re.escape(message)):
        prepare_recordings(read.recordings, read.recording_index, read.subjects, drops, CH, sampling, tasks, windowing)


def test_synthetic_fixture_and_cli(tmp_path: Path) -> None:
    from insole_mtl.sources.gilon import main

    main([str(tmp_path), "--subjects", "3", "--test", "1", "--seed", "2", "--duration-scale", "0.05"])
    cohort, report = read_gilon(tmp_path)
    assert len(report) == 0
    assert cohort.subjects["given_split"].tolist() == ["train", "train", "test"]
    assert sorted(cohort.recording_index["experiment"].unique()) == list(range(1, 17))
    assert cohort.recordings.groupby("recording").size().eq(160).all()
    labels = pd.read_csv(tmp_path / gilon_file_name("train", "label"))
    assert list(labels.columns) == ["ID", "GLOBAL_ID", "EXP", "Weight", "SPEED", "ACTIVITY", "Site"]
    with pytest.raises(ValueError, match=re.escape("n_test=3; expected 0 <= n_test < n_subjects=3")):
        main([str(tmp_path / "x"), "--subjects", "3", "--test", "3"])


def test_unknown_columns_in_both_files_are_reported_not_read(release: Path) -> None:
    feature = release / gilon_file_name("test", "feature")
    _rewrite(feature, lambda f: f.assign(battery="97"))
    _rewrite(release / gilon_file_name("test", "label"), lambda f: f.assign(Height="170", Sex="F"))
    cohort, report = read_gilon(release)
    assert sorted(report["item"]) == sorted(
        [f"{feature.name}:battery", "test_label_chunk40_window160_72users.csv:Height", "test_label_chunk40_window160_72users.csv:Sex"]
    )
    assert (report["stage"] == "columns").all() and "battery" not in cohort.recordings.columns


def test_feature_value_missing_names_line_and_column(release: Path) -> None:
    feature = release / gilon_file_name("test", "feature")
    _rewrite(feature, lambda f: f.assign(z_L=list(f["z_L"][:-1]) + [""]))
    with pytest.raises(ValueError, match=re.escape(f"{feature}: line 321, column 'z_L': expected a number, got nan")):
        read_gilon(release)


def test_authors_folds_from_cv_dict_pkl(release: Path) -> None:
    import pickle

    from insole_mtl.sources.gilon import GILON_FOLDS_FILE

    (release / GILON_FOLDS_FILE).write_bytes(pickle.dumps({0: ["a"], 1: [np.str_("007")]}))
    cohort, _ = read_gilon(release)
    assert dict(zip(cohort.subjects["subject"], cohort.subjects["given_fold"])) == {"a": 0, "007": 1}
    (release / GILON_FOLDS_FILE).write_bytes(pickle.dumps({0: ["a"], 1: ["a"]}))
    with pytest.raises(ValueError, match=re.escape(f"{release / GILON_FOLDS_FILE}: ID 'a' is in two folds (0 and 1); expected user-disjoint folds")):
        read_gilon(release)
    (release / GILON_FOLDS_FILE).write_bytes(pickle.dumps({0: ["zz"]}))
    with pytest.raises(ValueError, match=re.escape(f"{release / GILON_FOLDS_FILE}: fold 0 lists ID 'zz', which is not a subject of the release")):
        read_gilon(release)
    (release / GILON_FOLDS_FILE).write_bytes(pickle.dumps({0: [Path("a")]}))
    with pytest.raises(ValueError, match=re.escape("holds a pathlib.PosixPath object; expected a dict {fold: [ID, ...]} of plain values")):
        read_gilon(release)


def test_full_size_fixture_writes_the_release_value_types(tmp_path: Path) -> None:
    from insole_mtl.sources.gilon import full_size_gilon_fixture

    full_size_gilon_fixture(tmp_path, n_train=2, n_test=1, windows_per_subject=16)
    features = pd.read_csv(tmp_path / gilon_file_name("train", "feature"))
    assert len(features) == 2 * 16 * 160 and all(pd.api.types.is_integer_dtype(features[c]) for c in CH)
    labels = pd.read_csv(tmp_path / gilon_file_name("test", "label"), dtype={"ID": str})
    assert list(labels.columns) == ["ID", "GLOBAL_ID", "EXP", "Weight", "SPEED", "ACTIVITY", "Site"]
    speed = dict(zip(labels["EXP"], labels["SPEED"]))
    assert [speed[f"EXP{e:02d}"] for e in (11, 12, 13, 14, 15, 16)] == [8.0, 8.0, 8.0, 0.0, 0.0, 0.0]
    cohort, report = read_gilon(tmp_path)
    assert len(report) == 0 and len(cohort.recording_index) == 48
    assert cohort.recording_index["activity"].tolist()[:16] == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6]


def test_fixture_writes_the_authors_folds_and_the_split_keeps_them(tmp_path: Path) -> None:
    import pickle

    from insole_mtl.pipelines.split.nodes import split_cohort_subjects
    from insole_mtl.sources.gilon import GILON_FOLDS_FILE, synthetic_gilon_fixture

    paths = synthetic_gilon_fixture(tmp_path / "release", n_subjects=6, n_test=2, seed=1, duration_scale=0.05, n_folds=2)
    assert paths["folds"] == tmp_path / "release" / GILON_FOLDS_FILE
    assert pickle.loads(paths["folds"].read_bytes()) == {0: ["S001", "S003"], 1: ["S002", "S004"]}
    cohort, _ = read_gilon(tmp_path / "release")
    split = {"test_fraction": 0.3, "n_folds": 2, "val_fold": 1, "seed": 0}
    table = split_cohort_subjects(cohort.subjects, split)  # folds: auto -> the authors'
    assert table["fold"].tolist() == [0, 1, 0, 1, -1, -1]
    assert table["split"].tolist() == ["train", "val", "train", "val", "test", "test"]
    drawn = split_cohort_subjects(cohort.subjects, {**split, "folds": "kfold"})
    assert drawn["split"].tolist()[-2:] == ["test", "test"] and sorted(drawn["fold"].tolist()[:4]) == [0, 0, 1, 1]
    without = cohort.subjects.drop(columns="given_fold")
    with pytest.raises(ValueError, match=re.escape("split.folds: given needs the release's folds in column 'given_fold' of subjects")):
        split_cohort_subjects(without, {**split, "folds": "given"})
    with pytest.raises(ValueError, match=re.escape("params split.folds: 'authors'; expected one of ['auto', 'kfold', 'given']")):
        split_cohort_subjects(cohort.subjects, {**split, "folds": "authors"})
    with pytest.raises(ValueError, match=re.escape("params split: unknown key(s) ['n_fold']; allowed: ['folds', 'n_folds', 'seed', 'test_fraction', 'test_seed', 'val_fold'] (did you mean 'n_fold' -> 'n_folds'?)")):
        split_cohort_subjects(cohort.subjects, {**split, "n_fold": 3})
