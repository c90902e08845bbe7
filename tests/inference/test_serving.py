"""The servable MLflow model the training run logs (hook ``ServableModelMlflowHook``): it is in the run, has a
raw-window signature and input example, and predicts what ``insole_infer`` predicts — loaded in Python and through
``mlflow models predict``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest

from insole_mtl.serving.pyfunc import OUTPUT_COLUMNS, InsoleWindowModel

from .test_infer_e2e import _serving_uri

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def served(trained_project):
    uri = _serving_uri(trained_project)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{trained_project / 'mlflow.db'}")
    cwd = os.getcwd()
    os.chdir(trained_project)  # artifacts are stored relative to the project (./mlruns)
    try:
        yield uri, mlflow.pyfunc.load_model(uri)
    finally:
        os.chdir(cwd)
        mlflow.set_tracking_uri(previous)


def _same_cohort(work):
    data = work / "data" / "test"
    windows = np.load(data / "04_feature" / "test" / "windows.npy")
    labels = pd.read_parquet(data / "04_feature" / "test" / "window_labels.parquet")
    ours = pd.read_csv(data / "07_model_output" / "same_cohort_predictions.csv")
    keyed = labels.assign(window_start_s=labels["start"] / 40.0)[["recording", "window_start_s"]]
    expected = keyed.merge(ours, on=["recording", "window_start_s"], how="left", validate="one_to_one")
    assert expected["activity"].notna().all()
    return windows, expected


def test_the_model_is_in_the_run_with_a_raw_window_signature_and_example(trained_project, served):
    uri, model = served
    signature = model.metadata.signature
    spec = signature.inputs.inputs[0]
    assert spec.type == np.dtype("float32") and spec.shape == (-1, 14, 160)
    assert [c.name for c in signature.outputs.inputs] == list(OUTPUT_COLUMNS)
    assert isinstance(model.unwrap_python_model(), InsoleWindowModel)
    info = mlflow.models.get_model_info(uri)
    assert info.saved_input_example_info is not None  # the raw-window input example is stored with the model
    assert "python_function" in info.flavors


def test_pyfunc_predicts_what_insole_infer_predicts(trained_project, served):
    _, model = served
    windows, expected = _same_cohort(trained_project)
    got = model.predict(windows)
    assert list(got.columns) == list(OUTPUT_COLUMNS) and len(got) == len(windows)
    assert (got["activity"].to_numpy() == expected["activity"].to_numpy()).all()
    np.testing.assert_allclose(got["activity_probability"], expected["activity_probability"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["speed"], expected["speed"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["weight"], expected["weight"], rtol=1e-5, atol=1e-4)


def test_mlflow_models_predict_cli_gives_the_same_predictions(trained_project, served, tmp_path):
    uri, _ = served
    windows, expected = _same_cohort(trained_project)
    request = tmp_path / "windows.json"
    request.write_text(json.dumps({"inputs": windows[:5].tolist()}))
    output = tmp_path / "predictions.json"
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{trained_project / 'mlflow.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "mlflow", "models", "predict", "-m", uri, "-i", str(request), "-t", "json",
         "-o", str(output), "--env-manager", "local"],
        cwd=trained_project, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    body = json.loads(output.read_text())
    got = pd.DataFrame(body["predictions"] if isinstance(body, dict) else body)
    assert got["activity"].tolist() == expected["activity"][:5].tolist()
    np.testing.assert_allclose(got["speed"], expected["speed"][:5], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["weight"], expected["weight"][:5], rtol=1e-5, atol=1e-4)
