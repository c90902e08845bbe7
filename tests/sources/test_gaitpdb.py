"""Tests for the gaitpdb reader on tiny fabricated folders and (when present) the real database."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.validation import validate_raw_cohort
from insole_mtl.sources.gaitpdb import (
    GAITPDB_SENSOR_CHANNELS,
    label_availability,
    read_demographics,
    read_gaitpdb,
    read_gaitpdb_recording,
)

REAL_ROOT = Path(__file__).resolve().parents[3] / "shared" / "data" / "gaitpdb"  # CI: ../shared beside the checkout

HEADER = "\t".join(
    ["ID", "Study", "Group", "Subjnum", "Gender", "Age", "Height", "Weight", "HoehnYahr", "UPDRS", "UPDRSM", "TUAG"]
    + [f"Speed_{w:02d}" for w in (1, 2, 3, 4, 5, 6, 7, 10)]
)
# Published quirks: trailing empty columns, ragged rows (fewer/more trailing tabs), blank rows,
# NaN, Ga height in m, Ju height in cm, missing weight, misspelled ID without recordings.
DEMOGRAPHICS = (
    HEADER + "\t\t\t\n"
    "GaCo01\tGa\t2\t1\t1\t66\t1.80\t83\t0.0\t0\t0\tNaN\t1.075\t1.173\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\t\t\n"
    "JuPt02\tJu\t1\t2\t2\t72\t160\tNaN\t2.5\t32\t21\t12.47\t0.906\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\n"
    "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n"
    "Juc010\tJu\t2\t10\t2\t62\t167\t78\tNaN\t0\t0\t8.82\t1.375\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\tNaN\t\n"
    "\n"
)


def _table(n: int, offset: float) -> np.ndarray:
    """(n, 19) recording: time at 100 Hz, 16 sensors = offset + sensor number, then the two totals."""
    time = np.arange(n) / 100.0
    sensors = offset + np.tile(np.arange(1, 17, dtype=float), (n, 1)) + np.arange(n)[:, None] * 0.5
    return np.column_stack([time, sensors, sensors[:, :8].sum(1), sensors[:, 8:].sum(1)])


def _text(table: np.ndarray, newline: str) -> str:
    return "".join("\t".join(f"{v:.4f}" if j == 0 else f"{v:g}" for j, v in enumerate(row)) + newline for row in table)


@pytest.fixture
def gaitpdb_root(tmp_path: Path) -> Path:
    root = tmp_path / "gaitpdb"
    rec = root / "recordings"
    rec.mkdir(parents=True)
    (root / "demographics.txt").write_bytes(DEMOGRAPHICS.encode())
    with gzip.open(rec / "GaCo01_01.txt.gz", "wt", newline="") as handle:  # gzip + LF
        handle.write(_text(_table(5, 100.0), "\n"))
    (rec / "JuPt02_01.txt").write_bytes(_text(_table(4, 200.0), "\r\n").encode())  # plain + CRLF
    (rec / "JuPt02_02.txt").write_bytes(_text(_table(3, 300.0), "\r\n").encode())
    (rec / "GaPt99_01.txt").write_bytes(_text(_table(3, 0.0), "\n").encode())  # not in demographics
    (rec / "notes.md").write_text("not a recording")
    return root


def test_read_gaitpdb_tables(gaitpdb_root: Path) -> None:
    cohort, report = read_gaitpdb(gaitpdb_root)
    rec = cohort.recordings
    assert list(rec.columns) == ["recording", "time_s", *GAITPDB_SENSOR_CHANNELS]
    assert rec["recording"].tolist() == ["GaCo01_01"] * 5 + ["JuPt02_01"] * 4 + ["JuPt02_02"] * 3
    assert rec["time_s"].dtype == np.float64 and rec["L1"].dtype == np.float32
    np.testing.assert_array_equal(rec["time_s"].to_numpy()[:5], [0.0, 0.01, 0.02, 0.03, 0.04])
    # GaCo01 sample 2: offset 100 + sensor number + 2 * 0.5
    np.testing.assert_array_equal(rec.iloc[2, 2:].to_numpy(dtype=float), 100 + np.arange(1, 17) + 1.0)
    np.testing.assert_array_equal(rec.loc[rec["recording"] == "JuPt02_01", "R8"].to_numpy(), [216.0, 216.5, 217.0, 217.5])

    index = cohort.recording_index
    assert index["recording"].tolist() == ["GaCo01_01", "JuPt02_01", "JuPt02_02"]
    assert index["subject"].tolist() == ["GaCo01", "JuPt02", "JuPt02"]
    assert index["experiment"].tolist() == [1, 1, 2] and index["experiment"].dtype == np.int64
    np.testing.assert_array_equal(index["speed_mps"].to_numpy(), [1.075, 0.906, np.nan])
    assert index["group"].tolist() == [2, 1, 1]
    assert index["study"].tolist() == ["Ga", "Ju", "Ju"]

    subjects = cohort.subjects.set_index("subject")
    assert list(subjects.index) == ["GaCo01", "JuPt02"]
    assert subjects.loc["GaCo01", "height_cm"] == pytest.approx(180.0)  # metres -> cm
    assert subjects.loc["JuPt02", "height_cm"] == 160.0  # already cm
    assert np.isnan(subjects.loc["JuPt02", "weight_kg"])  # kept missing, not imputed
    assert subjects["parkinsons"].tolist() == [0, 1]
    assert subjects["sex"].tolist() == ["M", "F"]
    assert subjects.loc["JuPt02", "hoehn_yahr"] == 2.5 and subjects.loc["JuPt02", "updrs"] == 32.0
    validate_raw_cohort(rec, index, cohort.subjects, GAITPDB_SENSOR_CHANNELS)

    assert list(report.columns) == ["stage", "item", "reason", "count"]
    rows = {(r.stage, r.item): (r.reason, r.count) for r in report.itertuples()}
    assert rows[("demographics", "demographics.txt")] == ("blank rows", 2)
    assert rows[("files", "notes.md")][0] == "name does not match SsGgNN_WW.txt[.gz]"
    assert rows[("recordings", "GaPt99_01.txt")] == ("subject GaPt99 not in demographics.txt", 1)
    assert rows[("subjects", "Juc010")][1] == 1
    assert len(report) == 4


def test_include_totals_appends_sums(gaitpdb_root: Path) -> None:
    cohort, _ = read_gaitpdb(gaitpdb_root, include_totals=True)
    rec = cohort.recordings
    assert list(rec.columns[-2:]) == ["L_total", "R_total"]
    np.testing.assert_allclose(rec["L_total"], rec[[f"L{i}" for i in range(1, 9)]].sum(axis=1), rtol=1e-6)


def test_max_files_reads_first_files_only(gaitpdb_root: Path) -> None:
    cohort, _ = read_gaitpdb(gaitpdb_root, max_files=1)
    assert cohort.recording_index["recording"].tolist() == ["GaCo01_01"]
    assert cohort.subjects["subject"].tolist() == ["GaCo01"]


def test_recordings_directly_in_root(gaitpdb_root: Path) -> None:
    """PhysioNet layout: recordings next to demographics.txt (format.txt not reported)."""
    for path in (gaitpdb_root / "recordings").glob("*.txt*"):
        shutil.move(path, gaitpdb_root / path.name)
    shutil.rmtree(gaitpdb_root / "recordings")
    (gaitpdb_root / "format.txt").write_text("description")
    cohort, report = read_gaitpdb(gaitpdb_root)
    assert len(cohort.recording_index) == 3
    assert "format.txt" not in set(report["item"])


def test_bad_row_names_file_and_line(gaitpdb_root: Path) -> None:
    path = gaitpdb_root / "recordings" / "JuPt02_01.txt"
    lines = path.read_bytes().decode().split("\r\n")
    lines[2] = "\t".join(lines[2].split("\t")[:18])  # 18 columns on line 3
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(ValueError, match=re.escape("JuPt02_01.txt: line 3: expected 19 tab-separated columns, got 18")):
        read_gaitpdb(gaitpdb_root)


def test_extra_column_names_line(gaitpdb_root: Path) -> None:
    path = gaitpdb_root / "recordings" / "JuPt02_02.txt"
    lines = path.read_bytes().decode().split("\r\n")
    lines[1] += "\t5"
    path.write_bytes("\r\n".join(lines).encode())
    with pytest.raises(ValueError, match=re.escape("JuPt02_02.txt: line 2: expected 19 tab-separated columns, got 20")):
        read_gaitpdb_recording(path)


def test_non_numeric_cell_names_line_and_column(tmp_path: Path) -> None:
    table = _text(_table(3, 0.0), "\n").split("\n")
    cells = table[1].split("\t")
    cells[4] = "abc"
    table[1] = "\t".join(cells)
    path = tmp_path / "GaCo01_01.txt"
    path.write_text("\n".join(table))
    with pytest.raises(ValueError, match=re.escape("GaCo01_01.txt: line 2, column 5: expected a number, got 'abc'")):
        read_gaitpdb_recording(path)


def test_empty_recording(tmp_path: Path) -> None:
    path = tmp_path / "GaCo01_01.txt"
    path.write_text("\r\n")
    with pytest.raises(ValueError, match=re.escape("GaCo01_01.txt: file has no rows")):
        read_gaitpdb_recording(path)


def test_non_increasing_time(tmp_path: Path) -> None:
    table = _table(4, 0.0)
    table[2, 0] = table[1, 0]
    path = tmp_path / "GaCo01_01.txt"
    path.write_text(_text(table, "\n"))
    with pytest.raises(ValueError, match=re.escape("time not strictly increasing at data row 3")):
        read_gaitpdb_recording(path)


def test_wrong_sampling_rate(tmp_path: Path) -> None:
    table = _table(4, 0.0)
    table[:, 0] *= 2  # 50 Hz
    path = tmp_path / "GaCo01_01.txt"
    path.write_text(_text(table, "\n"))
    with pytest.raises(ValueError, match=re.escape("implies 50 Hz, expected 100 Hz")):
        read_gaitpdb_recording(path)


def test_same_recording_twice_is_an_error(gaitpdb_root: Path) -> None:
    src = gaitpdb_root / "recordings" / "JuPt02_01.txt"
    with gzip.open(src.with_suffix(".txt.gz"), "wb") as handle:
        handle.write(src.read_bytes())
    with pytest.raises(ValueError, match=re.escape("JuPt02_01 present twice: JuPt02_01.txt and JuPt02_01.txt.gz")):
        read_gaitpdb(gaitpdb_root)


def test_group_contradiction_is_an_error(gaitpdb_root: Path) -> None:
    path = gaitpdb_root / "demographics.txt"
    path.write_text(path.read_text().replace("JuPt02\tJu\t1\t", "JuPt02\tJu\t2\t"))
    message = "JuPt02_01.txt: file name says study Ju group 1, demographics.txt says study Ju group 2"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_gaitpdb(gaitpdb_root)


def test_demographics_value_beyond_header(tmp_path: Path) -> None:
    path = tmp_path / "demographics.txt"
    path.write_text(HEADER + "\nGaCo01\tGa\t2" + "\t1" * 17 + "\t\t99\n")
    with pytest.raises(ValueError, match=re.escape("line 2: value '99' beyond the 20 header columns")):
        read_demographics(path)


def test_demographics_duplicate_id_and_bad_number(tmp_path: Path) -> None:
    path = tmp_path / "demographics.txt"
    path.write_text(HEADER + "\nGaCo01\tGa\t2\n\nGaCo01\tGa\t2\n")
    with pytest.raises(ValueError, match=re.escape("line 4: duplicate ID 'GaCo01' (first on line 2)")):
        read_demographics(path)
    path.write_text(HEADER + "\nGaCo01\tGa\t2\t1\t1\tsixty\n")
    with pytest.raises(ValueError, match=re.escape("line 2, column 'Age': expected a number or NaN, got 'sixty'")):
        read_demographics(path)


def test_missing_demographics(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=re.escape("demographics.txt not found")):
        read_gaitpdb(tmp_path)


def test_deterministic(gaitpdb_root: Path) -> None:
    first, report1 = read_gaitpdb(gaitpdb_root)
    second, report2 = read_gaitpdb(gaitpdb_root)
    pd.testing.assert_frame_equal(first.recordings, second.recordings)
    pd.testing.assert_frame_equal(first.subjects, second.subjects)
    pd.testing.assert_frame_equal(report1, report2)


@pytest.mark.skipif(not (REAL_ROOT / "demographics.txt").is_file(), reason=f"real gaitpdb not found at {REAL_ROOT}")
def test_real_gaitpdb_counts() -> None:
    """Whole database (~10 s): 101 subjects, 242 recordings, label availability."""
    cohort, report = read_gaitpdb(REAL_ROOT)
    assert len(cohort.subjects) == 101
    assert len(cohort.recording_index) == 242
    assert len(cohort.recordings) == 2_541_934
    assert cohort.recording_index["experiment"].value_counts().sort_index().to_dict() == {
        1: 101, 2: 52, 3: 13, 4: 13, 5: 13, 6: 12, 7: 11, 10: 27,
    }  # fmt: skip
    assert cohort.subjects.groupby(["study", "group"]).size().to_dict() == {
        ("Ga", 1): 29, ("Ga", 2): 18, ("Ju", 1): 29, ("Ju", 2): 25,
    }  # fmt: skip
    available = label_availability(cohort)
    assert available.loc["speed_mps"].tolist() == [100, 202]
    assert available.loc["weight_kg"].tolist() == [99, 238]
    assert cohort.subjects["height_cm"].dropna().between(140, 200).all()
    assert ("subjects", "Juc010") in set(zip(report["stage"], report["item"], strict=True))
    validate_raw_cohort(cohort.recordings, cohort.recording_index, cohort.subjects, GAITPDB_SENSOR_CHANNELS)
