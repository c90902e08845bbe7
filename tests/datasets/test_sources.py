"""Tests for the read-only Kedro source datasets (instantiate + load on tmp folders)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DatasetError

from insole_mtl.datasets.sources import GaitpdbDataset, GilonReleaseDataset, NoSourceDataset, RecordingsFolderDataset
from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.gilon import write_gilon_fixture


def _gaitpdb_folder(root: Path) -> Path:
    (root / "recordings").mkdir(parents=True)
    (root / "demographics.txt").write_text("ID\tStudy\tGroup\tGender\tWeight\tSpeed_01\nGaCo01\tGa\t2\t1\t80\t1.1\n")
    rows = ["\t".join([f"{k / 100:.2f}"] + ["1"] * 18) for k in range(3)]
    (root / "recordings" / "GaCo01_01.txt").write_text("\n".join(rows) + "\n")
    return root


def test_gaitpdb_dataset(tmp_path: Path) -> None:
    root = _gaitpdb_folder(tmp_path / "g")
    dataset = GaitpdbDataset(path=str(root))
    assert dataset.exists()
    data = dataset.load()
    assert set(data) == {"cohort", "drop_report"}
    assert isinstance(data["cohort"], RawCohort)
    assert data["cohort"].recording_index["speed_mps"].tolist() == [1.1]
    assert list(data["drop_report"].columns) == ["stage", "item", "reason", "count"]
    assert GaitpdbDataset(path=str(root), include_totals=True).load()["cohort"].recordings.shape[1] == 2 + 18
    assert str(root) in str(dataset)
    assert not GaitpdbDataset(path=str(tmp_path / "none")).exists()


def test_reader_error_carries_file_path(tmp_path: Path) -> None:
    root = _gaitpdb_folder(tmp_path / "g")
    (root / "recordings" / "GaCo01_01.txt").write_text("0.00\t1\t2\n")
    with pytest.raises(DatasetError, match=re.escape("GaCo01_01.txt: line 1: expected 19 tab-separated columns, got 3")) as info:
        GaitpdbDataset(path=str(root)).load()
    assert str(root) in str(info.value)


def test_gilon_dataset(tmp_path: Path) -> None:
    n = 200
    recordings = pd.DataFrame(np.ones((n, len(PAPER_CHANNELS)), dtype="float32"), columns=list(PAPER_CHANNELS))
    recordings.insert(0, "time_s", np.arange(n) / 40.0)
    recordings.insert(0, "recording", "r1")
    cohort = RawCohort(
        recordings=recordings,
        recording_index=pd.DataFrame({"recording": ["r1"], "subject": ["s1"], "experiment": [10]}),
        subjects=pd.DataFrame({"subject": ["s1"], "weight_kg": [70.0]}),
    )
    dataset = GilonReleaseDataset(path=str(tmp_path))
    assert not dataset.exists()
    write_gilon_fixture(cohort, set(), tmp_path)
    assert dataset.exists()
    data = dataset.load()
    assert data["cohort"].recording_index["speed_kmh"].tolist() == [7.5, 7.5]
    (tmp_path / "train_label_chunk40_window160_72users.csv").unlink()
    with pytest.raises(DatasetError, match=re.escape("train_label_chunk40_window160_72users.csv not found")):
        dataset.load()


def test_recordings_folder_dataset(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    pd.DataFrame({"subject": ["s1"], "weight_kg": [70.0]}).to_csv(tmp_path / "subjects.csv", index=False)
    pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [4.0, 5.0, 6.0]}).to_csv(tmp_path / "recordings" / "s1_EXP02.csv", index=False)
    dataset = RecordingsFolderDataset(path=str(tmp_path), channels=["b", "a"], time_column=None, sampling_rate_hz=100.0)
    assert dataset.exists()
    cohort = dataset.load()["cohort"]
    assert list(cohort.recordings.columns) == ["recording", "time_s", "b", "a"]
    np.testing.assert_allclose(cohort.recordings["time_s"], [0.0, 0.01, 0.02])
    with pytest.raises(DatasetError, match=re.escape("s1_EXP02.csv: missing channel column(s) ['c']")):
        RecordingsFolderDataset(path=str(tmp_path), channels=["c"]).load()


@pytest.mark.parametrize(
    "dataset",
    [GaitpdbDataset(path="x"), GilonReleaseDataset(path="x"), RecordingsFolderDataset(path="x", channels=["a"])],
    ids=["gaitpdb", "gilon", "recordings"],
)
def test_save_is_refused(dataset: object) -> None:
    with pytest.raises(DatasetError, match=re.escape("is read-only")):
        dataset.save({"cohort": None})  # type: ignore[attr-defined]


def test_no_source_dataset() -> None:
    dataset = NoSourceDataset()
    assert dataset.load() is None
    assert dataset.exists()
    with pytest.raises(DatasetError, match=re.escape("NoSourceDataset is read-only")):
        dataset.save(1)
