"""Aggregation of protocol runs into the paper's tables, on fake run results with known means and stds."""

import math
import re

import numpy as np
import pytest

from insole_mtl.protocol.aggregate import (
    build_table,
    combine_group,
    complexity_table,
    format_mean_std,
    run_record,
    runs_frame,
    summarise_rows,
    summary_metrics,
    table_markdown,
)


def _result(fold, seed, tasks, metrics, params=1000.0, latency=2.0, stopped_epoch=10):
    return {
        "fold": fold,
        "seed": seed,
        "tags": {"label": "x", "model": "mobilenetv2", "tasks": "+".join(tasks), "loss": "uncertainty", "optimizer": "adamw"},
        "metrics": metrics,
        "efficiency": {"params": params, "macs": 2e8, "model_size_mb": 0.4, "latency_ms_cpu_bs1": latency, "latency_ms_cuda_bs1": None},
        "training": {"best_epoch": stopped_epoch - 1, "stopped_epoch": stopped_epoch, "train_seconds": 1.0},
        "history": [{"epoch": 1, "val_loss": 1.0}],
        "confusion_matrix": [[1, 0], [0, 1]],
    }


# MTL variant: 3 runs (2 folds x 1 seed + 1 fold x 2nd seed) with accuracies 0.90, 0.95, 1.00
MTL_ACC = [0.90, 0.95, 1.00]
MTL_SPEED = [0.30, 0.20, 0.40]
KEYS = [("fold_0", 0, "seed_0", 0), ("fold_1", 1, "seed_0", 0), ("fold_0", 0, "seed_1", 1)]


@pytest.fixture
def runs():
    records = []
    for (fk, f, sk, s), acc, speed in zip(KEYS, MTL_ACC, MTL_SPEED):
        metrics = {"activity_accuracy": acc, "speed_mae": speed, "weight_mae": 7.0 + f, "n_activity": 10}
        records.append(run_record(f"mtl.{fk}.{sk}", "mtl", fk, sk, _result(f, s, ["activity", "speed", "weight"], metrics, stopped_epoch=10 + f)))
    # single-task variants: one per task, same (fold, seed) grid
    for (fk, f, sk, s), acc in zip(KEYS, [0.80, 0.85, 0.90]):
        records.append(run_record(f"st_a.{fk}.{sk}", "st_a", fk, sk, _result(f, s, ["activity"], {"activity_accuracy": acc}, params=900.0, latency=1.0)))
        records.append(run_record(f"st_s.{fk}.{sk}", "st_s", fk, sk, _result(f, s, ["speed"], {"speed_mae": 0.1 * (f + 1)}, params=800.0, latency=1.5)))
        records.append(run_record(f"st_w.{fk}.{sk}", "st_w", fk, sk, _result(f, s, ["weight"], {"weight_mae": 8.0}, params=800.0, latency=0.5)))
    return runs_frame(records)


def test_runs_frame_has_one_row_per_run_in_variant_order(runs):
    assert len(runs) == 12
    assert list(dict.fromkeys(runs["variant"])) == ["mtl", "st_a", "st_s", "st_w"]
    mtl = runs[runs["variant"] == "mtl"]
    assert list(mtl["fold"]) == [0, 0, 1] and list(mtl["seed"]) == [0, 1, 0]
    assert math.isnan(mtl["latency_ms_cuda_bs1"].iloc[0])  # None -> NaN
    assert "confusion_matrix" not in runs.columns and "history" not in runs.columns


def test_mean_and_sample_std_over_runs_are_exact(runs):
    table = summarise_rows(runs, {"mtl": {"label": "MTL", "variants": ["mtl"]}}, ["activity_accuracy_pct", "speed_mae", "epochs"])
    row = table.iloc[0]
    assert row["n_runs"] == 3
    assert row["activity_accuracy_pct_mean"] == pytest.approx(95.0)
    assert row["activity_accuracy_pct_std"] == pytest.approx(5.0)  # sample std of 90, 95, 100
    assert row["speed_mae_mean"] == pytest.approx(0.3)
    assert row["speed_mae_std"] == pytest.approx(0.1)  # sample std of 0.3, 0.2, 0.4
    assert row["epochs_mean"] == pytest.approx(np.mean([10, 11, 10]))
    assert row["epochs_std"] == pytest.approx(np.std([10, 11, 10], ddof=1))


