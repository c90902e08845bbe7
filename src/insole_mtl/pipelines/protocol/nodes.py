"""Protocol nodes: run configuration, thin adapters around the stage nodes, aggregation and analyses.

The protocol runs the run template's stages (:mod:`insole_mtl.pipelines.template`); the nodes here only
check the protocol's parameters against its design, resolve each fold's and run's parameters, measure
efficiency, summarise a run, and turn all runs into the paper's tables and figures. No node touches
MLflow or the file system: the catalog and :mod:`insole_mtl.hooks` do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from insole_mtl.analysis.forest import fit_weight_forests, plot_importances, summary_features
from insole_mtl.analysis.fsr import fsr_weight_frame, fsr_weight_summary, plot_fsr_boxplots
from insole_mtl.analysis.tsne import plot_tsne, subsample_indices, tsne_coordinates
from insole_mtl.protocol.aggregate import (
    TABLES,
    build_table,
    complexity_markdown,
    complexity_table,
    run_record,
    runs_frame,
    summary_metrics,
    table_markdown,
)
from insole_mtl.protocol.design import (
    ProtocolDesign,
    RunKey,
    check_parameters,
    fold_split_parameters,
    resolve_loss_weighting,
    resolve_model,
    resolve_training,
    run_tags,
    stage_parameters,
)
from insole_mtl.efficiency.figures import model_efficiency
from insole_mtl.efficiency.inference import model_inputs
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS
from insole_mtl.run_parameters import check_run_parameters
from insole_mtl.training.data import select_inputs
from insole_mtl.training.engine import predict

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------------
# Configuration
# ------------------------------------------------------------------------------------------------
def configure_protocol(
    design: ProtocolDesign,
    protocol: Mapping[str, Any],
    variants: Mapping[str, Mapping[str, Any]],
    split: Mapping[str, Any],
    windowing: Mapping[str, Any],
    oversampling: Mapping[str, Any],
    recurrence: Mapping[str, Any],
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    tasks: Mapping[str, Any],
) -> tuple[dict[str, Any], ...]:
    """Check the environment's protocol parameters against ``design``; resolve what every run starts from.

    The stage parameters get ``protocol.overrides`` once, here. Runs read these datasets instead of the
    ``params:`` themselves, so the parameters are logged to the protocol's MLflow run once (kedro-mlflow
    logs a node's ``params:`` inputs), not once per run.

    Raises:
        ValueError: the parameters lack a value the design needs, or hold an unknown key (see
            :func:`insole_mtl.protocol.design.check_parameters`); raised before any fold or run starts.

    Returns:
        ``run_defaults`` (``model``, ``loss_weighting``, ``training``, ``evaluation``, ``task_names``,
        ``overrides``, and the design's ``folds``, ``seeds`` and ``variants`` values), and the protocol-wide ``windowing``, ``oversampling_config``, ``recurrence_config``,
        ``encoding_model`` (``{}``: every fold is encoded for every variant) and ``evaluation`` (analyses).
    """
    overrides = dict(protocol.get("overrides") or {})
    n_folds = stage_parameters(split, overrides, "split").get("n_folds")
    check_parameters(design, protocol, variants, int(n_folds) if n_folds is not None else None, model)
    oversampling_config = stage_parameters(oversampling, overrides, "oversampling")
    recurrence_config = stage_parameters(recurrence, overrides, "recurrence")
    defaults = {
        "model": stage_parameters(model, overrides, "model"),
        "loss_weighting": dict(loss_weighting),
        "training": stage_parameters(training, overrides, "training"),
        "evaluation": stage_parameters(evaluation, overrides, "evaluation"),
        "task_names": list(tasks),
        "overrides": overrides,
        "folds": {key: int(protocol["folds"][key]) for key in design.folds},
        "seeds": {key: int(protocol["seeds"][key]) for key in design.seeds},
        "variants": {name: dict(variants[name]) for name in design.variants},
    }
    for name in design.variants:  # every run's blocks, before any fold or run starts
        model_config, weighting_config, training_config, evaluation_config, _ = configure_run(variants[name], 0, 0, defaults)
        check_run_parameters(
            oversampling_config, recurrence_config, model_config, weighting_config, training_config, evaluation_config,
            where=f"protocol_variants.{name}:",
        )  # fmt: skip
    return (
        defaults,
        stage_parameters(windowing, overrides, "windowing"),
        oversampling_config,
        recurrence_config,
        {},
        dict(defaults["evaluation"]),
    )


def fold_split(fold_key: str, split: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """The split of fold ``fold_key``: ``params:split`` + ``protocol.overrides.split``, its validation fold
    (``protocol.folds.<fold_key>``) set, the test set fixed."""
    return fold_split_parameters(split, defaults["overrides"], defaults["folds"][fold_key])


def configure_protocol_run(run: RunKey, defaults: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """:func:`configure_run` for ``run``: its variant, validation fold and seed from ``run_defaults``."""
    return configure_run(defaults["variants"][run.variant], defaults["folds"][run.fold_key], defaults["seeds"][run.seed_key], defaults)


def configure_run(
    variant: Mapping[str, Any], fold: int, seed: int, defaults: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Resolve one run's parameters: the protocol's defaults -> the variant; the run's seed.

    Args:
        variant: the run's ``protocol_variants`` entry; fold: its validation fold; seed: its training seed.
        defaults: :func:`configure_protocol`'s ``run_defaults``.

    Returns:
        ``model``, ``loss_weighting``, ``training``, ``evaluation`` parameter dicts for the stage nodes,
        and ``run_info`` (``fold``, ``seed``, the variant's own entry and descriptive ``tags``).
    """
    model_config = resolve_model(defaults["model"], variant)
    if model_config["tasks"] is None:
        model_config["tasks"] = list(defaults["task_names"])
    weighting_config = resolve_loss_weighting(defaults["loss_weighting"], variant)
    training_config = resolve_training(defaults["training"], None, variant, seed)
    run_info = {
        "fold": int(fold),
        "seed": int(seed),
        "variant": dict(variant),
        "tags": run_tags(variant, model_config, weighting_config, training_config),
    }
    return model_config, weighting_config, training_config, dict(defaults["evaluation"]), run_info


# ------------------------------------------------------------------------------------------------
# Per-run adapters
# ------------------------------------------------------------------------------------------------
def measure_run_efficiency(
    model: torch.nn.Module, plots: np.ndarray, windows: np.ndarray, efficiency: Mapping[str, Any]
) -> dict[str, Any]:
    """Parameters, MACs, size, batch-1 latency and training memory of a run's model on its first test window
    (the inputs the model reads; :func:`insole_mtl.efficiency.figures.model_efficiency`)."""
    example = model_inputs(model, {RECURRENCE_PLOTS: plots, WINDOWS: windows}, [0])
    return model_efficiency(model, example, efficiency)


def summarise_run(
    run_info: Mapping[str, Any],
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
    metrics: Mapping[str, Any],
    history: pd.DataFrame,
    efficiency: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything one run produced, JSON-ready: identity, resolved config, test metrics, efficiency, history."""
    finite = history["val_loss"].to_numpy(dtype=np.float64)
    best = int(history["epoch"].iloc[int(np.nanargmin(finite))]) if np.isfinite(finite).any() else 0
    scalars = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    rows = [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        for row in history.to_dict(orient="records")
    ]
    return {
        **dict(run_info),
        "config": {"model": dict(model), "loss_weighting": dict(loss_weighting), "training": dict(training)},
        "metrics": scalars,
        "confusion_matrix": metrics.get("activity_confusion_matrix"),
        "efficiency": dict(efficiency),
        "training": {
            "best_epoch": best,
            "stopped_epoch": int(history["epoch"].max()),
            "train_seconds": float(history["epoch_seconds"].sum()) if "epoch_seconds" in history else float("nan"),
        },
        "history": rows,
    }


# ------------------------------------------------------------------------------------------------
# Aggregation
# ------------------------------------------------------------------------------------------------
def collect_runs(run_keys: Sequence[RunKey], *results: Mapping[str, Any]) -> pd.DataFrame:
    """The runs table (one row per run) from every run's ``run_result``, in ``run_keys`` order."""
    if len(run_keys) != len(results):
        raise ValueError(f"{len(results)} run results for {len(run_keys)} runs")
    records = [run_record(key.name, key.variant, key.fold_key, key.seed_key, result) for key, result in zip(run_keys, results)]
    frame = runs_frame(records)
    logger.info("collected %d protocol runs of %d variants", len(frame), frame["variant"].nunique() if len(frame) else 0)
    return frame


def build_tables(runs: pd.DataFrame, protocol_tables: Mapping[str, Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """Every table of :data:`insole_mtl.protocol.aggregate.TABLES` plus the complexity table.

    Args:
        runs: :func:`collect_runs`.
        protocol_tables: ``params:protocol_tables`` — per table id, ``rows: {row_id: {label, variants}}``.

    Returns:
        ``{"III": frame, "IV": ..., "V", "VI", "A", "extras", "complexity": frame}``.
    """
    unknown = sorted(set(protocol_tables) - set(TABLES))
    if unknown:
        raise ValueError(f"protocol_tables: unknown table(s) {unknown}; known: {list(TABLES)}")
    tables = {table: build_table(runs, table, (protocol_tables.get(table) or {}).get("rows") or {}) for table in TABLES}
    tables["complexity"] = complexity_table(runs)
    for table, frame in tables.items():
        logger.info("protocol table %s: %d row(s)", table, len(frame))
    return tables


def render_tables(tables: Mapping[str, pd.DataFrame], runs: pd.DataFrame) -> str:
    """All tables as one Markdown report (paper numbers alongside)."""
    n_runs = len(runs)
    folds = sorted(runs["fold_key"].unique()) if n_runs else []
    seeds = sorted(runs["seed_key"].unique()) if n_runs else []
    parts = [
        "# insole_mtl - paper protocol results",
        "",
        f"{n_runs} runs: {runs['variant'].nunique() if n_runs else 0} variants x {len(folds)} validation folds "
        f"({', '.join(folds)}) x {len(seeds)} seeds ({', '.join(seeds)}), every run scored on the same test subjects. "
        "Per-run values: `runs.csv` (column `run` = the MLflow child run's tag `protocol.run`).",
        "",
    ]
    for table in TABLES:
        parts.append(table_markdown(tables[table], table))
    parts.append(complexity_markdown(tables["complexity"]))
    return "\n".join(parts)


def protocol_summary_metrics(tables: Mapping[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    """The table cells as MLflow metrics ``{"<table>.<row>.<metric>.<mean|std>": {"value", "step"}}``."""
    numbers = summary_metrics({k: v for k, v in tables.items() if k in TABLES})
    return {key: {"value": value, "step": 0} for key, value in numbers.items()}


# ------------------------------------------------------------------------------------------------
# Analyses
# ------------------------------------------------------------------------------------------------
def embed_windows(model: torch.nn.Module, plots: np.ndarray, windows: np.ndarray, evaluation: Mapping[str, Any]) -> np.ndarray:
    """The shared embedding ``(n, d)`` float32 of every window (the reference model, test windows; the
    model picks the plots and/or the raw windows it reads)."""
    outputs = predict(
        model, select_inputs(model.input_names, plots, windows, "test"), batch_size=int(evaluation.get("batch_size", 256)), device=str(evaluation.get("device", "cpu")), return_embedding=True
    )
    model.to("cpu")
    return outputs["embedding"]


def plot_embedding_tsne(
    embedding: np.ndarray, labels: pd.DataFrame, tasks: Mapping[str, Mapping[str, Any]], analysis: Mapping[str, Any]
) -> tuple[Figure, pd.DataFrame]:
    """t-SNE of the embedding (Fig. 4): the figure and the coordinates with their window labels."""
    options = dict(analysis.get("tsne") or {})
    seed = int(options.get("seed", 0))
    index = subsample_indices(len(embedding), options.get("max_windows"), seed)
    coordinates = tsne_coordinates(
        np.asarray(embedding)[index], float(options.get("perplexity", 30.0)), seed, int(options.get("max_iter", 1000))
    )
    picked = labels.reset_index(drop=True).iloc[index].reset_index(drop=True)
    figure = plot_tsne(coordinates, picked, list(tasks["activity"]["classes"]))
    frame = picked.assign(tsne_x=coordinates[:, 0], tsne_y=coordinates[:, 1])
    return figure, frame


def fsr3_by_weight(
    windows: np.ndarray,
    window_labels: pd.DataFrame,
    subjects: pd.DataFrame,
    channels: Sequence[str],
    analysis: Mapping[str, Any],
) -> tuple[pd.DataFrame, Figure]:
    """Per-window FSR3 means per body-weight group per experiment (Fig. 5): summary table and box plots."""
    options = dict(analysis.get("fsr3") or {})
    frame = fsr_weight_frame(
        np.asarray(windows), window_labels, subjects, list(channels), list(options["channels"]), list(options["weight_edges"])
    )
    title = f"{' + '.join(options['channels'])} window means by body-weight group"
    return fsr_weight_summary(frame), plot_fsr_boxplots(frame, title)


def weight_random_forests(
    windows: np.ndarray,
    window_labels: pd.DataFrame,
    subject_split: pd.DataFrame,
    channels: Sequence[str],
    analysis: Mapping[str, Any],
) -> tuple[pd.DataFrame, dict[str, float], Figure]:
    """Random-forest weight classifier/regressor on per-channel statistics (Fig. 6).

    Trained on the windows with a weight label of every non-test subject, scored on the test subjects'.
    """
    options = dict(analysis.get("random_forest") or {})
    labels = window_labels.reset_index(drop=True)
    split_of = subject_split.set_index(subject_split["subject"].astype(str))["split"]
    split = labels["subject"].astype(str).map(split_of).to_numpy()
    labelled = labels["weight"].notna().to_numpy().copy()
    if "synthetic" in labels.columns:
        labelled &= ~labels["synthetic"].astype(bool).to_numpy()
    train = labelled & (split != "test")
    test = labelled & (split == "test")
    windows = np.asarray(windows)
    features = summary_features(windows[train | test], list(channels))
    is_test = test[train | test]
    weights = labels.loc[train | test, "weight"].to_numpy(np.float64)
    importances, scores = fit_weight_forests(
        features[~is_test].reset_index(drop=True), weights[~is_test],
        features[is_test].reset_index(drop=True), weights[is_test],
        list(options["weight_edges"]),
        n_estimators=int(options.get("n_estimators", 200)),
        seed=int(options.get("seed", 0)),
        max_depth=options.get("max_depth"),
        n_jobs=options.get("n_jobs", 1),
    )  # fmt: skip
    logger.info("random forests: weight-group accuracy %.3f, weight MAE %.2f kg", scores["classifier_accuracy"], scores["regressor_mae"])
    return importances, scores, plot_importances(importances, int(options.get("top_k", 15)))
