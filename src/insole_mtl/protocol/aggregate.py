"""Aggregate protocol runs into the paper's tables: mean and standard deviation over runs, paper alongside.

A *table row* (``protocol_tables.<table>.rows.<row>``) names one or more variants. Single-task rows
name one variant per task (``st_lstm_activity``, ``st_lstm_speed``, ``st_lstm_weight``): per fold and
seed the row takes each task's scores from the variant that predicts that task, the SUM of the
additive costs (parameters, MACs, size, latency, memory — "three single-task models" in Table V) and
the mean of the rest (epochs). The row's mean and standard deviation are then taken over the
(fold, seed) runs in which every variant of the row finished.

Standard deviations are sample standard deviations (``ddof=1``, pandas' default); a single run gives
NaN. Units follow the paper's columns (:mod:`insole_mtl.protocol.paper`): accuracy in % for Tables
III/IV and App. A, as a fraction in Table VI, parameters in thousands, MACs in billions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.protocol.paper import COMPLEXITY, COMPLEXITY_NOTES, PAPER_TABLES

logger = logging.getLogger(__name__)

RUN_ID_COLUMNS: tuple[str, ...] = ("run", "variant", "fold_key", "fold", "seed_key", "seed")


@dataclass(frozen=True)
class Metric:
    """One table column: ``value = runs[source] * scale``.

    Attributes:
        source: column of the runs table.
        label: column heading.
        digits: decimals shown in Markdown.
        task: the task the metric scores (taken from the row's variant predicting it), or None.
        additive: summed over a row's variants (a cost of running them all) instead of averaged.
    """

    source: str
    label: str
    scale: float = 1.0
    digits: int = 3
    task: str | None = None
    additive: bool = False


METRICS: dict[str, Metric] = {
    "activity_accuracy_pct": Metric("activity_accuracy", "activity acc %", 100.0, 1, task="activity"),
    "activity_accuracy": Metric("activity_accuracy", "activity acc", 1.0, 3, task="activity"),
    "activity_macro_f1": Metric("activity_macro_f1", "activity macro-F1", 1.0, 3, task="activity"),
    "speed_mae": Metric("speed_mae", "speed MAE km/h", 1.0, 3, task="speed"),
    "speed_rmse": Metric("speed_rmse", "speed RMSE km/h", 1.0, 3, task="speed"),
    "speed_mape": Metric("speed_mape", "speed MAPE", 1.0, 3, task="speed"),
    "weight_mae": Metric("weight_mae", "weight MAE kg", 1.0, 2, task="weight"),
    "weight_rmse": Metric("weight_rmse", "weight RMSE kg", 1.0, 2, task="weight"),
    "weight_mape": Metric("weight_mape", "weight MAPE", 1.0, 3, task="weight"),
    "epochs": Metric("stopped_epoch", "epochs", 1.0, 1),
    "params_k": Metric("params", "params (K)", 1e-3, 1, additive=True),
    "macs_g": Metric("macs", "MACs (G)", 1e-9, 3, additive=True),
    "size_mb": Metric("model_size_mb", "size (MB)", 1.0, 2, additive=True),
    "latency_cpu_ms": Metric("latency_ms_cpu_bs1", "CPU latency ms", 1.0, 2, additive=True),
    "latency_cuda_ms": Metric("latency_ms_cuda_bs1", "GPU latency ms", 1.0, 2, additive=True),
    "train_memory_mb": Metric("train_memory_mb", "train memory MB (est.)", 1.0, 1, additive=True),
    "cuda_peak_mb": Metric("cuda_peak_train_mb", "GPU peak MB", 1.0, 1, additive=True),
}


@dataclass(frozen=True)
class TableSpec:
    """Title, columns and footnote of one protocol report."""

    title: str
    metrics: tuple[str, ...]
    note: str = ""


TABLES: dict[str, TableSpec] = {
    "III": TableSpec(
        "Table III - multitask vs single-task, MobileNetV2 vs LSTM/GRU (test set)",
        ("activity_accuracy_pct", "speed_mae", "speed_rmse", "speed_mape", "weight_mae", "weight_rmse", "weight_mape"),
    ),
    "IV": TableSpec(
        "Table IV - MTL MobileNetV2 by loss weighting",
        ("activity_accuracy_pct", "speed_mae", "weight_mae"),
        "DWA is this project's addition (no paper number).",
    ),
    "V": TableSpec(
        "Table V - efficiency: MTL vs three single-task MobileNetV2",
        ("params_k", "macs_g", "size_mb", "latency_cpu_ms", "latency_cuda_ms"),
        "Latency: batch 1 after warm-up on the machine of the run; the paper's latencies are a Jetson Nano's. "
        "The single-task row sums the three models.",
    ),
    "VI": TableSpec(
        "Table VI - Adam vs AdamW (MTL MobileNetV2)",
        ("activity_accuracy", "speed_rmse", "weight_rmse", "epochs"),
        "epochs = epochs trained until early stopping.",
    ),
    "A": TableSpec(
        "Appendix A - bottleneck-count ablation (MTL MobileNetV2)",
        ("params_k", "train_memory_mb", "cuda_peak_mb", "activity_accuracy_pct", "speed_mae", "speed_rmse", "weight_mae", "weight_rmse"),
        "train memory (est.) = parameters, gradients and two optimizer moments + activations saved for backward "
        "at the configured batch size; GPU peak = torch.cuda.max_memory_allocated of one training step (GPU runs only).",
    ),
    "extras": TableSpec(
        "Extras - EMA self-distillation (paper 001) and Lion (paper 003) vs the reference",
        ("activity_accuracy_pct", "speed_mae", "weight_mae", "epochs"),
        "This project's options; no paper numbers.",
    ),
}


# ------------------------------------------------------------------------------------------------
# Runs table
# ------------------------------------------------------------------------------------------------
def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def run_record(run: str, variant: str, fold_key: str, seed_key: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """One row of the runs table from a run's ``run_result`` (see the protocol's ``summarise_run`` node).

    Columns: the run identity (:data:`RUN_ID_COLUMNS`), the run's tags (``label``, ``model``, ``tasks``,
    ``loss``, ``optimizer``...), its scalar test metrics, its efficiency figures and its training summary.
    """
    record: dict[str, Any] = {
        "run": run,
        "variant": variant,
        "fold_key": fold_key,
        "fold": int(result["fold"]),
        "seed_key": seed_key,
        "seed": int(result["seed"]),
    }
    record.update({k: str(v) for k, v in (result.get("tags") or {}).items()})
    for section in ("metrics", "efficiency", "training"):
        for key, value in (result.get(section) or {}).items():
            if not isinstance(value, (list, dict, str)):
                record[key] = _as_float(value)
    return record


def runs_frame(records: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Runs table: one row per run, sorted by variant (in the given order), fold and seed."""
    if not records:
        return pd.DataFrame(columns=list(RUN_ID_COLUMNS))
    frame = pd.DataFrame(list(records))
    order = {name: i for i, name in enumerate(dict.fromkeys(frame["variant"]))}
    frame = frame.assign(_order=frame["variant"].map(order)).sort_values(["_order", "fold", "seed"], kind="stable")
    return frame.drop(columns="_order").reset_index(drop=True)


