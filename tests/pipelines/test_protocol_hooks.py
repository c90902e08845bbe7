"""Project hooks: MLflow child runs per protocol run under kedro-mlflow's run, reports mirrored to it."""

from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest
from mlflow import MlflowClient

from insole_mtl.hooks import ProtocolMlflowHook


@pytest.fixture
def tracking(tmp_path):
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = mlflow.create_experiment("protocol-test", artifact_location=(tmp_path / "artifacts").as_uri())
    parent = mlflow.start_run(experiment_id=experiment, run_name="insole_mtl_protocol")
    yield parent.info.run_id
    mlflow.end_run()
    mlflow.set_tracking_uri(previous)


def _node(namespace, name="summarise_run"):
    return SimpleNamespace(namespace=namespace, name=f"{namespace}.{name}" if namespace else name)


RESULT = {
    "fold": 1,
    "seed": 3,
    "tags": {"label": "MTL", "model": "mobilenetv2", "loss": "uncertainty", "optimizer": "adamw"},
    "config": {"model": {"name": "mobilenetv2", "options": {"bottlenecks": 4}}, "training": {"lr": 0.002}},
    "metrics": {"activity_accuracy": 0.9, "speed_mae": float("nan")},
    "efficiency": {"params": 93417.0, "latency_ms_cuda_bs1": None},
    "training": {"best_epoch": 2, "stopped_epoch": 3},
    "history": [{"epoch": 1, "val_loss": 2.0}, {"epoch": 2, "val_loss": 1.0}],
}


def test_a_run_result_becomes_a_nested_child_run(tracking):
    hook = ProtocolMlflowHook()
    hook.before_pipeline_run({"env": "test"})
    namespace = "protocol.mtl.fold_1.seed_1"
    hook.before_node_run(_node(namespace, "configure_run"))
    hook.after_node_run(_node(namespace, "train_model"), {f"{namespace}.trained_model": object()})  # not the summary: no run
    assert hook.child_runs == {}
    hook.after_node_run(_node(namespace), {f"{namespace}.run_result": RESULT})
    run_id = hook.child_runs["mtl.fold_1.seed_1"]
    run = MlflowClient().get_run(run_id)
    assert run.data.tags["mlflow.parentRunId"] == tracking
    assert run.data.tags["mlflow.runName"] == "mtl/fold_1/seed_1"
    assert run.data.tags["protocol.run"] == "mtl.fold_1.seed_1" and run.data.tags["kedro.env"] == "test"
    assert run.data.tags["loss"] == "uncertainty"
    assert run.data.params["model.options.bottlenecks"] == "4" and run.data.params["seed"] == "3"
    assert run.data.metrics["test.activity_accuracy"] == 0.9 and "test.speed_mae" not in run.data.metrics
    assert run.data.metrics["efficiency.params"] == 93417.0 and run.data.metrics["training.best_epoch"] == 2
    history = MlflowClient().get_metric_history(run_id, "epoch.val_loss")
    assert [(m.step, m.value) for m in history] == [(1, 2.0), (2, 1.0)]
    assert run.info.status == "FINISHED"
    assert "run_result.json" in [a.path for a in MlflowClient().list_artifacts(run_id)]
    assert mlflow.active_run().info.run_id == tracking  # the fluent stack is untouched


def test_a_failing_run_gets_a_failed_child_and_reports_go_to_the_parent(tracking):
    hook = ProtocolMlflowHook()
    hook.before_pipeline_run({"env": None})
    hook.on_node_error(RuntimeError("boom"), _node("protocol.gru.fold_0.seed_0", "train_model"))
    failed = MlflowClient().get_run(hook.child_runs["gru.fold_0.seed_0"])
    assert failed.info.status == "FAILED" and failed.data.tags["protocol.error"] == "boom"
    hook.on_node_error(RuntimeError("other"), _node("protocol.fold_0", "split_subjects"))  # not a run: ignored
    assert len(hook.child_runs) == 1

    hook.after_dataset_saved("protocol.reports.table_iii", pd.DataFrame({"row": ["a"], "x_mean": [1.0]}))
    hook.after_dataset_saved("protocol.reports.paper_tables", "# tables\n")
    hook.after_dataset_saved("protocol.reports.forest_scores", {"regressor_mae": 1.5})
    hook.after_dataset_saved("metrics", {"not": "a protocol report"})
    hook.after_pipeline_run()
    artifacts = sorted(a.path for a in MlflowClient().list_artifacts(tracking, "protocol"))
    assert artifacts == [
        "protocol/forest_scores.json", "protocol/paper_tables.md", "protocol/run_index.csv", "protocol/table_iii.csv",
    ]  # fmt: skip


def test_without_an_active_mlflow_run_the_hook_does_nothing():
    assert mlflow.active_run() is None
    hook = ProtocolMlflowHook()
    hook.before_pipeline_run({"env": "test"})
    hook.after_node_run(_node("protocol.mtl.fold_0.seed_0"), {"protocol.mtl.fold_0.seed_0.run_result": RESULT})
    hook.after_dataset_saved("protocol.reports.runs", pd.DataFrame())
    hook.after_pipeline_run()
    assert hook.child_runs == {}
