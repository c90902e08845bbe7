"""The bad-input catalogue: every malformed input of every source and of the configuration is answered with one
exact message naming the file, the row / line, the column / key, what was expected and what was found; what a run
may skip on purpose is skipped with a count and a reason in the drop report.

Sources: recordings folder (``sources.recordings``), GILON release (``sources.gilon``), gaitpdb
(``sources.gaitpdb``); then the raw contract, the ingest node (labels, windows, drop limit) and the configuration.
``test_cli_errors.py`` checks that these messages are the last line ``kedro run`` prints.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.pipelines.ingest.nodes import prepare_recordings
from insole_mtl.pipelines.windowing.nodes import partition_by_split
from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.signals.labels import paper_task_config
from insole_mtl.signals.split import split_subjects
from insole_mtl.signals.validation import validate_raw_cohort
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.gaitpdb import read_demographics, read_gaitpdb_recording
from insole_mtl.sources.gilon import gilon_file_name, read_gilon, write_gilon_fixture
from insole_mtl.sources.recordings import read_recordings_folder, write_recordings_folder
from insole_mtl.training.engine import TrainConfig

from tests.sources._cohort import paper_channel_cohort as _cohort

CH = list(PAPER_CHANNELS)
HEADER = ",".join(["time_s", *CH])
SAMPLING = {"source_rate_hz": 40.0, "target_rate_hz": 40.0}
WINDOWING = {"length": 160, "stride": 40}
INGEST = {"max_dropped_fraction": 0.25, "label_ranges": {"weight": [20.0, 250.0], "speed": [0.0, 30.0]}}


COHORT = {("s1", 1): 200, ("s1", 9): 200, ("s2", 1): 200, ("s2", 10): 200}
WEIGHTS = {"s1": 70.0, "s2": 80.0}


def _csv(path: Path, rows: list[list[object]], header: str = HEADER) -> None:
    path.write_text(header + "\n" + "".join(",".join(str(v) for v in row) + "\n" for row in rows))


def _rows(n: int, rate: float = 40.0) -> list[list[object]]:
    return [[k / rate, *[float(j) for j in range(len(CH))]] for k in range(n)]


# ================================================================================================ recordings folder
@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_recordings_folder(_cohort(COHORT, WEIGHTS), tmp_path / "lab", CH)


def _read(folder: Path, **kwargs):
    return read_recordings_folder(folder, CH, **kwargs)


def _edit(path: Path, line: int, column: str, value: str) -> None:
    """Set ``column`` of 1-based ``line`` of a CSV file to ``value`` (text)."""
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")


def test_recordings_missing_channel_column(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP01.csv"
    frame = pd.read_csv(path).drop(columns=["fsr4_L"])
    frame.to_csv(path, index=False)
    message = f"{path}: missing channel column(s) ['fsr4_L'] (columns: {['time_s', *CH[:-1]]})"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_renamed_channel_column(folder: Path) -> None:
    path = folder / "recordings" / "s2_EXP10.csv"
    pd.read_csv(path).rename(columns={"x_R": "accX_R"}).to_csv(path, index=False)
    message = f"{path}: missing channel column(s) ['x_R'] (columns: {['time_s', 'accX_R', *CH[1:]]})"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_duplicated_channel_column(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP09.csv"
    text = path.read_text().splitlines()
    text[0] = text[0].replace("y_R", "x_R")
    path.write_text("\n".join(text) + "\n")
    message = f"{path}: column(s) ['x_R'] appear more than once in the header; expected each channel once"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_reordered_channel_columns_are_read_by_name(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP01.csv"
    original = pd.read_csv(path)
    original[["time_s", *CH[::-1]]].to_csv(path, index=False)
    cohort, _ = _read(folder)
    got = cohort.recordings[cohort.recordings["recording"] == "s1_EXP01"][CH].to_numpy()
    np.testing.assert_array_equal(got, original[CH].to_numpy(dtype="float32"))


def test_recordings_extra_column_is_skipped_and_reported(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP01.csv"
    frame = pd.read_csv(path)
    frame["battery_v"] = 3.7
    frame.to_csv(path, index=False)
    _, report = _read(folder)
    assert report.to_dict("records") == [
        {"stage": "columns", "item": "battery_v", "reason": "column is neither a configured channel nor the time column", "count": 1}
    ]


@pytest.mark.parametrize(
    ("cell", "found"), [("abc", "'abc'"), ("", "nan"), ("NaN", "'NaN'"), ("inf", "'inf'"), ("-Infinity", "'-Infinity'")]
)
def test_recordings_non_numeric_empty_nan_and_infinite_values(folder: Path, cell: str, found: str) -> None:
    path = folder / "recordings" / "s2_EXP01.csv"
    _edit(path, 6, "z_R", cell)
    message = f"{path}: row 4 (line 6), column 'z_R': expected a finite number, got {found}"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


@pytest.mark.parametrize("content", ["", HEADER + "\n"], ids=["empty-file", "header-only"])
def test_recordings_empty_and_header_only_files_are_skipped_and_reported(folder: Path, content: str) -> None:
    (folder / "recordings" / "s2_EXP10.csv").write_text(content)
    cohort, report = _read(folder)
    assert "s2_EXP10" not in set(cohort.recording_index["recording"])
    assert ("recordings", "s2_EXP10.csv", "empty recording (no rows)", 1) in set(report.itertuples(index=False, name=None))


def test_recordings_non_monotonic_time(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP09.csv"
    _edit(path, 7, "time_s", "0.1")  # row 5 (0.125 s) -> 0.1, after 0.1 at row 4
    message = f"{path}: column 'time_s' must be strictly increasing, row 5 has 0.1 after 0.1"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_duplicated_timestamp(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP09.csv"
    _edit(path, 4, "time_s", "0.025")  # row 2 repeats row 1's time
    message = f"{path}: column 'time_s' must be strictly increasing, row 2 has 0.025 after 0.025"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_gapped_timestamps(tmp_path: Path, folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP01.csv"
    rows = _rows(200)
    for row in rows[100:]:
        row[0] = float(row[0]) + 0.5  # 20 samples lost after 2.475 s
    _csv(path, rows)
    message = (
        f"{path}: row 100 (line 102), column 'time_s': gap of 0.525 s after 2.475 (about 20 sample(s) missing at "
        "40 Hz; 1 gap(s) in the file); expected one sample every 0.025 s: split the recording at the gap into two files"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_rate_other_than_declared(folder: Path) -> None:
    path = folder / "recordings" / "s1_EXP01.csv"
    _csv(path, _rows(200, rate=100.0))
    message = (
        f"{path}: column 'time_s' implies 100 Hz but sampling_rate_hz=40; pass the file's real rate as "
        "sampling_rate_hz (the pipeline resamples to 40 Hz)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_time_in_milliseconds(folder: Path) -> None:
    path = folder / "recordings" / "s2_EXP01.csv"
    _csv(path, [[k * 25, *row[1:]] for k, row in enumerate(_rows(200))])
    message = f"{path}: column 'time_s' implies 0.04 Hz but sampling_rate_hz=40; the column looks like milliseconds: expected seconds"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_duplicate_recording_id(folder: Path) -> None:
    pd.read_csv(folder / "recordings" / "s1_EXP01.csv").to_parquet(folder / "recordings" / "s1_EXP01.parquet")
    message = f"{folder / 'recordings'}: two files for subject 's1' experiment 1: s1_EXP01.csv and s1_EXP01.parquet"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_subject_outside_the_subject_table_is_skipped_and_reported(folder: Path) -> None:
    (folder / "recordings" / "s1_EXP01.csv").rename(folder / "recordings" / "s9_EXP01.csv")
    cohort, report = _read(folder)
    assert set(cohort.subjects["subject"]) == {"s1", "s2"}
    assert ("recordings", "s9_EXP01.csv", "subject 's9' not in subjects.csv", 1) in set(report.itertuples(index=False, name=None))


def test_recordings_file_name_outside_the_pattern_is_skipped_and_reported(folder: Path) -> None:
    (folder / "recordings" / "s1_EXP01.csv").rename(folder / "recordings" / "s1-walk.csv")
    _, report = _read(folder)
    assert ("files", "s1-walk.csv", "name does not match <subject>_EXP<NN>.csv|.parquet", 1) in set(
        report.itertuples(index=False, name=None)
    )


def test_recordings_duplicate_subject(folder: Path) -> None:
    (folder / "subjects.csv").write_text("subject,weight_kg\ns1,70\ns2,80\ns1,71\n")
    with pytest.raises(ValueError, match=re.escape(f"{folder / 'subjects.csv'}: duplicate subject 's1'")):
        _read(folder)


def test_recordings_non_numeric_weight(folder: Path) -> None:
    (folder / "subjects.csv").write_text("subject,weight_kg\ns1,70\ns2,heavy\n")
    message = f"{folder / 'subjects.csv'}: line 3: column 'weight_kg' must be a number in kg, got 'heavy'"
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


def test_recordings_empty_subject_table(folder: Path) -> None:
    (folder / "subjects.csv").write_text("")
    message = (
        f"{folder / 'subjects.csv'}: file is empty (0 bytes); expected a header line with 'subject' (and 'weight_kg') "
        "and one row per subject"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _read(folder)


# ================================================================================================ GILON release
@pytest.fixture
def release(tmp_path: Path) -> Path:
    cohort = _cohort({("a", 1): 200, ("a", 9): 160, ("c", 3): 160, ("007", 12): 200}, {"a": 61.5, "c": 70.0, "007": 80.0})
    write_gilon_fixture(cohort, {"007"}, tmp_path / "release")
    return tmp_path / "release"


def _gilon_file(release: Path, split: str, kind: str) -> Path:
    return release / gilon_file_name(split, kind)


def test_gilon_missing_file(release: Path) -> None:
    _gilon_file(release, "test", "label").unlink()
    message = f"GILON release: file test_label_chunk40_window160_72users.csv not found in {release}"
    with pytest.raises(FileNotFoundError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_missing_channel_column(release: Path) -> None:
    path = _gilon_file(release, "train", "feature")
    frame = pd.read_csv(path, dtype=str).drop(columns=["fsr2_L"])
    frame.to_csv(path, index=False)
    message = f"{path}: missing column(s) ['fsr2_L'] (columns: {list(frame.columns)})"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_non_numeric_channel_value(release: Path) -> None:
    path = _gilon_file(release, "train", "feature")
    _edit(path, 42, "y_L", "n/a")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 42, column 'y_L': expected a number, got 'n/a'")):
        read_gilon(release)


def test_gilon_infinite_channel_value(release: Path) -> None:
    path = _gilon_file(release, "test", "feature")
    _edit(path, 9, "fsr1_R", "inf")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 9, column 'fsr1_R': expected a number, got inf")):
        read_gilon(release)


def test_gilon_truncated_window(release: Path) -> None:
    path = _gilon_file(release, "train", "feature")
    lines = path.read_text().splitlines()
    del lines[100]  # one row of GLOBAL_ID 0
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: GLOBAL_ID 0 has 159 rows, expected 160 (1 window(s) affected)")):
        read_gilon(release)


def test_gilon_label_without_features_and_features_without_label(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    labels = pd.read_csv(path, dtype=str)
    labels.loc[1, "GLOBAL_ID"] = "77"
    labels.to_csv(path, index=False)
    message = (
        "GLOBAL_ID mismatch between train_feature_chunk40_window160_72users.csv and "
        "train_label_chunk40_window160_72users.csv: 1 window(s) without label (e.g. ['1']), "
        "1 label(s) without window (e.g. ['77'])"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_duplicate_window_id(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    labels = pd.read_csv(path, dtype=str)
    pd.concat([labels, labels.iloc[[1]]]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=re.escape(f"{path}: line {len(labels) + 2}: GLOBAL_ID 1 listed twice")):
        read_gilon(release)


def test_gilon_experiment_code_outside_table_i(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    _edit(path, 2, "EXP", "EXP17")
    message = f"{path}: line 2, column 'EXP': expected an experiment EXP01-EXP16 of Table I, got 'EXP17'"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_unparsable_experiment_code(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    _edit(path, 3, "EXP", "walk")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 3, column 'EXP': expected EXPnn or an integer, got 'walk'")):
        read_gilon(release)


def test_gilon_subject_in_train_and_test(release: Path) -> None:
    path = _gilon_file(release, "test", "label")
    labels = pd.read_csv(path, dtype=str)
    labels["ID"] = "a"
    labels.to_csv(path, index=False)
    message = "GILON release: subject(s) ['a'] appear in both the train and the test files (subject leak)"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_subject_with_two_weights(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    _edit(path, 2, "Weight", "66.0")
    with pytest.raises(ValueError, match=re.escape("GILON release: subject 'a' has several Weight values [61.5, 66.0]")):
        read_gilon(release)


def test_gilon_empty_label_file(release: Path) -> None:
    path = _gilon_file(release, "train", "label")
    path.write_text("")
    message = f"{path}: file is empty (0 bytes); expected a header line with ['ID', 'GLOBAL_ID', 'EXP', 'Weight', 'SPEED']"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


def test_gilon_header_only_training_files(release: Path) -> None:
    for kind in ("feature", "label"):
        path = _gilon_file(release, "train", kind)
        path.write_text(path.read_text().splitlines()[0] + "\n")
    message = f"{_gilon_file(release, 'train', 'feature')}: header only, no data rows; expected the training windows"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gilon(release)


# ================================================================================================ gaitpdb
def _gaitpdb_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "GaCo01_01.txt"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _gait_row(t: float, value: str = "1") -> str:
    return "\t".join([f"{t:.2f}"] + [value] * 18)


def test_gaitpdb_row_with_the_wrong_number_of_columns(tmp_path: Path) -> None:
    path = _gaitpdb_file(tmp_path, [_gait_row(0.0), "0.01\t1\t2"])
    with pytest.raises(ValueError, match=re.escape(f"gaitpdb: {path}: line 2: expected 19 tab-separated columns, got 3")):
        read_gaitpdb_recording(path)


def test_gaitpdb_non_numeric_value(tmp_path: Path) -> None:
    path = _gaitpdb_file(tmp_path, [_gait_row(0.0), _gait_row(0.01).replace("\t1\t", "\tx\t", 1)])
    with pytest.raises(ValueError, match=re.escape(f"gaitpdb: {path}: line 2, column 2: expected a number, got 'x'")):
        read_gaitpdb_recording(path)


def test_gaitpdb_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "GaCo01_02.txt"
    path.write_text("")
    with pytest.raises(ValueError, match=re.escape(f"gaitpdb: {path}: file has no rows")):
        read_gaitpdb_recording(path)


def test_gaitpdb_time_not_increasing(tmp_path: Path) -> None:
    path = _gaitpdb_file(tmp_path, [_gait_row(0.0), _gait_row(0.01), _gait_row(0.01)])
    with pytest.raises(ValueError, match=re.escape(f"gaitpdb: {path}: time not strictly increasing at data row 3 (0.01 after 0.01)")):
        read_gaitpdb_recording(path)


def test_gaitpdb_rate_other_than_100_hz(tmp_path: Path) -> None:
    path = _gaitpdb_file(tmp_path, [_gait_row(k / 40) for k in range(5)])
    with pytest.raises(ValueError, match=re.escape(f"gaitpdb: {path}: time column implies 40 Hz, expected 100 Hz")):
        read_gaitpdb_recording(path)


def test_gaitpdb_gapped_timestamps(tmp_path: Path) -> None:
    path = _gaitpdb_file(tmp_path, [_gait_row(k / 100) for k in range(10)] + [_gait_row(k / 100) for k in range(15, 30)])
    message = (
        f"gaitpdb: {path}: gap in the time column at data row 11: 0.15 after 0.09 (about 5 sample(s) missing; 1 gap(s) "
        "in the file); expected one sample every 0.01 s"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gaitpdb_recording(path)


def test_gaitpdb_demographics_duplicate_id_and_bad_group(tmp_path: Path) -> None:
    path = tmp_path / "demographics.txt"
    path.write_text("ID\tStudy\tGroup\tWeight\nGaCo01\tGa\t2\t80\nGaCo01\tGa\t2\t81\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 3: duplicate ID 'GaCo01' (first on line 2)")):
        read_demographics(path)
    path.write_text("ID\tStudy\tGroup\tWeight\nGaCo01\tGa\t3\t80\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}: line 2, column 'Group': expected 1 or 2, got '3'")):
        read_demographics(path)


# ================================================================================================ raw contract
def test_duplicate_recording_ids_in_the_index() -> None:
    cohort = _cohort(COHORT, WEIGHTS)
    index = pd.concat([cohort.recording_index, cohort.recording_index.iloc[[0]]], ignore_index=True)
    message = "raw_recording_index: column 'recording' must be unique; duplicated value(s): 's1_EXP01'"
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_raw_cohort(cohort.recordings, index, cohort.subjects, CH)


def test_one_subject_in_two_given_splits() -> None:
    cohort = _cohort(COHORT, WEIGHTS)
    index = cohort.recording_index.assign(given_split=["train", "test", "train", "train"])
    message = "raw_recording_index: subject(s) 's1' have recordings in both given splits (column 'given_split'); expected one split per subject"
    with pytest.raises(ValueError, match=re.escape(message)):
        validate_raw_cohort(cohort.recordings, index, cohort.subjects, CH)


# ================================================================================================ ingest node
def _prepare(cohort: RawCohort, tasks=None, windowing=WINDOWING, ingest=INGEST, sampling=SAMPLING):
    return prepare_recordings(
        cohort.recordings, cohort.recording_index, cohort.subjects, pd.DataFrame(columns=["stage", "item", "reason", "count"]),
        CH, sampling, tasks or paper_task_config(), windowing, ingest,
    )  # fmt: skip


def test_negative_weight() -> None:
    cohort = _cohort(COHORT, {"s1": -70.0, "s2": 80.0})
    message = (
        "recording_labels: task 'weight' = -70 kg for recording 's1_EXP09' (subject 's1'; 1 recording(s) outside); "
        "expected 20 <= weight <= 250 kg (params ingest.label_ranges.weight): a negative value, a typo or another unit "
        "in the source (grams, pounds, m/s instead of km/h)?"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(cohort)


def test_weight_in_grams_is_a_unit_mismatch() -> None:
    cohort = _cohort(COHORT, {"s1": 70.0, "s2": 80000.0})
    message = "recording_labels: task 'weight' = 80000 kg for recording 's2_EXP10' (subject 's2'; 1 recording(s) outside)"
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(cohort)


def test_absurd_speed_from_the_recording_index() -> None:
    cohort = _cohort(COHORT, WEIGHTS)
    index = cohort.recording_index.assign(speed_kmh=[0.0, 70.0, 0.0, 7.5])
    tasks = {**paper_task_config(), "speed": {"kind": "regression", "unit": "km/h", "from": "recording", "column": "speed_kmh"}}
    message = "recording_labels: task 'speed' = 70 km/h for recording 's1_EXP09' (subject 's1'; 1 recording(s) outside)"
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(RawCohort(cohort.recordings, index, cohort.subjects), tasks=tasks)


def test_experiments_outside_the_configured_table_are_dropped_then_too_many_drops_is_an_error() -> None:
    lengths = {("s1", 1): 200, ("s1", 17): 200, ("s2", 1): 200, ("s2", 18): 200}
    _, labels, _, report = _prepare(_cohort(lengths, WEIGHTS), ingest={**INGEST, "max_dropped_fraction": 0.5})
    assert sorted(labels["recording"]) == ["s1_EXP01", "s2_EXP01"]
    assert ("labels", "s1_EXP17", "activity: no label for experiment 17 (recording excluded)", 1) in set(
        report.itertuples(index=False, name=None)
    )
    message = (
        "ingest: 2 of 4 recordings (50.0 %) are skipped, more than params ingest.max_dropped_fraction = 0.25: "
        "1 x activity: no label for experiment 17 (recording excluded), 1 x activity: no label for experiment 18 "
        "(recording excluded); fix the source or raise the limit (the drop report lists every skipped item)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(lengths, WEIGHTS))


def test_recordings_shorter_than_one_window_count_towards_the_drop_limit() -> None:
    lengths = {("s1", 1): 200, ("s1", 9): 100, ("s2", 1): 120, ("s2", 10): 200}
    message = (
        "ingest: 2 of 4 recordings (50.0 %) are skipped, more than params ingest.max_dropped_fraction = 0.25: "
        "2 x windows: recording shorter than one window;"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(lengths, WEIGHTS))


def test_window_longer_than_every_recording() -> None:
    message = (
        "params windowing.length = 400 samples (10 s at 40 Hz) is longer than every recording (the longest, "
        "'s1_EXP01', has 200 samples); expected windowing.length <= 200"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(COHORT, WEIGHTS), windowing={"length": 400, "stride": 80})


def test_time_in_milliseconds_at_ingest() -> None:
    cohort = _cohort(COHORT, WEIGHTS)
    recordings = cohort.recordings.assign(time_s=cohort.recordings["time_s"] * 1000.0)
    message = (
        "raw_recordings: recording 's1_EXP01' is sampled at 0.04 Hz (column 'time_s') but params sampling.source_rate_hz "
        "= 40 (4 recording(s) disagree); set sampling.source_rate_hz to the rate of the files; the time column looks "
        "like milliseconds: expected seconds"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(RawCohort(recordings, cohort.recording_index, cohort.subjects))


# ================================================================================================ configuration
def test_configuration_typo_in_windowing() -> None:
    message = "params windowing: unknown key(s) ['lenght']; allowed: ['length', 'stride'] (did you mean 'lenght' -> 'length'?)"
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(COHORT, WEIGHTS), windowing={"length": 160, "stride": 40, "lenght": 200})


def test_configuration_typo_in_sampling_and_ingest() -> None:
    message = (
        "params sampling: unknown key(s) ['source_rate']; allowed: ['source_rate_hz', 'target_rate_hz'] "
        "(did you mean 'source_rate' -> 'source_rate_hz'?)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(COHORT, WEIGHTS), sampling={**SAMPLING, "source_rate": 100})
    message = "params ingest: unknown key(s) ['max_drop_fraction']; allowed: ['label_ranges', 'max_dropped_fraction']"
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(COHORT, WEIGHTS), ingest={"max_drop_fraction": 0.1})


def test_configuration_typo_in_training() -> None:
    with pytest.raises(ValueError, match=re.escape("unknown TrainConfig parameter(s) ['max_epoch']; allowed: [")):
        TrainConfig.from_params({"max_epoch": 3})


def test_configuration_typo_in_a_task() -> None:
    cohort = _cohort(COHORT, WEIGHTS)
    tasks = {**paper_task_config(), "weight": {"kind": "regression", "from": "subject", "colum": "weight_kg"}}
    with pytest.raises(ValueError, match=re.escape("tasks.weight: unknown key(s) ['colum'] for from: subject; allowed: [")):
        _prepare(cohort, tasks=tasks)


def test_more_folds_than_subjects() -> None:
    subjects = pd.DataFrame({"subject": ["s1", "s2", "s3", "s4"]})
    message = (
        "split_subjects: 4 subject(s) with 1 for test leave 3 train subject(s); expected at least n_folds=5 train subjects"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        split_subjects(subjects, test_fraction=0.25, n_folds=5, val_fold=0, seed=0)


def test_a_class_absent_from_training() -> None:
    labels = pd.DataFrame(
        {"subject": ["s1", "s1", "s2", "s3"], "activity": [0, 1, 0, 2], "recording": ["r1", "r2", "r3", "r4"]}
    )
    split = pd.DataFrame({"subject": ["s1", "s2", "s3"], "split": ["train", "val", "test"], "fold": [1, 0, -1]})
    message = (
        "subject_split: activity class 2 has 1 window(s) in the test split (subjects ['s3']) but none in the training "
        "split (1 class(es) missing: [2]); expected every class in training: use more subjects with that class, another "
        "split.seed, or drop the class from tasks.activity"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        partition_by_split(np.zeros((4, 2, 8), dtype=np.float32), labels, split)


def test_configuration_typo_in_the_synthetic_cohort() -> None:
    from insole_mtl.sources.synthetic import SyntheticCohortConfig

    with pytest.raises(ValueError, match=re.escape("synthetic: unknown parameter(s) ['n_subject']; expected some of [")):
        SyntheticCohortConfig.from_params({"n_subject": 3})


def test_drop_limit_null_accepts_any_share_and_a_bad_limit_is_refused() -> None:
    lengths = {("s1", 1): 200, ("s1", 17): 200, ("s2", 1): 200, ("s2", 18): 200}
    _, labels, _, _ = _prepare(_cohort(lengths, WEIGHTS), ingest={**INGEST, "max_dropped_fraction": None})
    assert len(labels) == 2
    message = "params ingest.max_dropped_fraction: expected a number in [0, 1] or null, got 25"
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(lengths, WEIGHTS), ingest={**INGEST, "max_dropped_fraction": 25})


def test_every_recording_skipped_is_an_error_whatever_the_limit() -> None:
    lengths = {("s1", 17): 200, ("s2", 18): 200}
    message = (
        "ingest: all 2 recording(s) are skipped (1 x activity: no label for experiment 17 (recording excluded), "
        "1 x activity: no label for experiment 18 (recording excluded)); nothing is left to train on"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _prepare(_cohort(lengths, WEIGHTS), ingest={"max_dropped_fraction": None})
