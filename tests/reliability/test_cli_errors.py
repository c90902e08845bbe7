"""The domain message is the last line ``kedro run`` prints, and the source's path is not repeated three times.

Three representative failures in a throw-away project copy (about 10 s each): a malformed recordings folder
(reader error inside a catalog dataset), a missing GILON release file, and a configuration typo caught at ingest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.gilon import write_gilon_fixture
from insole_mtl.sources.recordings import write_recordings_folder
from pipelines._project import copy_project, kedro_environ

CH = list(PAPER_CHANNELS)


def _cohort() -> RawCohort:
    n = 200
    frame = pd.DataFrame(np.ones((n, len(CH)), dtype="float32"), columns=CH)
    frame.insert(0, "time_s", np.arange(n) / 40.0)
    frames = [frame.assign(recording=r) for r in ("s1_EXP01", "s1_EXP09", "s2_EXP01")]
    return RawCohort(
        recordings=pd.concat(frames, ignore_index=True)[["recording", "time_s", *CH]],
        recording_index=pd.DataFrame({"recording": ["s1_EXP01", "s1_EXP09", "s2_EXP01"], "subject": ["s1", "s1", "s2"], "experiment": [1, 9, 1]}),
        subjects=pd.DataFrame({"subject": ["s1", "s2"], "weight_kg": [70.0, 80.0]}),
    )


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("cli"))


def _kedro(work: Path, *args: str) -> tuple[str, str]:
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline=insole_mtl", *args],
        cwd=work, env=kedro_environ(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout[-2000:]
    return result.stderr.strip().splitlines()[-1], result.stderr


@pytest.mark.e2e
def test_recordings_reader_error_is_the_last_line(work: Path, tmp_path: Path) -> None:
    folder = write_recordings_folder(_cohort(), tmp_path / "lab", CH)
    path = folder / "recordings" / "s1_EXP09.csv"
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[3] = "abc"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    last, stderr = _kedro(work, "--env=recordings", f"--params=data_root={folder}")
    assert last == f"kedro.io.core.DatasetError: raw_source: {path}: row 4 (line 6), column 'z_R': expected a finite number, got 'abc'"
    assert stderr.count(str(path)) == 2  # the dataset's own error and Kedro's one wrapper, not three
    assert "RecordingsFolderDataset(path=" not in stderr  # no dataset description repeating the folder


@pytest.mark.e2e
def test_missing_gilon_file_is_the_last_line(work: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    write_gilon_fixture(_cohort(), {"s2"}, release)
    (release / "test_feature_chunk40_window160_72users.csv").unlink()
    last, _ = _kedro(work, "--env=gilon", f"--params=data_root={release}")
    assert last == (
        f"kedro.io.core.DatasetError: raw_source: GILON release: file test_feature_chunk40_window160_72users.csv "
        f"not found in {release}"
    )


@pytest.mark.e2e
def test_configuration_typo_is_the_last_line(work: Path) -> None:
    last, _ = _kedro(work, "--env=test", "--params=windowing.lenght=200")
    assert last == (
        "ValueError: params windowing: unknown key(s) ['lenght']; allowed: ['length', 'stride'] "
        "(did you mean 'lenght' -> 'length'?)"
    )
