"""Tests for the recordings-folder reader (a lab's own export)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.validation import validate_raw_cohort
from insole_mtl.sources.recordings import read_recordings_folder

CHANNELS = ["fsr1_R", "x_R"]


def _write_csv(path: Path, n: int, offset: float, time: bool = True, extra: bool = False) -> None:
    frame = pd.DataFrame({"x_R": np.arange(n) + offset, "fsr1_R": np.arange(n) * 2.0 + offset})
    if time:
        frame.insert(0, "time_s", 1.0 + np.arange(n) / 40.0)
    if extra:
        frame["temperature"] = 20.0
    frame.to_csv(path, index=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "lab"
    rec = root / "recordings"
    rec.mkdir(parents=True)
    pd.DataFrame({"subject": ["007", "s_2", "s3"], "weight_kg": [70.5, None, 80.0], "sex": ["F", "M", "F"]}).to_csv(
        root / "subjects.csv", index=False
    )
    _write_csv(rec / "007_EXP01.csv", 4, 0.0)
    _write_csv(rec / "007_EXP12.csv", 3, 10.0, time=False, extra=True)
    pd.DataFrame({"x_R": [1.0, 2.0], "fsr1_R": [3.0, 4.0]}).to_parquet(rec / "s_2_EXP09.parquet")
    _write_csv(rec / "s9_EXP01.csv", 2, 0.0)  # subject without metadata
    (rec / "readme.txt").write_text("notes")  # not a recording name
    return root


def test_reads_folder(folder: Path) -> None:
    cohort, report = read_recordings_folder(folder, CHANNELS)
    rec = cohort.recordings
    assert list(rec.columns) == ["recording", "time_s", "fsr1_R", "x_R"]
    assert rec["recording"].tolist() == ["007_EXP01"] * 4 + ["007_EXP12"] * 3 + ["s_2_EXP09"] * 2
    np.testing.assert_allclose(rec["time_s"][:4], [1.0, 1.025, 1.05, 1.075])  # from the time column
    np.testing.assert_allclose(rec["time_s"][4:7], [0.0, 0.025, 0.05])  # row index / 40 Hz
    np.testing.assert_array_equal(rec["x_R"], [0, 1, 2, 3, 10, 11, 12, 1, 2])
    np.testing.assert_array_equal(rec["fsr1_R"], [0, 2, 4, 6, 10, 12, 14, 3, 4])
    assert rec["x_R"].dtype == np.float32 and rec["time_s"].dtype == np.float64

    index = cohort.recording_index
    assert index.to_dict("list") == {
        "recording": ["007_EXP01", "007_EXP12", "s_2_EXP09"],
        "subject": ["007", "007", "s_2"],
        "experiment": [1, 12, 9],
    }
    assert index["experiment"].dtype == np.int64
    subjects = cohort.subjects
    assert subjects["subject"].tolist() == ["007", "s_2"]  # s3 has no recording
    np.testing.assert_array_equal(subjects["weight_kg"], [70.5, np.nan])
    assert subjects["sex"].tolist() == ["F", "M"]
    validate_raw_cohort(rec, index, subjects, CHANNELS)

    rows = {(r.stage, r.item): (r.reason, r.count) for r in report.itertuples()}
    assert rows == {
        ("files", "readme.txt"): ("name does not match <subject>_EXP<NN>.csv|.parquet", 1),
        ("recordings", "s9_EXP01.csv"): ("subject 's9' not in subjects.csv", 1),
        ("columns", "temperature"): ("column is neither a configured channel nor the time column", 1),
        ("subjects", "s3"): ("subject has no recording", 1),
    }


def test_time_column_none_uses_rate(folder: Path) -> None:
    cohort, _ = read_recordings_folder(folder, CHANNELS, time_column=None, sampling_rate_hz=100.0)
    np.testing.assert_allclose(cohort.recordings["time_s"][:4], [0.0, 0.01, 0.02, 0.03])
    report = read_recordings_folder(folder, CHANNELS, time_column=None, sampling_rate_hz=100.0)[1]
    assert ("columns", "time_s") in set(zip(report["stage"], report["item"], strict=True))


def test_missing_channel_names_file_and_channel(folder: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("007_EXP01.csv: missing channel column(s) ['z_L']")):
        read_recordings_folder(folder, [*CHANNELS, "z_L"])


def test_non_numeric_value_names_file_row_column(folder: Path) -> None:
    path = folder / "recordings" / "007_EXP01.csv"
    text = path.read_text().splitlines()
    text[3] = text[3].rsplit(",", 1)[0] + ",oops"  # data row 2 (line 4), last column fsr1_R
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=re.escape("007_EXP01.csv: row 2 (line 4), column 'fsr1_R': expected a finite number, got 'oops'")):
        read_recordings_folder(folder, CHANNELS)


def test_empty_cell_is_an_error(folder: Path) -> None:
    path = folder / "recordings" / "007_EXP01.csv"
    text = path.read_text().splitlines()
    text[1] = text[1].rsplit(",", 1)[0] + ","
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match=re.escape("row 0 (line 2), column 'fsr1_R': expected a finite number, got nan")):
        read_recordings_folder(folder, CHANNELS)


def test_non_increasing_time(folder: Path) -> None:
    frame = pd.DataFrame({"time_s": [0.0, 0.025, 0.025], "x_R": [1.0, 2, 3], "fsr1_R": [1.0, 2, 3]})
    frame.to_csv(folder / "recordings" / "007_EXP01.csv", index=False)
    with pytest.raises(ValueError, match=re.escape("007_EXP01.csv: column 'time_s' must be strictly increasing, row 2 has 0.025 after 0.025")):
        read_recordings_folder(folder, CHANNELS)


def test_rate_mismatch(folder: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("007_EXP01.csv: column 'time_s' implies 40 Hz but sampling_rate_hz=100")):
        read_recordings_folder(folder, CHANNELS, sampling_rate_hz=100.0)


def test_duplicate_subject_experiment(folder: Path) -> None:
    pd.DataFrame({"x_R": [1.0], "fsr1_R": [1.0]}).to_parquet(folder / "recordings" / "007_EXP01.parquet")
    with pytest.raises(ValueError, match=re.escape("two files for subject '007' experiment 1: 007_EXP01.csv and 007_EXP01.parquet")):
        read_recordings_folder(folder, CHANNELS)


def test_subject_table_errors(folder: Path) -> None:
    (folder / "subjects.csv").write_text("subject,weight_kg\na,70\na,71\n")
    with pytest.raises(ValueError, match=re.escape("subjects.csv: duplicate subject 'a'")):
        read_recordings_folder(folder, CHANNELS)
    (folder / "subjects.csv").write_text("subject,weight_kg\na,heavy\n")
    with pytest.raises(ValueError, match=re.escape("subjects.csv: line 2: column 'weight_kg' must be a number in kg, got 'heavy'")):
        read_recordings_folder(folder, CHANNELS)
    (folder / "subjects.csv").write_text("name,weight_kg\na,70\n")
    with pytest.raises(ValueError, match=re.escape("subjects.csv: missing column 'subject'")):
        read_recordings_folder(folder, CHANNELS)
    (folder / "subjects.csv").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape("subjects.csv not found")):
        read_recordings_folder(folder, CHANNELS)


def test_missing_weight_column_is_reported(folder: Path) -> None:
    (folder / "subjects.csv").write_text("subject\n007\ns_2\n")
    cohort, report = read_recordings_folder(folder, CHANNELS)
    assert cohort.subjects["weight_kg"].isna().all()
    assert ("subjects", "weight_kg", 2) in set(zip(report["stage"], report["item"], report["count"], strict=True))


def test_empty_file_is_reported(folder: Path) -> None:
    (folder / "recordings" / "s_2_EXP09.parquet").unlink()
    (folder / "recordings" / "s_2_EXP09.csv").write_text("x_R,fsr1_R\n")
    cohort, report = read_recordings_folder(folder, CHANNELS)
    assert "s_2_EXP09" not in set(cohort.recording_index["recording"])
    assert ("recordings", "s_2_EXP09.csv", "empty recording (no rows)") in set(
        zip(report["stage"], report["item"], report["reason"], strict=True)
    )


def test_bad_arguments(folder: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("'channels' is empty")):
        read_recordings_folder(folder, [])
    with pytest.raises(ValueError, match=re.escape("sampling_rate_hz must be a positive number, got 0")):
        read_recordings_folder(folder, CHANNELS, sampling_rate_hz=0)
    with pytest.raises(FileNotFoundError, match=re.escape("recordings folder: ")):
        read_recordings_folder(folder / "nowhere", CHANNELS)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_writer_round_trip(tmp_path: Path, file_format: str) -> None:
    from insole_mtl.sources.cohort import RawCohort
    from insole_mtl.sources.recordings import write_recordings_folder

    n = 5
    recordings = pd.DataFrame(
        {
            "recording": ["r1"] * n + ["r2"] * 3,
            "time_s": np.r_[np.arange(n) / 40.0, np.arange(3) / 40.0],
            "x_R": np.arange(n + 3, dtype="float32"),
            "fsr1_R": np.arange(n + 3, dtype="float32") * 2,
        }
    )
    cohort = RawCohort(
        recordings=recordings,
        recording_index=pd.DataFrame({"recording": ["r1", "r2"], "subject": ["007", "a_b"], "experiment": [3, 12]}),
        subjects=pd.DataFrame({"subject": ["007", "a_b"], "weight_kg": [61.0, np.nan], "sex": ["F", "M"]}),
    )
    root = write_recordings_folder(cohort, tmp_path / "lab", CHANNELS, file_format=file_format)
    assert sorted(p.name for p in (root / "recordings").iterdir()) == [f"007_EXP03.{file_format}", f"a_b_EXP12.{file_format}"]
    read, report = read_recordings_folder(root, CHANNELS)
    assert len(report) == 0
    assert read.recording_index.to_dict("list") == {
        "recording": ["007_EXP03", "a_b_EXP12"], "subject": ["007", "a_b"], "experiment": [3, 12],
    }  # fmt: skip
    np.testing.assert_array_equal(read.recordings[CHANNELS].to_numpy(), recordings[CHANNELS].to_numpy())
    np.testing.assert_allclose(read.recordings["time_s"], recordings["time_s"])
    assert read.subjects["sex"].tolist() == ["F", "M"] and np.isnan(read.subjects["weight_kg"].iloc[1])
    with pytest.raises(ValueError, match="file_format='xlsx'"):
        write_recordings_folder(cohort, tmp_path / "x", CHANNELS, file_format="xlsx")
