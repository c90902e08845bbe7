"""Compare finished MLflow runs of the project: one row per run with its ``insole.*`` tags (model family, loss
weighting, source, seed; set by ``RunNamingMlflowHook``) and its test metrics, and a grouped bar chart.

Used by ``notebooks/02_compare_mlflow_runs.ipynb``; reads the tracking server MLflow is configured with (in a Kedro
session kedro-mlflow sets it from ``conf/*/mlflow.yml``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from insole_mtl.evaluation.plots import _new_figure

TAGS: tuple[str, ...] = ("insole.model_family", "insole.loss_weighting", "insole.source", "insole.seed")
DEFAULT_METRICS: tuple[str, ...] = ("test.activity_accuracy", "test.activity_macro_f1", "test.speed_mae", "test.weight_mae")


def project_tracking_uri(uri: str, project_path: str | Path) -> str:
    """A relative SQLite or file tracking URI (``sqlite:///mlflow.db``, as in ``conf/base/mlflow.yml``) made
    absolute against the project folder, so a notebook running in ``notebooks/`` reads the project's runs."""
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return f"sqlite:///{(Path(project_path) / uri[len('sqlite:///'):]).resolve()}"
    if "://" not in uri and not Path(uri).is_absolute():
        return str((Path(project_path) / uri).resolve())
    return uri


def runs_table(experiment: str = "insole_mtl", pipeline: str = "insole_mtl", tracking_uri: str | None = None) -> pd.DataFrame:
    """Finished runs of ``pipeline`` in ``experiment``: ``run_id, run_name, <TAGS without 'insole.'>, <metrics>``,
    newest first (``tracking_uri``: None = MLflow's current one).

    Raises:
        ValueError: the experiment does not exist.
    """
    import mlflow

    if tracking_uri is not None:
        mlflow.set_tracking_uri(tracking_uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        raise ValueError(f"no MLflow experiment {experiment!r} at {mlflow.get_tracking_uri()}")
    runs = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`insole.pipeline` = '{pipeline}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    table = pd.DataFrame({"run_id": runs["run_id"], "run_name": runs.get("tags.mlflow.runName")})
    for tag in TAGS:
        table[tag.removeprefix("insole.")] = runs.get(f"tags.{tag}")
    for column in sorted(c for c in runs.columns if c.startswith("metrics.test.")):
        table[column.removeprefix("metrics.")] = runs[column]
    return table.reset_index(drop=True)


def plot_run_comparison(table: pd.DataFrame, metrics: Sequence[str] = DEFAULT_METRICS, by: str = "loss_weighting") -> Figure:
    """One panel per metric: the mean over runs of each group of ``by`` (a column of :func:`runs_table`), with the
    individual runs as dots (seeds, folds)."""
    metrics = [m for m in metrics if m in table.columns]
    if not metrics or by not in table.columns:
        raise ValueError(f"runs table lacks {by!r} or all of the metrics; columns: {list(table.columns)}")
    fig = _new_figure(3.2 * len(metrics), 3.4)
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    groups = list(dict.fromkeys(table[by].astype(str)))
    for ax, metric in zip(axes, metrics):
        means = [table.loc[table[by].astype(str) == g, metric].mean() for g in groups]
        ax.bar(range(len(groups)), means, color=[f"C{i}" for i in range(len(groups))], alpha=0.6)
        for i, g in enumerate(groups):
            values = table.loc[table[by].astype(str) == g, metric].to_numpy(np.float64)
            ax.plot(np.full(len(values), i), values, "ko", markersize=3)
        ax.set_xticks(range(len(groups)), groups, rotation=30, fontsize=8)
        ax.set_title(metric, fontsize=9)
    fig.suptitle(f"Finished runs by {by} ({len(table)} runs)")
    return fig
