from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insole_mtl.evaluation.baselines import baseline_metrics, mean_predictor


def test_mean_predictor_and_metrics():
    train = pd.DataFrame(
        {
            "activity": [0, 1, 1, 2, 0],
            "speed": [0.0, 4.0, 6.0, np.nan, np.nan],
            "weight": [np.nan, 60.0, 80.0, np.nan, np.nan],
            "synthetic": [False, False, False, False, True],
        }
    )
    # a synthetic row must not change the baseline (class 0 would tie with class 1)
    train = pd.concat([train, train.iloc[[4]]], ignore_index=True)
    test = pd.DataFrame({"activity": [1, 0, 1], "speed": [2.0, np.nan, 5.0], "weight": [75.0, np.nan, np.nan]})
    preds = mean_predictor(train, test)
    assert preds["activity"].tolist() == [1, 1, 1]
    np.testing.assert_allclose(preds["speed"], [10 / 3] * 3)
    np.testing.assert_allclose(preds["weight"], [70.0] * 3)
    m = baseline_metrics(train, test, ["a", "b", "c"])
    assert m["activity_accuracy_baseline"] == pytest.approx(2 / 3)
    assert m["speed_mae_baseline"] == pytest.approx((4 / 3 + 5 / 3) / 2)
    assert m["weight_mae_baseline"] == pytest.approx(5.0)
    assert m["n_weight_baseline"] == 1


def test_task_without_training_labels_left_out():
    train = pd.DataFrame({"activity": [0], "speed": [np.nan], "weight": [np.nan], "synthetic": [False]})
    preds = mean_predictor(train, train)
    assert set(preds) == {"activity"}
