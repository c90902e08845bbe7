"""Random-forest body-weight models on per-channel summary statistics (paper Sec. VII, Fig. 6).

Each window ``(C, L)`` becomes ``C x 7`` features — mean, median, min, max, sum, variance and standard
deviation over time of every channel (variance/std with ``ddof=0``). A random-forest classifier predicts
the body-weight group and a random-forest regressor the weight in kg, both trained on the training
subjects' windows that carry a weight label and scored on the test subjects'; their impurity-based
feature importances show which sensors carry the weight signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.metrics import accuracy_score, mean_absolute_error, root_mean_squared_error

from insole_mtl.analysis.fsr import weight_groups

STATISTICS: tuple[str, ...] = ("mean", "median", "min", "max", "sum", "var", "std")


def summary_features(windows: np.ndarray, channels: Sequence[str]) -> pd.DataFrame:
    """Per-channel summary statistics of windows ``(n, C, L)`` -> ``(n, C * 7)`` frame ``<channel>_<stat>``."""
    windows = np.asarray(windows, dtype=np.float64)
    if windows.ndim != 3 or windows.shape[1] != len(channels):
        raise ValueError(f"expected windows (n, {len(channels)}, L), got shape {windows.shape}")
    stats = {
        "mean": windows.mean(axis=2),
        "median": np.median(windows, axis=2),
        "min": windows.min(axis=2),
        "max": windows.max(axis=2),
        "sum": windows.sum(axis=2),
        "var": windows.var(axis=2),
        "std": windows.std(axis=2),
    }
    columns = {f"{channel}_{stat}": stats[stat][:, c] for c, channel in enumerate(channels) for stat in STATISTICS}
    return pd.DataFrame(columns)


def fit_weight_forests(
    train_features: pd.DataFrame,
    train_weights: np.ndarray,
    test_features: pd.DataFrame,
    test_weights: np.ndarray,
    edges: Sequence[float],
    n_estimators: int = 200,
    seed: int = 0,
    max_depth: int | None = None,
    n_jobs: int | None = 1,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Fit the weight-group classifier and the weight regressor; score them on the test windows.

    Returns:
        ``importances``: ``feature, channel, statistic, classifier_importance, regressor_importance``
        (each importance column sums to 1), sorted by regressor importance; ``scores``:
        ``classifier_accuracy``, ``regressor_mae``, ``regressor_rmse``, ``n_train``, ``n_test``.

    Raises:
        ValueError: no training or no test window.
    """
    if len(train_features) == 0 or len(test_features) == 0:
        raise ValueError(f"random forests need training and test windows, got {len(train_features)} and {len(test_features)}")
    train_groups = np.asarray(weight_groups(train_weights, edges).codes)
    test_groups = np.asarray(weight_groups(test_weights, edges).codes)
    classifier = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=n_jobs)
    regressor = RandomForestRegressor(n_estimators=n_estimators, max_depth=max_depth, random_state=seed, n_jobs=n_jobs)
    classifier.fit(train_features.to_numpy(), train_groups)
    regressor.fit(train_features.to_numpy(), np.asarray(train_weights, dtype=np.float64))
    predicted_weight = regressor.predict(test_features.to_numpy())
    scores = {
        "classifier_accuracy": float(accuracy_score(test_groups, classifier.predict(test_features.to_numpy()))),
        "regressor_mae": float(mean_absolute_error(test_weights, predicted_weight)),
        "regressor_rmse": float(root_mean_squared_error(test_weights, predicted_weight)),
        "n_train": float(len(train_features)),
        "n_test": float(len(test_features)),
    }
    names = list(train_features.columns)
    importances = pd.DataFrame(
        {
            "feature": names,
            "channel": [name.rsplit("_", 1)[0] for name in names],
            "statistic": [name.rsplit("_", 1)[1] for name in names],
            "classifier_importance": classifier.feature_importances_,
            "regressor_importance": regressor.feature_importances_,
        }
    )
    importances = importances.sort_values("regressor_importance", ascending=False, kind="stable").reset_index(drop=True)
    return importances, scores


def plot_importances(importances: pd.DataFrame, top_k: int = 15) -> Figure:
    """Top-``k`` feature importances of both forests, and the importance summed per channel."""
    fig = Figure(figsize=(15, 5), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    for ax, column, title in (
        (axes[0], "classifier_importance", "weight-group classifier"),
        (axes[1], "regressor_importance", "weight regressor"),
    ):
        top = importances.nlargest(top_k, column)[::-1]
        ax.barh(top["feature"], top[column])
        ax.set_title(f"{title}: top {min(top_k, len(importances))} features")
        ax.tick_params(axis="y", labelsize=7)
    per_channel = importances.groupby("channel", sort=False)[["classifier_importance", "regressor_importance"]].sum()
    per_channel = per_channel.sort_values("regressor_importance")
    positions = np.arange(len(per_channel))
    axes[2].barh(positions - 0.2, per_channel["classifier_importance"], height=0.4, label="classifier")
    axes[2].barh(positions + 0.2, per_channel["regressor_importance"], height=0.4, label="regressor")
    axes[2].set_yticks(positions, per_channel.index, fontsize=7)
    axes[2].legend(fontsize=7)
    axes[2].set_title("importance per channel")
    fig.suptitle("Random-forest body-weight models on per-channel summary statistics")
    return fig
