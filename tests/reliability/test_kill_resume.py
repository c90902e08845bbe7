"""A real ``kedro run`` SIGKILLed mid-training and started again with ``--params=training.resume=true`` ends with
exactly the metrics of an uninterrupted run (CPU, fp32); the restarted run regenerates split, windows, oversampled
set and recurrence plots bit for bit (the same seed twice gives the same data). A run that fails is marked FAILED
in MLflow.

Three ``kedro run --env=test`` in a throw-away copy of the project (about a minute on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from pipelines._project import copy_project, kedro_environ

# fp32 (precision auto would pick bf16 on a CPU with native bf16), enough epochs and steps to kill one mid-way
PARAMS = (
    "training.precision=fp32,training.max_epochs=6,training.patience=10,training.max_train_batches_per_epoch=12,"
    "training.lr_schedule=cosine,training.warmup_epochs=1.0"
)
COMMAND = [sys.executable, "-m", "kedro", "run", "--pipeline=insole_mtl", "--env=test"]
#: artefacts that must be identical between two runs of the same seed (relative to data/test)
DATA_FILES = (
    "03_primary/subject_split.csv",
    "03_primary/windows.npy",
    "03_primary/window_labels.parquet",
    "04_feature/train/windows.npy",
    "04_feature/val/windows.npy",
    "04_feature/test/windows.npy",
    "04_feature/train_oversampled/windows.npy",
    "04_feature/train_oversampled/window_labels.parquet",
    "05_model_input/train/recurrence_plots.npy",
    "05_model_input/test/recurrence_plots.npy",
    "07_model_output/test_predictions.parquet",
)
TIMING = ["epoch_seconds", "data_wait_fraction", "windows_per_second"]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(work: Path, params: str = PARAMS) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, f"--params={params}"], cwd=work, env=kedro_environ(), capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("resume"))
    out = work / "data" / "test"
    full = _run(work)
    assert full.returncode == 0, full.stderr[-6000:]
    reference = {name: _digest(out / name) for name in DATA_FILES}
    metrics = json.loads((out / "08_reporting" / "metrics.json").read_text())
    history = pd.read_csv(out / "08_reporting" / "training_history.csv")
    shutil.rmtree(out)  # the killed and resumed runs recompute everything

    checkpoints = out / "06_models" / "checkpoints"
    killed = subprocess.Popen(
        [*COMMAND, f"--params={PARAMS}"], cwd=work, env=kedro_environ(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while not (checkpoints / "epoch-0002.pt").exists():
        assert killed.poll() is None, "the run ended before a checkpoint of epoch 2 was written"
        assert time.monotonic() < deadline, "no checkpoint of epoch 2 within 10 minutes"
        time.sleep(0.05)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=60)
    left = sorted(p.name for p in checkpoints.iterdir() if p.name.startswith("epoch-"))
    resumed = _run(work, PARAMS + ",training.resume=true")
    assert resumed.returncode == 0, resumed.stderr[-6000:]
    return {
        "work": work, "out": out, "reference": reference, "metrics": metrics, "history": history, "killed": killed,
        "left": left, "resumed": resumed,
    }  # fmt: skip


@pytest.mark.e2e
def test_the_killed_run_died_mid_training_and_left_checkpoints(runs):
    assert runs["killed"].returncode == -signal.SIGKILL
    assert "epoch-0002.pt" in runs["left"] and "epoch-0006.pt" not in runs["left"], runs["left"]


@pytest.mark.e2e
def test_resumed_run_continues_from_the_last_checkpoint(runs):
    log = runs["resumed"].stdout + runs["resumed"].stderr
    assert "training.resume: continuing after epoch" in log
    epoch = int(log.split("training.resume: continuing after epoch ")[1].split()[0])
    assert 2 <= epoch < 6


@pytest.mark.e2e
def test_resumed_run_ends_with_exactly_the_metrics_of_an_uninterrupted_run(runs):
    out = runs["out"]
    assert json.loads((out / "08_reporting" / "metrics.json").read_text()) == runs["metrics"]
    history = pd.read_csv(out / "08_reporting" / "training_history.csv")
    pd.testing.assert_frame_equal(history.drop(columns=TIMING), runs["history"].drop(columns=TIMING), check_exact=True)
    assert len(history) == 6


@pytest.mark.e2e
def test_same_seed_gives_identical_split_windows_oversampled_set_plots_and_predictions(runs):
    now = {name: _digest(runs["out"] / name) for name in DATA_FILES}
    assert now == runs["reference"]


@pytest.mark.e2e
def test_mlflow_marks_finished_runs_finished_the_killed_run_killed_and_a_failed_run_failed(runs):
    work = runs["work"]
    failed = _run(work, PARAMS + ",training.lr=-1")
    assert failed.returncode != 0
    assert failed.stderr.strip().splitlines()[-1] == "ValueError: params training: TrainConfig.lr must be > 0, got -1"
    db = sqlite3.connect(work / "mlflow.db")
    runs_ = list(db.execute("select run_uuid, status from runs order by start_time"))
    # uninterrupted: FINISHED; SIGKILLed: no process survives a SIGKILL to close it, so the next run (the resumed
    # one) found it RUNNING with its process gone and marked it KILLED; resumed: FINISHED; failed: FAILED
    assert [status for _, status in runs_] == ["FINISHED", "KILLED", "FINISHED", "FAILED"], runs_
    resumed_from = db.execute("select value from tags where run_uuid = ? and key = 'insole.resumed_from'", (runs_[2][0],)).fetchall()
    assert resumed_from == [(runs_[1][0],)]
    log = runs["resumed"].stdout + runs["resumed"].stderr
    assert f"({runs_[1][0]}) was left RUNNING by process" in log and "marked KILLED" in log
