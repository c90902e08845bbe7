"""Source environments: configuration, ingest checks and one tiny ``kedro run`` per file-based source.

The e2e runs copy the project (pyproject.toml, conf/, src/) into a temporary folder, generate the input
folder there (a synthetic GILON release; a synthetic recordings folder) and run
``kedro run --pipeline=insole_mtl --env=<source> --params=data_root=<folder>,<tiny sizes>``, so nothing
touches the checkout's data/, mlruns/ or mlflow.db.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ._project import copy_project, kedro_environ
from kedro.config import OmegaConfigLoader

from insole_mtl.pipelines.ingest.nodes import check_sampling_rate
from insole_mtl.pipelines.oversampling.nodes import oversample_training_windows
from insole_mtl.signals.labels import label_recordings
from insole_mtl.sources.gaitpdb import read_gaitpdb

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ENVS = ("gilon", "recordings", "gaitpdb")
PAPER = ["x_R", "y_R", "z_R", "x_L", "y_L", "z_L", "fsr1_R", "fsr2_R", "fsr3_R", "fsr4_R", "fsr1_L", "fsr2_L", "fsr3_L", "fsr4_L"]
# Tiny sizes for the e2e runs (merged into the env's parameters by `--params`).
TINY = (
    "training.max_epochs=1,training.max_train_batches_per_epoch=2,training.batch_size=8,training.eval_batch_size=64,"
    "training.device=cpu,split.n_folds=2,oversampling.enabled=false,"
    "benchmark.warmup=1,benchmark.repeats=2,benchmark.single_task=false,benchmark.memory=false,benchmark.int8=false,"
    "benchmark.throughput_batch=0,benchmark.accuracy_windows=16"
)


def _config(env: str, runtime_params: dict | None = None) -> OmegaConfigLoader:
    return OmegaConfigLoader(
        str(ROOT / "conf"), base_env="base", default_run_env=env, runtime_params=runtime_params or {},
        config_patterns={"parameters": ["parameters*", "parameters*/**", "**/parameters*"]},
    )  # fmt: skip


# ------------------------------------------------------------------ configuration


@pytest.mark.parametrize("env", SOURCE_ENVS)
def test_env_reads_data_root_and_writes_under_its_own_folder(env: str) -> None:
    default = _config(env)["catalog"]["raw_source"]["path"]
    assert default  # every source env has a default folder
    assert _config(env, {"data_root": "/some/folder"})["catalog"]["raw_source"]["path"] == "/some/folder"
    assert _config(env)["globals"]["data_dir"] == f"data/{env}"


def test_gaitpdb_default_folder_is_the_shared_copy() -> None:
    assert _config("gaitpdb")["catalog"]["raw_source"]["path"] == "../shared/data/gaitpdb"


@pytest.mark.parametrize("env", SOURCE_ENVS)
def test_env_parameters_are_consistent(env: str) -> None:
    params = _config(env)["parameters"]
    channels = params["channels"]
    assert len(channels) == len(set(channels))
    assert set(params["reports"]["physical_baseline"]["force_channels"]) <= set(channels)
    assert set(params["tasks"]) == {"activity", "speed", "weight"}
    assert params["tasks"]["activity"]["kind"] == "classification"


def test_recordings_env_shares_channels_and_rate_with_its_reader() -> None:
    config = _config("recordings")
    params, source = config["parameters"], config["catalog"]["raw_source"]
    assert source["channels"] == params["channels"] == PAPER
    assert source["sampling_rate_hz"] == params["sampling"]["source_rate_hz"] == 40.0


def test_gaitpdb_env_tasks_on_a_tiny_folder(tmp_path: Path) -> None:
    """The gaitpdb task configuration labels a (fabricated) gaitpdb folder: diagnosis, walk speed, weight."""
    root = tmp_path / "g"
    (root / "recordings").mkdir(parents=True)
    (root / "demographics.txt").write_text(
        "ID\tStudy\tGroup\tGender\tWeight\tSpeed_01\tSpeed_02\t\t\r\n"
        "GaCo01\tGa\t2\t1\t80\t1.1\tNaN\t\t\r\n\r\n"
        "JuPt02\tJu\t1\t2\tNaN\t0.9\t1.0\r\n"
    )
    rows = ["\t".join([f"{k / 100:.2f}"] + ["1"] * 18) for k in range(300)]
    for name in ("GaCo01_01.txt", "GaCo01_02.txt", "JuPt02_01.txt"):
        (root / "recordings" / name).write_text("\r\n".join(rows) + "\r\n")
    params = _config("gaitpdb")["parameters"]
    cohort, _ = read_gaitpdb(root, include_totals=True)
    check_sampling_rate(cohort.recordings, params["sampling"]["source_rate_hz"])
    labels, report = label_recordings(cohort.recording_index, cohort.subjects, params["tasks"])
    assert labels["activity"].tolist() == [0, 0, 1]  # Control, Control, Parkinson's
    np.testing.assert_array_equal(labels["speed"], [1.1, np.nan, 0.9])  # m/s, masked where not published
    np.testing.assert_array_equal(labels["weight"], [80.0, 80.0, np.nan])
    assert sorted(report["reason"]) == [
        "speed: label missing in source for experiment 2 (task masked)",
        "weight: label missing in source for experiment 1 (task masked)",
    ]


def test_class_names_in_a_text_column_map_to_indices() -> None:
    index = pd.DataFrame({"recording": ["r1", "r2", "r3"], "subject": ["a", "b", "c"], "experiment": [1, 1, 1]})
    subjects = pd.DataFrame({"subject": ["a", "b", "c"], "diagnosis": ["PD", " control", None]})
    tasks = {"activity": {"kind": "classification", "from": "subject", "column": "diagnosis", "classes": ["Control", "PD"]}}
    labels, report = label_recordings(index, subjects, tasks)
    assert labels["recording"].tolist() == ["r1", "r2"] and labels["activity"].tolist() == [1, 0]
    assert report["item"].tolist() == ["r3"]  # no diagnosis: excluded and counted
    subjects.loc[2, "diagnosis"] = "ET"
    with pytest.raises(ValueError, match=re.escape("has 'ET' for recording 'r3'; expected a class name of ['Control', 'PD']")):
        label_recordings(index, subjects, tasks)


# ------------------------------------------------------------------ ingest checks


def test_sampling_rate_must_match_the_files() -> None:
    recordings = pd.DataFrame({"recording": ["a"] * 4 + ["b"] * 3, "time_s": np.r_[np.arange(4) / 40.0, np.arange(3) / 100.0]})
    with pytest.raises(ValueError, match=re.escape("recording 'b' is sampled at 100 Hz (column 'time_s') but params sampling.source_rate_hz = 40")):
        check_sampling_rate(recordings, 40.0)
    check_sampling_rate(recordings[recordings["recording"] == "a"], 40.0)
    check_sampling_rate(recordings.iloc[:0], 40.0)


def test_borderline_smote_with_two_classes() -> None:
    rng = np.random.default_rng(0)
    n_major, n_minor = 40, 8
    windows = np.concatenate([rng.normal(0, 1, (n_major, 2, 16)), rng.normal(0.2, 1, (n_minor, 2, 16))]).astype("float32")
    labels = pd.DataFrame(
        {
            "subject": [f"s{i % 6}" for i in range(n_major + n_minor)], "recording": "r", "experiment": 1, "start": 0,
            "activity": [0] * n_major + [1] * n_minor, "speed": 1.0, "weight": 70.0, "synthetic": False,
        }
    )  # fmt: skip
    params = {"enabled": True, "target_ratio": 1.0, "k_neighbors": 5, "m_neighbors": 10, "kind": "borderline-1", "seed": 0}
    out_windows, out_labels, report = oversample_training_windows(windows, labels, params)
    assert report.set_index("activity")["after"].to_dict() == {0: 40, 1: 40}
    assert len(out_windows) == len(out_labels) == 80
    assert out_labels.loc[out_labels["synthetic"], "speed"].isna().all()


# ------------------------------------------------------------------ e2e


def _project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def _kedro_run(work: Path, env: str, params: str) -> str:
    environ = kedro_environ()
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline=insole_mtl", f"--env={env}", f"--params={params}"],
        cwd=work, env=environ, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    return result.stdout + result.stderr


def _check_reports(out: Path) -> dict:
    metrics = json.loads((out / "08_reporting" / "metrics.json").read_text())
    for key in ("activity_accuracy", "speed_mae", "weight_mae", "speed_mae_baseline", "weight_mae_baseline"):
        assert isinstance(metrics[key], float), key
    report = json.loads((out / "08_reporting" / "task_report.json").read_text())
    assert report["window_level"]["activity_accuracy"] == metrics["activity_accuracy"]
    counts = pd.read_csv(out / "08_reporting" / "window_counts.csv")
    assert set(counts["split"]) == {"train", "train_oversampled", "val", "test"}
    assert (out / "08_reporting" / "drop_report.csv").exists()
    return report


@pytest.mark.e2e
def test_gilon_env_end_to_end(tmp_path: Path) -> None:
    from insole_mtl.sources.gilon import synthetic_gilon_fixture

    work = _project(tmp_path)
    release = tmp_path / "release"
    synthetic_gilon_fixture(release, n_subjects=6, n_test=2, seed=5, duration_scale=0.05, n_folds=2)  # TINY: 2 folds
    _kedro_run(work, "gilon", f"data_root={release},{TINY}")
    out = work / "data" / "gilon"
    report = _check_reports(out)
    split = pd.read_csv(out / "03_primary" / "subject_split.csv")
    assert sorted(split.loc[split["split"] == "test", "subject"]) == ["S005", "S006"]  # the release's test subjects
    # the authors' folds of cv_dict.pkl (train subjects dealt round-robin), fold 0 the validation split
    assert dict(zip(split["subject"], split["fold"])) == {"S001": 0, "S002": 1, "S003": 0, "S004": 1, "S005": -1, "S006": -1}
    assert report["physical_baseline"]["physical_n_subjects"] >= 2
    # every released window entered the model unchanged: windows = label rows of the release
    released = sum(len(pd.read_csv(p)) for p in release.glob("*_label_*.csv"))
    assert len(pd.read_parquet(out / "03_primary" / "window_labels.parquet")) == released


@pytest.mark.e2e
def test_recordings_env_end_to_end(tmp_path: Path) -> None:
    from insole_mtl.sources.recordings import write_recordings_folder
    from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort

    work = _project(tmp_path)
    cohort = generate_cohort(SyntheticCohortConfig(n_subjects=6, seed=4, duration_scale=0.05))
    folder = write_recordings_folder(cohort, tmp_path / "lab", PAPER, file_format="parquet")
    (folder / "recordings" / "notes.txt").write_text("not a recording")  # skipped and reported
    _kedro_run(work, "recordings", f"data_root={folder},{TINY},split.test_fraction=0.34")
    out = work / "data" / "recordings"
    _check_reports(out)
    drops = pd.read_csv(out / "08_reporting" / "drop_report.csv")
    assert ("files", "notes.txt") in set(zip(drops["stage"], drops["item"], strict=True))


# ------------------------------------------------------------------ evaluation node


def test_compute_task_report_node() -> None:
    from insole_mtl.pipelines.evaluation.nodes import compute_task_report

    rng = np.random.default_rng(1)
    channels = ["acc", "f1", "f2"]

    def split(subjects: list[str], weights: list[float], classes: list[int], per: int = 3) -> tuple[np.ndarray, pd.DataFrame]:
        rows, windows = [], []
        for subject, weight, cls in zip(subjects, weights, classes, strict=True):
            for k in range(per):
                rows.append({"subject": subject, "recording": f"{subject}_{k % 2}", "experiment": 1, "start": 0,
                             "activity": cls, "speed": 1.0 + 0.1 * (k % 2), "weight": weight, "synthetic": False})  # fmt: skip
                window = rng.normal(0, 1, (3, 16)).astype("float32")
                window[1:] += 5.0 * weight  # total force = 10 x weight
                windows.append(window)
        return np.stack(windows), pd.DataFrame(rows)

    train_w, train_l = split(["a", "b", "c"], [60.0, 70.0, 90.0], [1, 1, 0])
    test_w, test_l = split(["d", "e"], [65.0, 80.0], [1, 0])
    predictions = test_l.assign(pred_activity=[1, 1, 0, 0, 0, 1], pred_speed=1.0, pred_weight=75.0)
    metrics = {"activity_accuracy": 0.5, "weight_mae": 7.5, "weight_mae_baseline": 7.5, "n_weight": 6}
    tasks = {"activity": {"kind": "classification", "classes": ["Control", "PD"], "from": "subject", "column": "dx"}}
    reports = {"groupings": ["subject"], "physical_baseline": {"force_channels": ["f1", "f2"]}}
    report, counts, mlflow = compute_task_report(
        predictions, metrics, train_w, train_l, train_l.iloc[:0], test_w, test_l, train_l, channels, tasks, reports
    )
    assert report["test_subjects"] == 2 and report["window_level"]["activity_accuracy"] == 0.5
    assert report["group_level"]["activity_accuracy_subject_majority"] == 1.0  # d: 2 of 3 windows say 1 (right); e: 2 of 3 say 0 (right)
    assert report["group_level"]["activity_accuracy_subject_majority_baseline"] == 0.5  # training majority class 1
    assert report["physical_baseline"]["weight_mae_physical"] == pytest.approx(0.0, abs=0.1)
    assert report["windows_per_task"]["test"] == {"all": 6, "activity": 6, "speed": 6, "weight": 6}
    assert report["windows_per_task"]["val"]["all"] == 0
    assert set(counts["split"]) == {"train", "train_oversampled", "val", "test"}
    assert mlflow["weight_mae_physical"]["value"] == pytest.approx(0.0, abs=0.1)
    assert "activity_accuracy_subject_majority" in mlflow
