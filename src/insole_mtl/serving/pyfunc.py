"""A servable MLflow model: raw windows in sensor units -> activity, speed, weight.

``InsoleWindowModel`` is an :class:`mlflow.pyfunc.PythonModel`. Its artifact ``model`` is the pickled trained
network; :meth:`predict` applies exactly what ``insole_infer`` applies (:mod:`insole_mtl.inference`): the
training's recurrence-plot encoding (threshold, resolution), the amplitude statistics and every standardisation
recorded in the model, then the network in fp32 on CPU.

Input (signature): a float32 tensor ``(n, C, L)`` — ``n`` raw windows, ``C`` channels in the order the model
records (``model.preprocessing["channels"]``), ``L`` samples at the model's rate, sensor units. In JSON
(``mlflow models predict -i windows.json -t json`` / ``mlflow models serve``): ``{"inputs": [[[...], ...], ...]}``.

Output: a table, one row per window: ``activity`` (class name), ``activity_id``, ``activity_probability``,
``speed``, ``weight`` (physical units).
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema, TensorSpec

import insole_mtl
from insole_mtl.inference import model_preprocessing, predict_windows, prediction_table

#: columns of :meth:`InsoleWindowModel.predict`
OUTPUT_COLUMNS: tuple[str, ...] = ("activity", "activity_id", "activity_probability", "speed", "weight")
SERVING_MODEL_NAME = "serving_model"


class InsoleWindowModel(mlflow.pyfunc.PythonModel):
    """Raw windows ``(n, C, L)`` -> ``activity, activity_id, activity_probability, speed, weight``.

    Args:
        class_names: activity class names (index = class id).
        sampling_rate_hz: the rate the windows are sampled at (Hz), recorded for users (not resampled here).
        model: the trained network, when built in-process (otherwise loaded from the ``model`` artifact).
    """

    def __init__(self, class_names: Sequence[str], sampling_rate_hz: float, model: Any = None) -> None:
        self.class_names = [str(c) for c in class_names]
        self.sampling_rate_hz = float(sampling_rate_hz)
        self._model = model

    def __getstate__(self) -> dict[str, Any]:  # the network travels as the artifact, not in the pickle
        return {"class_names": self.class_names, "sampling_rate_hz": self.sampling_rate_hz, "_model": None}

    def load_context(self, context: Any) -> None:
        with open(context.artifacts["model"], "rb") as handle:
            self._model = pickle.load(handle).to("cpu").eval()

    @property
    def model(self) -> Any:
        if self._model is None:
            raise RuntimeError("InsoleWindowModel: no network loaded (load it with mlflow.pyfunc.load_model)")
        return self._model

    def predict(self, context, model_input, params=None):  # noqa: ANN001 - MLflow's PythonModel signature
        windows = model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else np.asarray(model_input)
        pre = model_preprocessing(self.model, self.sampling_rate_hz)
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim == 2 and windows.shape[1] == len(pre.channels) * pre.window_length:
            windows = windows.reshape(len(windows), len(pre.channels), pre.window_length)
        outputs = predict_windows(self.model, windows, pre)
        labels = pd.DataFrame({"subject": [""] * len(windows), "recording": [""] * len(windows),
                               "window_start_s": np.zeros(len(windows)), "activity": -1,
                               "speed": np.nan, "weight": np.nan})  # fmt: skip
        table = prediction_table(labels, outputs, self.class_names)
        return table[[c for c in OUTPUT_COLUMNS if c in table.columns]].reset_index(drop=True)


def serving_signature(channels: int, length: int) -> ModelSignature:
    """Input ``(-1, channels, length)`` float32 tensor; output the :data:`OUTPUT_COLUMNS` table."""
    inputs = Schema([TensorSpec(np.dtype(np.float32), (-1, int(channels), int(length)))])
    outputs = Schema(
        [ColSpec("string", "activity"), ColSpec("long", "activity_id"), ColSpec("double", "activity_probability"),
         ColSpec("double", "speed"), ColSpec("double", "weight")]
    )  # fmt: skip
    return ModelSignature(inputs=inputs, outputs=outputs)


def log_servable_model(
    model: Any, class_names: Sequence[str], example_windows: np.ndarray, sampling_rate_hz: float, name: str = SERVING_MODEL_NAME
) -> Any:
    """Log ``model`` as an :class:`InsoleWindowModel` pyfunc to the ACTIVE MLflow run.

    Args:
        model: a trained :class:`~insole_mtl.models.MultitaskModel` (with ``preprocessing``).
        class_names: activity class names; example_windows: a few raw windows ``(k, C, L)`` (the input example).
        sampling_rate_hz: the model's rate (Hz); name: the model's name in the run (``runs:/<id>/<name>``).

    Returns:
        MLflow's ``ModelInfo`` (``model_uri`` = where it was logged).
    """
    pre = model_preprocessing(model, sampling_rate_hz)
    example = np.ascontiguousarray(np.asarray(example_windows[:2], dtype=np.float32))
    with tempfile.TemporaryDirectory(prefix="insole_serving_") as tmp:
        path = Path(tmp, "trained_model.pkl")
        with path.open("wb") as handle:
            pickle.dump(model, handle)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=InsoleWindowModel(class_names, pre.sampling_rate_hz),
            artifacts={"model": str(path)},
            code_paths=[str(Path(insole_mtl.__file__).parent)],
            signature=serving_signature(len(pre.channels), pre.window_length),
            input_example=example,
            pip_requirements=_requirements(),
        )


def _requirements() -> list[str]:
    from importlib.metadata import version

    packages = ("torch", "numpy", "pandas", "scipy", "mlflow")
    return [f"{p}=={version(p).split('+')[0]}" for p in packages]
