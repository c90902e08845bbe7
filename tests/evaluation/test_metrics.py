from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.evaluation.metrics import (
    classification_metrics,
    evaluate_predictions,
    group_majority_accuracy,
    predicted_classes,
    regression_metrics,
    subject_majority_accuracy,
)


def test_classification_exact():
    m = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], n_classes=4)
    assert m["accuracy"] == pytest.approx(3 / 5)
    # F1: class0 P=R=1/2 -> 0.5, class1 P=2/3 R=1 -> 0.8, class2 -> 0; class 3 absent -> not averaged
    assert m["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert m["n"] == 5
    empty = classification_metrics([], [], 2)
    assert np.isnan(empty["accuracy"]) and empty["confusion_matrix"] == [[0, 0], [0, 0]] and empty["n"] == 0
    with pytest.raises(ValueError, match=re.escape("y_pred has class 3 at position 1; expected 0..2")):
        classification_metrics([0, 1], [0, 3], 3)


def test_regression_exact_with_mask_and_zero_exclusion():
    y = np.array([0.0, 2.0, 4.0, np.nan])
    p = np.array([1.0, 3.0, 3.0, 100.0])
    m = regression_metrics(y, p)
    assert m["mae"] == pytest.approx(1.0)
    assert m["rmse"] == pytest.approx(1.0)
    assert m["mape"] == pytest.approx((0.5 + 0.25) / 2)  # true 0 excluded, fraction not percent
    assert (m["n"], m["n_mape"]) == (3, 2)
    m2 = regression_metrics([1.0, 3.0], [2.0, 6.0])
    assert m2["rmse"] == pytest.approx(np.sqrt((1 + 9) / 2)) and m2["mape"] == pytest.approx((1 + 1) / 2)
    assert regression_metrics([0.0, 2.0], [0.0, 2.0], exclude_zero_for_mape=False)["n_mape"] == 2
    none = regression_metrics([np.nan], [1.0])
    assert none["n"] == 0 and np.isnan(none["mae"]) and np.isnan(none["mape"])
    with pytest.raises(ValueError, match=re.escape("prediction at position 1 is nan")):
        regression_metrics([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(ValueError, match="2 targets but 3 predictions"):
        regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0])


def test_predicted_classes():
    assert predicted_classes(np.array([[0.1, 0.9], [2.0, -1.0]])).tolist() == [1, 0]
    assert predicted_classes(np.array([1.0, 0.0])).tolist() == [1, 0]
    with pytest.raises(ValueError, match="not integer-valued"):
        predicted_classes(np.array([0.5]))


@pytest.fixture
def labels():
    return pd.DataFrame(
        {
            "subject": ["a", "a", "b", "b"],
            "recording": ["a1", "a1", "b1", "b2"],
            "activity": [0, 1, 1, 2],
            "speed": [0.0, 4.0, np.nan, 8.0],
            "weight": [np.nan, np.nan, 70.0, 80.0],
        }
    )


def test_evaluate_predictions_flat_keys(labels):
    logits = np.eye(3)[[0, 1, 2, 2]]
    preds = {"activity": logits, "speed": np.array([[1.0], [5.0], [0.0], [6.0]]), "weight": np.array([0, 0, 72.0, 77.0])}
    result = evaluate_predictions(labels, preds, ["x", "y", "z"])
    assert result == pytest.approx(
        {
            "activity_accuracy": 0.75,
            "activity_macro_f1": (1.0 + 2 / 3 + 2 / 3) / 3,
            "n_activity": 4,
            "speed_mae": (1 + 1 + 2) / 3,
            "speed_rmse": np.sqrt((1 + 1 + 4) / 3),
            "speed_mape": (0.25 + 0.25) / 2,
            "n_speed": 3,
            "weight_mae": 2.5,
            "weight_rmse": np.sqrt((4 + 9) / 2),
            "weight_mape": (2 / 70 + 3 / 80) / 2,
            "n_weight": 2,
        }
    )
    single = evaluate_predictions(labels, {"weight": preds["weight"]}, ["x", "y", "z"], key_suffix="_st")
    assert set(single) == {"weight_mae_st", "weight_rmse_st", "weight_mape_st", "n_weight_st"}
    with pytest.raises(ValueError, match=re.escape("unknown task(s) ['age']")):
        evaluate_predictions(labels, {"age": np.zeros(4)}, ["x"])
    with pytest.raises(ValueError, match="speed has 3 predictions for 4 label rows"):
        evaluate_predictions(labels, {"speed": np.zeros(3)}, ["x"])


def test_majority_accuracy(labels):
    subject_level = pd.DataFrame({"subject": ["a", "a", "a", "b", "b", "c"], "activity": [1, 1, 1, 0, 0, 1]})
    # a: votes 1,0,1 -> 1 (correct); b: votes 1,0 tie -> 0 (correct, smallest index); c: 0 (wrong)
    assert subject_majority_accuracy(subject_level, np.array([1, 0, 1, 1, 0, 0])) == pytest.approx(2 / 3)
    assert group_majority_accuracy(labels.assign(activity=[1, 1, 1, 2]), np.array([1, 1, 0, 2]), by="recording") == 2 / 3
    with pytest.raises(ValueError, match=re.escape("subject(s) ['a', 'b'] have windows of several true classes")):
        subject_majority_accuracy(labels, np.zeros(4, dtype=int))
