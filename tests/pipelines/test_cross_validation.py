"""insole_mtl_cv: the fold split node, the out-of-fold report on fabricated folds, the pipeline's shape,
and one end-to-end ``kedro run --pipeline=insole_mtl_cv --env=test``."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from insole_mtl.pipelines.cross_validation.nodes import check_cv_parameters, report_cross_validation, split_fold
from insole_mtl.pipelines.cross_validation.pipeline import N_FOLDS, create_pipeline, fold_namespace
from insole_mtl.pipelines.template import run_template

from ._finished_run import finished_run

CV = {"split": "subject", "allow_leakage": False, "seed": 3, "val_fraction": 0.25, "stratify": True, "gait_features": None}


def _recording_labels(n_subjects: int = 10, walks: int = 2) -> pd.DataFrame:
    rows = []
    for s in range(n_subjects):
        for w in range(walks):
            rows.append(
                {"recording": f"s{s:02d}_{w}", "subject": f"s{s:02d}", "experiment": 1, "activity": s % 2,
                 "speed": 1.0 + 0.1 * s + 0.01 * w, "weight": 60.0 + 2.0 * s}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_check_cv_parameters_messages():
    assert check_cv_parameters(CV) == "subject"
    with pytest.raises(ValueError, match=re.escape("params cv: unknown key(s) ['folds']")):
        check_cv_parameters({**CV, "folds": 10})
    with pytest.raises(ValueError, match=re.escape("params cv.split = 'window'; expected one of ['subject', 'file_level']")):
        check_cv_parameters({**CV, "split": "window"})
    message = "Set cv.allow_leakage: true as well to run it on purpose (to measure the inflation)."
    with pytest.raises(ValueError, match=re.escape(message)):
        check_cv_parameters({**CV, "split": "file_level"})
    assert check_cv_parameters({**CV, "split": "file_level", "allow_leakage": True}) == "file_level"


def test_split_fold_tests_every_subject_exactly_once_and_stratifies():
    labels = _recording_labels()
    tables = [split_fold(labels, CV, k, N_FOLDS) for k in range(N_FOLDS)]
    tested = pd.concat([t.loc[t["split"] == "test", "subject"] for t in tables])
    assert sorted(tested) == sorted(labels["subject"].unique())  # out of fold: each subject tested once
    for table in tables:
        test = table[table["split"] == "test"]
        assert len(test) == 2 and test["subject"].map(lambda s: int(s[1:]) % 2).nunique() == 2  # one per class
        assert (table["split"] == "val").sum() == 2  # round(0.25 * 8)
    leaky = split_fold(labels, {**CV, "split": "file_level", "allow_leakage": True}, 0, N_FOLDS)
    assert set(leaky.columns) == {"recording", "subject", "split", "fold"}
    assert set(leaky.loc[leaky["split"] == "val", "recording"]) == set(leaky.loc[leaky["split"] == "test", "recording"])


def _fold_inputs(labels: pd.DataFrame):
    """Fabricated windows (one per recording) whose force level is 10 x weight, and perfect model predictions."""
    windows_per_recording = 3
    rows = labels.loc[labels.index.repeat(windows_per_recording)].reset_index(drop=True)
    rows["start"] = np.tile(np.arange(windows_per_recording), len(labels))
    rows["synthetic"] = False
    windows = np.repeat((rows["weight"].to_numpy() * 10.0)[:, None, None], 8, axis=2).astype(np.float32)
    windows = np.concatenate([windows, windows], axis=1)  # 2 force channels, each 10 x weight
    splits = [split_fold(labels, CV, k, N_FOLDS) for k in range(N_FOLDS)]
    predictions = []
    for split in splits:
        test = rows[rows["subject"].isin(split.loc[split["split"] == "test", "subject"])].reset_index(drop=True)
        pred = test.copy()
        pred["pred_activity"] = pred["activity"]
        pred["proba_activity_0"] = (pred["activity"] == 0).astype(float)
        pred["proba_activity_1"] = (pred["activity"] == 1).astype(float)
        pred["pred_speed"] = pred["speed"] + 0.05
        pred["pred_weight"] = pred["weight"] - 1.0
        predictions.append(pred)
    summaries = [{"precision": "fp32", "device": "cpu", "best_epoch": 3, "stopped_epoch": 5, "train_seconds": 1.0}] * N_FOLDS
    return rows, windows, splits, predictions, summaries


def test_report_scores_the_model_and_refits_every_baseline_per_fold():
    labels = _recording_labels()
    rows, windows, splits, predictions, summaries = _fold_inputs(labels)
    tasks = {"activity": {"kind": "classification", "classes": ["a", "b"]}, "speed": {"kind": "regression"}, "weight": {"kind": "regression"}}
    reports = {"physical_baseline": {"force_channels": ["f1", "f2"]}}
    empty_gait = pd.DataFrame(index=pd.Index([], name="recording", dtype=str)).reset_index()
    report, pooled, metrics = report_cross_validation(
        N_FOLDS, *predictions, *splits, *summaries, windows, rows, empty_gait, labels, ["f1", "f2"], tasks, reports, CV
    )
    assert report["folds"] == 5 and report["subjects"] == 10 and report["split"] == "subject"
    assert report["classification_level"] == "subject" and report["precision"] == ["fp32"]
    model = report["model"]
    assert model["classification_subject_accuracy"] == 1.0 and model["classification_window_accuracy"] == 1.0
    assert model["classification_auc"] == 1.0
    assert model["speed_mae_recording"] == pytest.approx(0.05) and model["weight_mae_subject"] == pytest.approx(1.0)
    # the majority baseline is a coin flip on 5 + 5 subjects; the force line is exact (force = 20 x weight)
    assert report["baselines"]["majority"]["classification_subject_accuracy"] == pytest.approx(0.5)
    assert report["baselines"]["physical"]["weight_mae_subject"] == pytest.approx(0.0, abs=1e-9)
    assert report["baselines"]["gait_features"] == dict.fromkeys(report["baselines"]["gait_features"])  # no features: null
    assert len(pooled) == len(rows) and sorted(pooled["fold"].unique()) == list(range(5))
    assert metrics["model.weight_mae_subject"]["value"] == pytest.approx(1.0)
    assert [f["test_subjects"] for f in report["per_fold"]] == [2] * 5
    assert report["per_fold"][0]["training"] == {**summaries[0], "ensemble": 1}  # 1 model unless training.ensemble
    json.dumps(report)  # JSON-ready


def test_every_fold_is_the_run_template_under_its_namespace():
    pipeline = create_pipeline()
    template = {n.name for n in run_template().nodes}
    for k in range(N_FOLDS):
        names = {n.name.split(".", 2)[2] for n in pipeline.nodes if n.namespace == fold_namespace(k)}
        assert names == template | {"split_fold"}
    # the stage parameters are shared, not namespaced per fold; windows come from outside the folds
    assert {"params:model", "params:training", "params:cv", "windows", "window_labels", "recording_labels"} <= pipeline.inputs()
    assert not any(name.startswith("params:cv.fold") for name in pipeline.inputs())


@pytest.fixture(scope="module")
def cv_project(tmp_path_factory):
    return finished_run(tmp_path_factory.getbasetemp(), "insole_mtl_cv")


@pytest.mark.e2e
def test_cv_run_writes_the_out_of_fold_report_and_one_child_run_per_fold(cv_project):
    out = cv_project / "data" / "test"
    report = json.loads((out / "08_reporting" / "cross_validation.json").read_text())
    assert report["folds"] == 5 and report["subjects"] == 9 and report["wall_s"] > 0
    assert set(report["model"]) >= {"classification_subject_accuracy", "classification_window_accuracy",
                                    "classification_auc", "speed_mae_recording", "weight_mae_subject"}  # fmt: skip
    assert set(report["baselines"]) == {"majority", "mean", "physical", "gait_features"}
    assert report["model"]["classification_subject_accuracy"] is None  # the paper's activity varies within a subject
    assert report["baselines"]["gait_features"]["speed_mae_recording"] > 0
    assert len(report["per_fold"]) == 5
    for k in range(5):
        assert (out / "08_reporting" / "cv" / f"fold_{k}" / "metrics.json").exists()
    db = sqlite3.connect(cv_project / "mlflow.db")
    names = sorted(name for (name,) in db.execute("select name from runs"))
    assert names == ["cv/fold_0", "cv/fold_1", "cv/fold_2", "cv/fold_3", "cv/fold_4", "insole_mtl_cv"]
    parents = {v for (v,) in db.execute("select value from tags where key = 'mlflow.parentRunId'")}
    assert len(parents) == 1
    keys = {k for (k,) in db.execute("select key from metrics")}
    assert {"cv.model.weight_mae_subject", "cv.physical.weight_mae_subject", "test.activity_accuracy"} <= keys
