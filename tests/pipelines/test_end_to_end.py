"""One end-to-end ``kedro run --pipeline=insole_mtl --env=test`` on a tiny synthetic cohort.

The project (pyproject.toml, conf/, src/) is copied into a temporary folder so outputs, mlflow.db and mlruns/
never touch the checkout.
"""

import json
import sqlite3
import subprocess
import sys

import pytest

from ._project import copy_project, kedro_environ



@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("project"))
    env = kedro_environ()
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipeline=insole_mtl", "--env=test"],
        cwd=work, env=env, capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
    return work, result.stdout + result.stderr


@pytest.mark.e2e
def test_run_writes_metrics_efficiency_and_reports(project):
    work, _ = project
    out = work / "data" / "test"
    metrics = json.loads((out / "08_reporting" / "metrics.json").read_text())
    for key in ["activity_accuracy", "activity_macro_f1", "speed_mae", "speed_rmse", "speed_mape",
                "weight_mae", "weight_rmse", "weight_mape", "speed_mae_baseline", "weight_mae_baseline"]:
        assert isinstance(metrics[key], float), key
    assert 0.0 <= metrics["activity_accuracy"] <= 1.0
    efficiency = json.loads((out / "08_reporting" / "efficiency.json").read_text())
    for key in ["params", "macs", "model_size_mb", "latency_ms_cpu_bs1"]:
        assert efficiency[key] > 0, key
    for name in ["confusion_matrix", "speed_predicted_vs_true", "weight_predicted_vs_true", "training_curves"]:
        assert (out / "08_reporting" / f"{name}.png").stat().st_size > 1000
    assert (out / "05_model_input" / "train" / "recurrence_plots.npy").exists()
    assert list((out / "06_models" / "trained_model.pkl").iterdir()), "the model is versioned"


@pytest.mark.e2e
def test_run_is_tracked_in_one_mlflow_run_with_params_curves_metrics_and_model(project):
    work, _ = project
    db = sqlite3.connect(work / "mlflow.db")
    runs = db.execute("select run_uuid from runs").fetchall()
    assert len(runs) == 1
    params = dict(db.execute("select key, value from params").fetchall())
    assert params["training.batch_size"] == "16" and params["synthetic.n_subjects"] == "9"
    metric_steps = db.execute("select key, count(*) from metrics group by key").fetchall()
    steps = dict(metric_steps)
    assert steps["epoch.train_loss"] == 2 and "test.activity_accuracy" in steps
    assert "efficiency.latency_ms_cpu_bs1" in steps
    models = db.execute("select count(*) from logged_models").fetchone()[0]
    assert models == 2  # the PyTorch model (catalog mlflow_model) + the servable pyfunc (ServableModelMlflowHook)
