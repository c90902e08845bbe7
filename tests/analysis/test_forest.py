"""Random-forest body-weight models on per-channel summary statistics (Fig. 6)."""

import numpy as np
import pytest

from insole_mtl.analysis.forest import STATISTICS, fit_weight_forests, plot_importances, summary_features


def test_summary_features_are_exact_on_a_tiny_window():
    windows = np.array([[[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 0.0]]])
    features = summary_features(windows, ["a", "b_L"])
    assert list(features.columns) == [f"a_{s}" for s in STATISTICS] + [f"b_L_{s}" for s in STATISTICS]
    row = features.iloc[0]
    assert row["a_mean"] == 3.0 and row["a_median"] == 2.5 and row["a_min"] == 1.0 and row["a_max"] == 6.0
    assert row["a_sum"] == 12.0 and row["a_var"] == pytest.approx(3.5) and row["a_std"] == pytest.approx(np.sqrt(3.5))
    assert row["b_L_std"] == 0.0
    with pytest.raises(ValueError, match="expected windows"):
        summary_features(windows, ["a"])


def test_forests_find_the_channel_that_carries_the_weight():
    rng = np.random.default_rng(0)
    weights = rng.uniform(50, 100, size=120)
    windows = rng.normal(size=(120, 3, 20))
    windows[:, 1, :] += weights[:, None] / 10  # channel "heel" carries the weight
    features = summary_features(windows, ["noise", "heel", "other"])
    importances, scores = fit_weight_forests(
        features[:90], weights[:90], features[90:], weights[90:], [70, 85], n_estimators=30, seed=0
    )
    assert importances["classifier_importance"].sum() == pytest.approx(1.0)
    assert importances["regressor_importance"].sum() == pytest.approx(1.0)
    per_channel = importances.groupby("channel")["regressor_importance"].sum()
    assert per_channel.idxmax() == "heel" and per_channel["heel"] > 0.8
    assert scores["regressor_mae"] < 5.0 and scores["n_test"] == 30.0
    assert 0.0 <= scores["classifier_accuracy"] <= 1.0
    fig = plot_importances(importances, top_k=5)
    assert fig.axes[2].get_title() == "importance per channel"
    with pytest.raises(ValueError, match="need training and test windows"):
        fit_weight_forests(features[:0], weights[:0], features, weights, [70])