# ------------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------------
def _tasks_of(row: pd.Series) -> set[str]:
    return {task for task in str(row.get("tasks", "")).split("+") if task}


def combine_group(group: pd.DataFrame, metrics: Sequence[str]) -> dict[str, float]:
    """The row value of each metric for one (fold, seed): see the module docstring.

    Raises:
        ValueError: two variants of the row predict the task a metric scores.
    """
    values: dict[str, float] = {}
    for key in metrics:
        metric = METRICS[key]
        column = group[metric.source] if metric.source in group.columns else pd.Series(np.nan, index=group.index)
        if metric.task is not None:
            holders = [i for i, (_, row) in enumerate(group.iterrows()) if metric.task in _tasks_of(row)]
            if len(holders) > 1:
                names = sorted(group["variant"].iloc[holders])
                raise ValueError(f"variants {names} of one table row all predict {metric.task!r}: the row is ambiguous")
            value = float(column.iloc[holders[0]]) if holders else float("nan")
        elif metric.additive:
            value = float(column.sum(skipna=False))
        else:
            value = float(column.mean())
        values[key] = value * metric.scale
    return values


def summarise_rows(
    runs: pd.DataFrame, rows: Mapping[str, Mapping[str, Any]], metrics: Sequence[str]
) -> pd.DataFrame:
    """Mean, std and run count of each metric per table row.

    Args:
        runs: :func:`runs_frame`.
        rows: row id -> ``{"label": str, "variants": [names]}``; rows with a variant absent from ``runs``
            are left out (the environment did not run it).
        metrics: keys of :data:`METRICS`.

    Returns:
        Columns ``row, label, variants, n_runs`` then ``<metric>_mean, <metric>_std`` per metric.
    """
    out: list[dict[str, Any]] = []
    present = set(runs["variant"]) if "variant" in runs.columns else set()
    for row_id, row in rows.items():
        variants = list(row.get("variants") or [])
        if not variants or not set(variants) <= present:
            logger.info("table row %s skipped: variant(s) %s not run", row_id, sorted(set(variants) - present))
            continue
        subset = runs[runs["variant"].isin(variants)]
        per_run = []
        for (fold_key, seed_key), group in subset.groupby(["fold_key", "seed_key"], sort=False):
            if set(group["variant"]) != set(variants):
                logger.warning("table row %s: %s/%s lacks %s; left out", row_id, fold_key, seed_key, sorted(set(variants) - set(group["variant"])))
                continue
            per_run.append(combine_group(group, metrics))
        values = pd.DataFrame(per_run, columns=list(metrics))
        record: dict[str, Any] = {
            "row": row_id,
            "label": str(row.get("label", row_id)),
            "variants": "+".join(variants),
            "n_runs": int(len(values)),
        }
        for key in metrics:
            record[f"{key}_mean"] = float(values[key].mean()) if len(values) else float("nan")
            record[f"{key}_std"] = float(values[key].std(ddof=1)) if len(values) > 1 else float("nan")
        out.append(record)
    columns = ["row", "label", "variants", "n_runs"] + [f"{k}_{s}" for k in metrics for s in ("mean", "std")]
    return pd.DataFrame(out, columns=columns)


