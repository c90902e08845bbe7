"""insole_mtl.inference: the model's preprocessing, and one clear error for recordings that do not match it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insole_mtl import inference
from insole_mtl.encoding.recurrence import encode_recurrence_plots

from ._model import CHANNELS, CLASSES, TASKS, small_model, windows


def _recordings(rate_hz: float = 40.0, n: int = 400, drop: str | None = None, scale: float = 1.0) -> pd.DataFrame:
    w = windows(1)[0]  # (14, 160)
    values = np.tile(w, (1, n // 160 + 1))[:, :n].T * scale
    table = pd.DataFrame(values, columns=CHANNELS)
    table.insert(0, "time_s", np.arange(n) / rate_hz)
    table.insert(0, "recording", "S9_EXP03")
    return table.drop(columns=[drop]) if drop else table


def test_preprocessing_is_read_from_the_model():
    pre = inference.model_preprocessing(small_model(), default_rate_hz=40.0)
    assert pre.channels == tuple(CHANNELS) and pre.window_length == 160 and pre.resolution == 40
    assert pre.input_names == ("recurrence_plots", "windows") and pre.percentage == 10.0 and pre.sampling_rate_hz == 40.0


def test_model_without_preprocessing_is_refused():
    model = small_model()
    model.preprocessing = {}
    with pytest.raises(ValueError) as error:
        inference.model_preprocessing(model, 40.0)
    assert str(error.value) == (
        "the model records no ['channels', 'window_length'] in model.preprocessing (got keys []); "
        "only models saved by the insole_mtl training node can be applied to new recordings"
    )


def test_missing_channel_is_named():
    pre = inference.model_preprocessing(small_model(), 40.0)
    with pytest.raises(ValueError) as error:
        inference.check_recordings(_recordings(drop="fsr3_L"), pre, 40.0, source="S9_EXP03.csv")
    present = [c for c in CHANNELS if c != "fsr3_L"]
    assert str(error.value) == (
        f"S9_EXP03.csv: missing channel column(s) ['fsr3_L']; the model was trained on channels {CHANNELS} "
        f"(present: {present})"
    )


def test_wrong_rate_is_named():
    pre = inference.model_preprocessing(small_model(), 40.0)
    with pytest.raises(ValueError) as error:
        inference.check_recordings(_recordings(rate_hz=100.0), pre, 40.0)
    assert str(error.value) == (
        "raw_recordings: recording 'S9_EXP03' is sampled at 100 Hz (column 'time_s') but the source declares "
        "sampling.source_rate_hz = 40; the model expects 40 Hz (other rates are resampled when declared)"
    )


def test_other_units_are_refused_and_the_training_units_pass():
    model = small_model()
    pre = inference.model_preprocessing(model, 40.0)
    w = windows(20, seed=5)
    labels = pd.DataFrame({"recording": ["S9_EXP03"] * 10 + ["S9_EXP04"] * 10})
    inference.check_units(w, labels, model, pre, max_ratio=10.0)  # same units: no error
    newtons = w.copy()
    newtons[:, 6:] *= 0.02  # FSR counts -> newtons
    with pytest.raises(ValueError) as error:
        inference.check_units(newtons, labels, model, pre, max_ratio=10.0)
    message = str(error.value)
    assert message.startswith("column 'fsr1_R' (e.g. recording 'S9_EXP0")
    assert "(ratio 0.02" in message and message.endswith(
        "allowed 1/10..10); the recordings are in other units or scaled differently than the training data"
    )
    inference.check_units(newtons, labels, model, pre, max_ratio=None)  # the check can be switched off


def test_class_count_must_match_the_model():
    tasks = {**TASKS, "activity": {"kind": "classification", "classes": ["Control", "Parkinson's"]}}
    with pytest.raises(ValueError) as error:
        inference.class_names_of(small_model(), tasks)
    assert str(error.value) == (
        "params tasks.activity.classes lists 2 classes ['Control', \"Parkinson's\"] but the model predicts 7; "
        "use the environment the model was trained in"
    )


def test_model_inputs_are_the_training_encoding_and_shapes_are_checked():
    pre = inference.model_preprocessing(small_model(), 40.0)
    w = windows(5)
    plots, raw = inference.model_inputs(w, pre)
    np.testing.assert_array_equal(plots, encode_recurrence_plots(w, 10.0, resolution=40))
    np.testing.assert_array_equal(raw, w)
    with pytest.raises(ValueError, match=r"windows must be \(n, 14, 160\) for this model .* got shape \(5, 14, 80\)"):
        inference.model_inputs(w[..., :80], pre)


def test_cut_windows_keeps_unlabelled_recordings_and_times_windows_in_seconds():
    pre = inference.model_preprocessing(small_model(), 40.0)
    rec = pd.concat([_recordings(n=400), _recordings(n=200).assign(recording="S9_EXP99")])
    index = pd.DataFrame({"recording": ["S9_EXP03", "S9_EXP99"], "subject": ["S9", "S9"], "experiment": [3, 99]})
    labels = pd.DataFrame({"recording": ["S9_EXP03"], "subject": ["S9"], "experiment": [3], "activity": [1], "speed": [3.0], "weight": [np.nan]})
    w, table = inference.cut_windows(rec, index, labels, pre, stride=40)
    assert w.shape == (7 + 2, 14, 160)  # floor((400-160)/40)+1 = 7, floor((200-160)/40)+1 = 2
    assert table["window_start_s"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 1.0]
    assert table["activity"].tolist() == [1] * 7 + [inference.NO_LABEL] * 2
    outputs = inference.predict_windows(small_model(), w, pre)
    result = inference.prediction_table(table, outputs, CLASSES)
    assert tuple(result.columns[:7]) == inference.PREDICTION_COLUMNS
    assert result["true_activity"][:7].tolist() == ["Treadmill Walk"] * 7 and result["true_activity"][7:].isna().all()
    np.testing.assert_allclose(result["activity_probability"], outputs["activity_proba"].max(axis=1), rtol=1e-6)
