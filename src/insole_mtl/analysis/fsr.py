"""FSR3 by body weight (paper Sec. VII, Fig. 5): per-window FSR3 means per body-weight group, per experiment.

FSR3 sits at the lateral heel and carries most of the body-weight signal (SPEC §1). For every window we
take the mean over time of the chosen FSR channels (both feet's FSR3 by default, averaged), attach the
subject's body weight, cut the weights into groups and summarise/box-plot the window means per group
within each experiment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def weight_group_labels(edges: Sequence[float]) -> list[str]:
    """Group names for ascending ``edges``: ``[60, 70]`` -> ``["<60", "60-70", ">=70"]``."""
    edges = [float(e) for e in edges]
    if list(edges) != sorted(edges) or len(set(edges)) != len(edges) or not edges:
        raise ValueError(f"weight group edges must be strictly increasing and non-empty, got {edges}")
    fmt = [f"{e:g}" for e in edges]
    return [f"<{fmt[0]}"] + [f"{a}-{b}" for a, b in zip(fmt[:-1], fmt[1:])] + [f">={fmt[-1]}"]


def weight_groups(weights: np.ndarray, edges: Sequence[float]) -> pd.Categorical:
    """Ordered categorical of weight groups (a weight equal to an edge falls in the upper group; NaN stays NaN)."""
    labels = weight_group_labels(edges)
    weights = np.asarray(weights, dtype=np.float64)
    codes = np.searchsorted(np.asarray(edges, dtype=np.float64), weights, side="right")
    codes = np.where(np.isnan(weights), -1, codes)
    return pd.Categorical.from_codes(codes, categories=labels, ordered=True)


def channel_window_means(windows: np.ndarray, channels: Sequence[str], selected: Sequence[str]) -> np.ndarray:
    """Mean over time and over the ``selected`` channels of every window ``(n, C, L)`` -> ``(n,)`` float64."""
    missing = [name for name in selected if name not in channels]
    if missing or not selected:
        raise ValueError(f"channels {missing or list(selected)} not among the window channels {list(channels)}")
    index = [list(channels).index(name) for name in selected]
    return np.asarray(windows[:, index, :], dtype=np.float64).mean(axis=(1, 2))


def fsr_weight_frame(
    windows: np.ndarray,
    window_labels: pd.DataFrame,
    subjects: pd.DataFrame,
    channels: Sequence[str],
    fsr_channels: Sequence[str],
    edges: Sequence[float],
    weight_column: str = "weight_kg",
) -> pd.DataFrame:
    """One row per (non-synthetic) window: ``subject, experiment, weight_kg, group, fsr_mean``.

    Raises:
        ValueError: misaligned windows/labels, a missing channel or subject weight column.
    """
    if len(windows) != len(window_labels):
        raise ValueError(f"{len(windows)} windows but {len(window_labels)} label rows")
    if weight_column not in subjects.columns:
        raise ValueError(f"subjects have no {weight_column!r} column; present: {list(subjects.columns)}")
    labels = window_labels.reset_index(drop=True)
    keep = ~labels["synthetic"].astype(bool).to_numpy() if "synthetic" in labels.columns else np.ones(len(labels), bool)
    weight_of = subjects.set_index(subjects["subject"].astype(str))[weight_column]
    weights = labels["subject"].astype(str).map(weight_of).to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {
            "subject": labels["subject"].astype(str).to_numpy(),
            "experiment": labels["experiment"].to_numpy(np.int64),
            "weight_kg": weights,
            "group": weight_groups(weights, edges),
            "fsr_mean": channel_window_means(np.asarray(windows), channels, fsr_channels),
        }
    )
    return frame[keep].reset_index(drop=True)


def fsr_weight_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per experiment and weight group: windows, subjects, mean, median, quartiles of ``fsr_mean``."""
    grouped = frame.dropna(subset=["group"]).groupby(["experiment", "group"], observed=True)["fsr_mean"]
    summary = grouped.agg(
        n_windows="size",
        mean="mean",
        median="median",
        q1=lambda s: float(s.quantile(0.25)),
        q3=lambda s: float(s.quantile(0.75)),
    ).reset_index()
    subjects = frame.dropna(subset=["group"]).groupby(["experiment", "group"], observed=True)["subject"].nunique()
    summary.insert(3, "n_subjects", subjects.to_numpy())
    summary["group"] = summary["group"].astype(str)
    return summary


def plot_fsr_boxplots(frame: pd.DataFrame, title: str = "FSR3 window means by body-weight group") -> Figure:
    """A grid of box plots, one panel per experiment, one box per weight group (with data)."""
    experiments = sorted(frame["experiment"].unique())
    n = max(len(experiments), 1)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(3.4 * ncols, 2.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    groups = list(frame["group"].cat.categories) if isinstance(frame["group"].dtype, pd.CategoricalDtype) else sorted(frame["group"].dropna().unique())
    for ax, experiment in zip(axes, experiments):
        part = frame[frame["experiment"] == experiment]
        data, names = [], []
        for group in groups:
            values = part.loc[part["group"] == group, "fsr_mean"].to_numpy()
            if values.size:
                data.append(values)
                names.append(str(group))
        if data:
            ax.boxplot(data, tick_labels=names, showfliers=False)
        ax.set_title(f"EXP{int(experiment):02d}", fontsize=9)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
    for ax in axes[len(experiments):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.supxlabel("body weight group (kg)")
    fig.supylabel("FSR window mean")
    return fig
