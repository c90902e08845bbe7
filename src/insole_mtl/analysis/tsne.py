"""t-SNE of the shared embedding of test windows (paper Sec. VI-D, Fig. 4).

The multitask model's heads all read one 64-d embedding; projecting it to 2-D for the test windows and
colouring the points by activity, by speed and by body weight (running windows, the only ones with a
weight label) shows whether the shared representation separates what each head needs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.manifold import TSNE

logger = logging.getLogger(__name__)


def subsample_indices(n: int, max_points: int | None, seed: int = 0) -> np.ndarray:
    """``min(n, max_points)`` distinct indices of ``range(n)`` drawn uniformly, sorted (all if ``max_points`` is None)."""
    if max_points is None or max_points >= n:
        return np.arange(n, dtype=np.int64)
    if max_points < 1:
        raise ValueError(f"max_points must be >= 1 or None, got {max_points}")
    return np.sort(np.random.default_rng(seed).choice(n, size=int(max_points), replace=False)).astype(np.int64)


def tsne_coordinates(embedding: np.ndarray, perplexity: float = 30.0, seed: int = 0, max_iter: int = 1000) -> np.ndarray:
    """2-D t-SNE (scikit-learn, PCA initialisation) of ``embedding`` ``(n, d)`` -> ``(n, 2)`` float64.

    The perplexity is capped at ``(n - 1) / 3`` so that small sets (the CI environment) stay valid.

    Raises:
        ValueError: fewer than 3 points, or a non-2-D embedding.
    """
    embedding = np.asarray(embedding, dtype=np.float64)
    if embedding.ndim != 2 or embedding.shape[0] < 3:
        raise ValueError(f"t-SNE needs an (n >= 3, d) embedding, got shape {embedding.shape}")
    effective = float(min(perplexity, max(1.0, (embedding.shape[0] - 1) / 3.0)))
    if effective != perplexity:
        logger.info("t-SNE perplexity %.1f capped to %.1f for %d points", perplexity, effective, embedding.shape[0])
    tsne = TSNE(n_components=2, perplexity=effective, init="pca", random_state=seed, max_iter=int(max_iter))
    return tsne.fit_transform(embedding)


def plot_tsne(coordinates: np.ndarray, labels: pd.DataFrame, class_names: Sequence[str]) -> Figure:
    """Three panels: points coloured by activity class, by speed (km/h) and by body weight (kg).

    Args:
        coordinates: ``(n, 2)`` t-SNE coordinates.
        labels: ``n`` window labels with ``activity`` and, when present, ``speed`` and ``weight`` (NaN = no
            label: drawn grey underneath).
        class_names: activity class names (legend).

    Returns:
        Figure with axes titled ``"activity"``, ``"speed"``, ``"body weight (running windows)"``.
    """
    coordinates = np.asarray(coordinates)
    if len(coordinates) != len(labels):
        raise ValueError(f"{len(coordinates)} coordinates for {len(labels)} label rows")
    fig = Figure(figsize=(15, 4.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3)
    x, y = coordinates[:, 0], coordinates[:, 1]
    activity = labels["activity"].to_numpy()
    colours = [f"C{i % 10}" for i in range(len(class_names))]
    for index, name in enumerate(class_names):
        mask = activity == index
        if mask.any():
            axes[0].scatter(x[mask], y[mask], s=6, color=colours[index], label=name)
    axes[0].legend(fontsize=7, markerscale=2, loc="best")
    axes[0].set_title("activity")
    for ax, column, title, unit in ((axes[1], "speed", "speed", "km/h"), (axes[2], "weight", "body weight (running windows)", "kg")):
        values = labels[column].to_numpy(dtype=np.float64) if column in labels.columns else np.full(len(labels), np.nan)
        known = ~np.isnan(values)
        ax.scatter(x[~known], y[~known], s=4, color="0.85")
        if known.any():
            points = ax.scatter(x[known], y[known], s=6, c=values[known], cmap="viridis")
            fig.colorbar(points, ax=ax, label=unit)
        ax.set_title(title)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("t-SNE of the shared 64-d embedding (test windows)")
    return fig