def with_paper_columns(summary: pd.DataFrame, table: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Insert ``<metric>_paper`` after each ``<metric>_std`` (NaN where the paper gives no number)."""
    paper = PAPER_TABLES.get(table, {})
    frame = summary.copy()
    ordered = ["row", "label", "variants", "n_runs"]
    for key in metrics:
        frame[f"{key}_paper"] = [float(paper.get(row, {}).get(key, np.nan)) for row in frame["row"]]
        ordered += [f"{key}_mean", f"{key}_std", f"{key}_paper"]
    return frame[ordered]


def build_table(runs: pd.DataFrame, table: str, rows: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Table ``table`` (a key of :data:`TABLES`): :func:`summarise_rows` + :func:`with_paper_columns`."""
    if table not in TABLES:
        raise ValueError(f"unknown protocol table {table!r}; known: {list(TABLES)}")
    metrics = TABLES[table].metrics
    return with_paper_columns(summarise_rows(runs, rows, metrics), table, metrics)


def complexity_table(runs: pd.DataFrame, labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Counted parameters, MACs and size per variant next to the paper's figures for that architecture."""
    keys = ("params_k", "macs_g", "size_mb")
    out = []
    for variant, group in runs.groupby("variant", sort=False):
        first = group.iloc[0]
        record: dict[str, Any] = {
            "variant": variant,
            "label": (labels or {}).get(variant, str(first.get("label", variant))),
            "model": first.get("model", ""),
            "tasks": first.get("tasks", ""),
        }
        for key in keys:
            metric = METRICS[key]
            value = group[metric.source].mean() * metric.scale if metric.source in group.columns else float("nan")
            record[key] = float(value)
            record[f"{key}_paper"] = float(COMPLEXITY.get(variant, {}).get(key, np.nan))
        record["note"] = COMPLEXITY_NOTES.get(variant, "")
        out.append(record)
    columns = ["variant", "label", "model", "tasks"] + [c for k in keys for c in (k, f"{k}_paper")] + ["note"]
    return pd.DataFrame(out, columns=columns)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------
def _fmt(value: float, digits: int) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def format_mean_std(mean: float, std: float, digits: int) -> str:
    """``"97.20 (0.31)"``; ``"97.20"`` without a std (one run); ``"-"`` without a value."""
    if not math.isfinite(mean):
        return "-"
    return f"{mean:.{digits}f}" if not math.isfinite(std) else f"{mean:.{digits}f} ({std:.{digits}f})"


def table_markdown(frame: pd.DataFrame, table: str) -> str:
    """One table as Markdown: ``mean (std)`` over runs with the paper's number in the next column."""
    spec = TABLES[table]
    header = ["model"]
    for key in spec.metrics:
        header += [METRICS[key].label, "paper"]
    header.append("runs")
    lines = [f"### {spec.title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in frame.iterrows():
        cells = [str(row["label"])]
        for key in spec.metrics:
            digits = METRICS[key].digits
            cells.append(format_mean_std(row[f"{key}_mean"], row[f"{key}_std"], digits))
            cells.append(_fmt(row[f"{key}_paper"], digits))
        cells.append(str(int(row["n_runs"])))
        lines.append("| " + " | ".join(cells) + " |")
    if frame.empty:
        lines.append("| (no configured row was run) |" + " |" * (len(header) - 1))
    lines.append("")
    lines.append("Mean (sample std) over runs (validation fold x seed) on the shared test set." + (f" {spec.note}" if spec.note else ""))
    return "\n".join(lines) + "\n"


def complexity_markdown(frame: pd.DataFrame) -> str:
    """The complexity table as Markdown."""
    lines = [
        "### Model complexity - counted vs paper",
        "",
        "| variant | model | tasks | params (K) | paper | MACs (G) | paper | size (MB) | paper | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in frame.iterrows():
        note = row["note"] if isinstance(row["note"], str) else ""
        lines.append(
            f"| {row['label']} | {row['model']} | {row['tasks']} | {_fmt(row['params_k'], 1)} | {_fmt(row['params_k_paper'], 1)} | "
            f"{_fmt(row['macs_g'], 3)} | {_fmt(row['macs_g_paper'], 3)} | {_fmt(row['size_mb'], 2)} | "
            f"{_fmt(row['size_mb_paper'], 2)} | {note} |"
        )
    lines.append("")
    lines.append("MACs: convolutions, linear and recurrent layers (ptflops, pytorch backend) at batch 1 for the run's input size (see insole_mtl.efficiency.complexity).")
    return "\n".join(lines) + "\n"


def summary_metrics(tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Flat ``{"<table>.<row>.<metric>.mean": v, ...}`` of every finite table cell (for MLflow)."""
    flat: dict[str, float] = {}
    for table, frame in tables.items():
        for _, row in frame.iterrows():
            for key in TABLES[table].metrics:
                for stat in ("mean", "std"):
                    value = float(row[f"{key}_{stat}"])
                    if math.isfinite(value):
                        flat[f"{table}.{row['row']}.{key}.{stat}"] = value
    return flat