def test_single_task_row_takes_each_task_from_its_variant_and_sums_costs(runs):
    rows = {"st": {"label": "3 single-task", "variants": ["st_a", "st_s", "st_w"]}}
    table = summarise_rows(runs, rows, ["activity_accuracy", "speed_mae", "weight_mae", "params_k", "latency_cpu_ms"])
    row = table.iloc[0]
    assert row["n_runs"] == 3
    assert row["activity_accuracy_mean"] == pytest.approx(0.85)
    assert row["activity_accuracy_std"] == pytest.approx(0.05)
    assert row["speed_mae_mean"] == pytest.approx(np.mean([0.1, 0.2, 0.1]))
    assert row["weight_mae_mean"] == pytest.approx(8.0) and row["weight_mae_std"] == pytest.approx(0.0)
    assert row["params_k_mean"] == pytest.approx(2.5)  # (900 + 800 + 800) / 1000, summed per run
    assert row["latency_cpu_ms_mean"] == pytest.approx(3.0)
    assert row["variants"] == "st_a+st_s+st_w"


def test_row_with_a_missing_variant_is_left_out_and_one_run_has_no_std(runs):
    table = summarise_rows(runs, {"a": {"label": "A", "variants": ["mtl", "absent"]}, "b": {"label": "B", "variants": ["mtl"]}}, ["speed_mae"])
    assert list(table["row"]) == ["b"]
    one = summarise_rows(runs[runs["run"] == "mtl.fold_0.seed_0"], {"b": {"label": "B", "variants": ["mtl"]}}, ["speed_mae"])
    assert one.iloc[0]["n_runs"] == 1 and math.isnan(one.iloc[0]["speed_mae_std"])


def test_ambiguous_row_raises(runs):
    group = runs[(runs["fold_key"] == "fold_0") & (runs["seed_key"] == "seed_0") & runs["variant"].isin(["mtl", "st_a"])]
    with pytest.raises(ValueError, match=re.escape("variants ['mtl', 'st_a'] of one table row all predict 'activity'")):
        combine_group(group, ["activity_accuracy"])


def test_table_iii_carries_the_paper_numbers_in_adjacent_columns(runs):
    table = build_table(runs, "III", {"mtl_mobilenetv2": {"label": "MTL MobileNetV2", "variants": ["mtl"]}})
    columns = list(table.columns)
    assert columns[4:7] == ["activity_accuracy_pct_mean", "activity_accuracy_pct_std", "activity_accuracy_pct_paper"]
    row = table.iloc[0]
    assert row["activity_accuracy_pct_paper"] == 97.2 and row["weight_rmse_paper"] == 8.36
    assert math.isnan(row["speed_rmse_mean"])  # no run reported it
    markdown = table_markdown(table, "III")
    assert "| MTL MobileNetV2 | 95.0 (5.0) | 97.2 | 0.300 (0.100) | 0.268 |" in markdown
    assert markdown.startswith("### Table III")


def test_unknown_table_raises(runs):
    with pytest.raises(ValueError, match="unknown protocol table 'IX'"):
        build_table(runs, "IX", {})


def test_complexity_table_and_summary_metrics(runs):
    frame = complexity_table(runs)
    assert list(frame["variant"]) == ["mtl", "st_a", "st_s", "st_w"]
    assert frame.loc[0, "params_k"] == pytest.approx(1.0) and math.isnan(frame.loc[0, "params_k_paper"])
    table = build_table(runs, "IV", {"uncertainty": {"label": "uncertainty", "variants": ["mtl"]}})
    flat = summary_metrics({"IV": table})
    assert flat["IV.uncertainty.activity_accuracy_pct.mean"] == pytest.approx(95.0)
    assert flat["IV.uncertainty.speed_mae.std"] == pytest.approx(0.1)


def test_format_mean_std():
    assert format_mean_std(97.2, 0.31, 1) == "97.2 (0.3)"
    assert format_mean_std(97.2, float("nan"), 2) == "97.20"
    assert format_mean_std(float("nan"), 1.0, 2) == "-"


def test_empty_runs_give_empty_tables():
    frame = runs_frame([])
    assert list(frame.columns)[:2] == ["run", "variant"]
    table = build_table(frame, "VI", {"adamw": {"label": "AdamW", "variants": ["mtl"]}})
    assert table.empty and "epochs_paper" in table.columns
    assert "(no configured row was run)" in table_markdown(table, "VI")
