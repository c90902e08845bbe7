"""t-SNE of the shared embedding (Fig. 4)."""

import numpy as np
import pandas as pd
import pytest

from insole_mtl.analysis.tsne import plot_tsne, subsample_indices, tsne_coordinates


def test_subsample_indices():
    assert subsample_indices(5, None).tolist() == [0, 1, 2, 3, 4]
    picked = subsample_indices(100, 10, seed=1)
    assert len(picked) == 10 and len(set(picked)) == 10 and list(picked) == sorted(picked)
    assert picked.tolist() == subsample_indices(100, 10, seed=1).tolist()


def test_tsne_separates_two_clusters_and_plots_three_panels():
    rng = np.random.default_rng(0)
    embedding = np.vstack([rng.normal(0, 0.1, (15, 8)), rng.normal(5, 0.1, (15, 8))])
    coordinates = tsne_coordinates(embedding, perplexity=30.0, seed=0, max_iter=250)  # perplexity capped for 30 points
    assert coordinates.shape == (30, 2)
    centre_a, centre_b = coordinates[:15].mean(0), coordinates[15:].mean(0)
    spread = max(coordinates[:15].std(0).max(), coordinates[15:].std(0).max())
    assert np.linalg.norm(centre_a - centre_b) > 3 * spread
    labels = pd.DataFrame(
        {"activity": [0] * 15 + [2] * 15, "speed": [0.0] * 15 + [7.5] * 15, "weight": [np.nan] * 15 + [70.0] * 15}
    )
    fig = plot_tsne(coordinates, labels, ["Stand", "Walk", "Run"])
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[:3] == ["activity", "speed", "body weight (running windows)"]
    with pytest.raises(ValueError, match="needs an"):
        tsne_coordinates(embedding[:2])
    with pytest.raises(ValueError, match="30 coordinates for 2 label rows"):
        plot_tsne(coordinates, labels[:2], ["a"])
