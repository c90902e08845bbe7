"""``kedro run --runner=insole_mtl.runner.DaskRunner`` on the ``test`` environment, against SequentialRunner.

* ``insole_mtl_cv`` on a local cluster of 2 workers (127.0.0.1, 1 thread each) whose worker running
  ``cv.fold_2.train_multitask_model`` is killed (SIGKILL, mid-training) by a worker plugin: the run completes
  with the same ``cross_validation.json`` scores and the same MLflow runs as SequentialRunner.
* ``insole_mtl_protocol``: the same protocol tables (timing columns aside).

Each run works in its own temporary copy of the project (tests/pipelines/_project.py); the SequentialRunner
references are the session's shared finished runs (tests/pipelines/_finished_run.py, also read by the pipelines'
end-to-end tests). On CPU fp32 with one thread per process the project is deterministic, so the scores are
compared exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines._finished_run import finished_run
from pipelines._project import ROOT, copy_project, kedro_environ

DASK = "--runner=insole_mtl.runner.DaskRunner"
KILLED = "cv.fold_2.train_multitask_model-"
#: columns that measure time (they differ between any two runs, whatever the runner)
TIMING = ("seconds", "latency", "_ms", "wall_s")


def _kedro(work: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**kedro_environ(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(extra_env or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])  # + the kill plugin
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env=test", *args],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    return result


def _untimed(value):
    """``value`` without the keys that measure time."""
    if isinstance(value, dict):
        return {k: _untimed(v) for k, v in value.items() if not any(t in k for t in TIMING)}
    if isinstance(value, list):
        return [_untimed(v) for v in value]
    return value


def _mlflow_runs(work: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Names of the MLflow runs, and (run name, metric key) of the fold runs' test metrics."""
    db = sqlite3.connect(work / "mlflow.db")
    names = sorted(name for (name,) in db.execute("select name from runs"))
    metrics = sorted(db.execute(
        "select r.name, m.key from metrics m join runs r on r.run_uuid = m.run_uuid where m.key like 'test.%'"
    ))  # fmt: skip
    return names, metrics


@pytest.fixture(scope="module")
def cv_runs(tmp_path_factory):
    sequential = finished_run(tmp_path_factory.getbasetemp(), "insole_mtl_cv")  # shared with tests/pipelines
    dask = copy_project(tmp_path_factory.mktemp("cv_dask"))
    marker = dask / "killed_worker.txt"
    log = _kedro(
        dask, "--pipeline=insole_mtl_cv", DASK, "--params=dask.worker_plugins=[_dask_helpers.KillDuringNode]",
        extra_env={"INSOLE_DASK_KILL_NODE": KILLED, "INSOLE_DASK_KILL_MARKER": str(marker), "INSOLE_DASK_KILL_DELAY_S": "0.3"},
    )  # fmt: skip
    return sequential, dask, marker, log.stdout + log.stderr


@pytest.mark.e2e
def test_cv_on_two_workers_survives_a_killed_worker_with_the_sequential_scores(cv_runs):
    sequential, dask, marker, log = cv_runs
    pid, key, state = marker.read_text().split()
    assert key.startswith(KILLED) and state == "executing"  # killed mid-training
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid), 0)
    report = "data/test/08_reporting/cross_validation.json"
    expected, got = (json.loads((work / report).read_text()) for work in (sequential, dask))
    assert got["per_fold"] and _untimed(got) == _untimed(expected)
    assert got["model"] == expected["model"] and got["baselines"] == expected["baselines"]
    for k in range(5):  # the per-fold outputs were written by the driver, once
        metrics = f"data/test/08_reporting/cv/fold_{k}/metrics.json"
        assert json.loads((dask / metrics).read_text()) == json.loads((sequential / metrics).read_text())
    assert "dask: local cluster at tcp://127.0.0.1:" in log and "2 worker(s) x 1 thread(s)" in log
    assert "dask: completed report_cross_validation" in log or "; 75/75 nodes (100%)" in log
    assert not list((dask / "data" / "test").glob(".dask_scratch/*"))  # scratch removed


@pytest.mark.e2e
def test_cv_on_dask_logs_the_same_mlflow_runs_without_duplicates(cv_runs):
    sequential, dask, _, _ = cv_runs
    names, metrics = _mlflow_runs(dask)
    assert names == ["cv/fold_0", "cv/fold_1", "cv/fold_2", "cv/fold_3", "cv/fold_4", "insole_mtl_cv"]
    assert (names, metrics) == _mlflow_runs(sequential)
    db = sqlite3.connect(dask / "mlflow.db")
    assert [status for (status,) in db.execute("select distinct status from runs")] == ["FINISHED"]


def _tables(work: Path) -> dict[str, pd.DataFrame]:
    """The newest version of every protocol table (versioned CSV folders), without its timing columns."""
    out = work / "data" / "test" / "08_reporting" / "protocol"
    tables = {}
    for folder in sorted(out.glob("*.csv")):
        path = sorted(p for p in folder.iterdir() if p.is_dir())[-1] / folder.name if folder.is_dir() else folder
        table = pd.read_csv(path)
        tables[folder.stem] = table[[c for c in table.columns if not any(t in c for t in TIMING)]]
    return tables


@pytest.mark.e2e
def test_protocol_on_two_workers_gives_the_sequential_tables(tmp_path_factory):
    sequential = finished_run(tmp_path_factory.getbasetemp(), "insole_mtl_protocol")  # shared with tests/pipelines
    dask = copy_project(tmp_path_factory.mktemp("protocol_dask"))
    log = _kedro(dask, "--pipeline=insole_mtl_protocol", DASK)
    expected, got = _tables(sequential), _tables(dask)
    assert {"table_iii", "table_v", "runs"} <= set(got) and sorted(got) == sorted(expected)
    for name, table in expected.items():
        pd.testing.assert_frame_equal(got[name], table, obj=name)
    assert "in-memory dataset(s) handed between nodes are persisted (not kept together)" in log.stdout + log.stderr
    assert _mlflow_runs(dask) == _mlflow_runs(sequential)
