"""``kedro run --pipeline=insole_infer --env=test`` end to end (the shared project of ``_trained``)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from insole_mtl.inference import PREDICTION_COLUMNS

from pipelines._project import kedro_environ

from ._trained import kedro

pytestmark = pytest.mark.e2e


def _out(work):
    return work / "data" / "test"


def test_predictions_one_row_per_window_with_the_documented_columns(trained_project):
    predictions = pd.read_csv(_out(trained_project) / "07_model_output" / "predictions.csv")
    assert tuple(predictions.columns[: len(PREDICTION_COLUMNS)]) == PREDICTION_COLUMNS
    assert len(predictions) > 50 and predictions["subject"].nunique() == 4  # parameters_infer.yml: 4 new subjects
    classes = ["Stand Still", "Treadmill Walk", "Treadmill Run", "Ground Walk", "Squat", "Lunge", "Jumping Jack"]
    assert set(predictions["activity"]) <= set(classes)
    assert predictions["activity_probability"].between(1 / 7, 1).all()
    assert predictions[["speed", "weight"]].notna().all().all()
    starts = predictions.groupby("recording")["window_start_s"].apply(lambda s: np.diff(np.sort(s.to_numpy())))
    assert all(np.allclose(d, 1.0) for d in starts if len(d))  # stride 40 samples at 40 Hz = 1 s
    summary = pd.read_csv(_out(trained_project) / "07_model_output" / "recording_predictions.csv")
    assert summary["n_windows"].sum() == len(predictions)
    assert set(summary["recording"]) == set(predictions["recording"])
    majority = predictions.groupby("recording")["activity"].agg(lambda s: s.value_counts().index[0])
    assert (summary.set_index("recording")["activity"] == majority.reindex(summary["recording"]).to_numpy()).all()


def test_metrics_of_labelled_recordings_match_a_recomputation(trained_project):
    predictions = pd.read_csv(_out(trained_project) / "07_model_output" / "predictions.csv")
    metrics = json.loads((_out(trained_project) / "08_reporting" / "inference_metrics.json").read_text())
    assert metrics["n_windows"] == len(predictions) == metrics["n_labelled_windows"]
    assert metrics["activity_accuracy"] == pytest.approx((predictions["activity"] == predictions["true_activity"]).mean())
    for task in ("speed", "weight"):
        known = predictions[predictions[f"true_{task}"].notna()]
        assert metrics[f"n_{task}"] == len(known)
        assert metrics[f"{task}_mae"] == pytest.approx((known[task] - known[f"true_{task}"]).abs().mean())


def test_predictions_equal_the_training_runs_evaluation_on_the_same_windows(trained_project):
    """insole_infer on the training's own cohort reproduces the evaluation stage's test predictions (another code
    path: windows cut by the windowing stage, plots encoded and stored by the encoding stage)."""
    ours = pd.read_csv(_out(trained_project) / "07_model_output" / "same_cohort_predictions.csv")
    test = pd.read_parquet(_out(trained_project) / "07_model_output" / "test_predictions.parquet")
    test = test.assign(window_start_s=test["start"] / 40.0)
    merged = test.merge(ours, on=["recording", "window_start_s"], suffixes=("_eval", ""), validate="one_to_one")
    assert len(merged) == len(test) > 20
    assert (merged["activity_id"] == merged["pred_activity"]).all()
    np.testing.assert_allclose(merged["activity_probability"], merged["proba_activity"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(merged["speed"], merged["pred_speed"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(merged["weight"], merged["pred_weight"], rtol=1e-5, atol=1e-4)


def _runs(work):
    db = sqlite3.connect(work / "mlflow.db")
    rows = db.execute("select run_uuid, name, status from runs order by start_time").fetchall()
    tags = {}
    for run, key, value in db.execute("select run_uuid, key, value from tags"):
        tags.setdefault(run, {})[key] = value
    return [(run, name, status, tags.get(run, {})) for run, name, status in rows], db


def test_every_run_is_named_tagged_and_the_experiment_opens_on_runs(trained_project):
    runs, db = _runs(trained_project)
    names = [name for _, name, _, _ in runs]
    assert names[:2] == [
        "insole_mtl · mobilenetv2@40+amp · uniform · test · seed 1",
        "insole_mtl · mobilenetv2@40+amp · uncertainty · test · seed 1",
    ]
    infer = [tags for _, name, _, tags in runs if name.startswith("insole_infer")]
    assert len(infer) == 2
    newest = sorted((_out(trained_project) / "06_models" / "trained_model.pkl").iterdir())[-1]
    for tags in infer:
        assert tags["insole.model_uri"].endswith(f"{newest.name}/trained_model.pkl")
        assert tags["insole.pipeline"] == "insole_infer" and tags["insole.source"] == "test"
    kinds = dict(db.execute("select key, value from experiment_tags").fetchall())
    assert kinds["mlflow.experimentKind"] == "custom_model_development"
    metric_keys = {k for (k,) in db.execute("select distinct key from metrics")}
    assert {"infer.activity_accuracy", "infer.speed_mae", "infer.weight_mae", "infer.n_windows"} <= metric_keys


def _serving_uri(work) -> str:
    runs, _ = _runs(work)
    training = [tags for _, name, _, tags in runs if name.startswith("insole_mtl · mobilenetv2@40+amp · uncertainty")]
    return training[-1]["insole.serving_model_uri"]


def test_model_uri_from_mlflow_gives_the_same_predictions(trained_project, tmp_path):
    """``--params=model_uri=runs:/<id>/serving_model`` (the pyfunc) and ``runs:/<id>/model`` (the PyTorch flavour
    the training logs) predict what the newest saved version predicts."""
    work = tmp_path / "copy"
    shutil.copytree(trained_project, work)
    reference = pd.read_csv(_out(trained_project) / "07_model_output" / "predictions.csv")
    uri = _serving_uri(trained_project)
    for model_uri in (uri, uri.replace("/serving_model", "/model")):
        kedro(work, "run", "--pipelines=insole_infer", "--env=test", f"--params=model_uri={model_uri}")
        got = pd.read_csv(_out(work) / "07_model_output" / "predictions.csv")
        pd.testing.assert_frame_equal(got, reference, check_exact=False, rtol=1e-6)
        card = json.loads((_out(work) / "08_reporting" / "inference_model.json").read_text())
        assert card["source"] == model_uri and card["kind"] == "mlflow"
    runs, _ = _runs(work)
    assert runs[-1][3]["insole.model_uri"] == uri.replace("/serving_model", "/model")


def test_bad_model_uri_fails_with_a_clear_error(trained_project, tmp_path):
    work = tmp_path / "copy"
    shutil.copytree(trained_project, work)
    result = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines=insole_infer", "--env=test", f"--params=model_uri={tmp_path}/nope.pkl"],
        cwd=work, capture_output=True, text=True, timeout=600, env=kedro_environ(),
    )
    assert result.returncode != 0
    assert f"model_uri '{tmp_path}/nope.pkl': no such model file or folder" in result.stdout + result.stderr


def test_figures_are_written_and_logged_to_their_runs(trained_project):
    reporting = _out(trained_project) / "08_reporting"
    names = ["recurrence_gallery", "signal_snippets", "task_losses", "weight_per_subject",
             "inference_recurrence_gallery", "inference_weight_per_subject"]  # fmt: skip
    for name in names:
        assert (reporting / f"{name}.png").stat().st_size > 10_000, name
    logged = {p.name for p in (trained_project / "mlruns").rglob("*.png")}
    assert {f"{name}.png" for name in names} <= logged
