"""Protocol nodes: configuration checked against the design, a raw-window model scored by the template's
evaluation node, run summaries and their collection."""

import re

import numpy as np
import pandas as pd
import pytest
import torch

from insole_mtl.models import TaskSpec, build_model
from insole_mtl.pipelines.protocol.nodes import (
    build_tables,
    collect_runs,
    configure_protocol,
    configure_run,
    fold_split,
    render_tables,
    summarise_run,
)
from insole_mtl.pipelines.evaluation.nodes import predict_test_windows
from insole_mtl.protocol.design import ProtocolDesign, RunKey
from insole_mtl.models import channel_statistics
from insole_mtl.training.data import TaskArrays
from insole_mtl.training.engine import TrainConfig, train_model
from insole_mtl.training.weighting import build_weighting

TASKS_PARAMS = {"activity": {"kind": "classification", "classes": ["a", "b"]}, "speed": {"kind": "regression"}}
SPECS = [TaskSpec("activity", "classification", 2), TaskSpec("speed", "regression", 1)]


DESIGN = ProtocolDesign(variants=("st",), folds=("fold_0", "fold_2"), seeds=("seed_0",))
PROTOCOL = {
    "folds": {"fold_0": 0, "fold_2": 2},
    "seeds": {"seed_0": 7},
    "overrides": {"training": {"max_epochs": 1}, "evaluation": {"device": "cpu"}, "recurrence": {"resolution": None}, "windowing": {"length": 32}},
}
VARIANTS = {"st": {"label": "ST", "model": {"name": "gru", "tasks": ["speed"]}, "training": {"optimizer": "adam"}}}
STAGES = dict(
    split={"n_folds": 5, "seed": 42},
    windowing={"length": 160, "stride": 80},
    oversampling={"enabled": True, "kind": "borderline-1"},
    recurrence={"percentage": 10, "resolution": 40},
    model={"name": "mobilenetv2", "options": {"bottlenecks": 4}, "tasks": None},
    loss_weighting={"method": "uncertainty"},
    training={"optimizer": "adamw", "max_epochs": 300, "seed": 42},
    evaluation={"batch_size": 256},
    tasks=TASKS_PARAMS,
)


def test_configure_protocol_then_run_resolve_stage_override_and_variant():
    defaults, windowing, oversampling, recurrence, encoding_model, evaluation = configure_protocol(DESIGN, PROTOCOL, VARIANTS, **STAGES)
    assert windowing == {"length": 32, "stride": 80} and recurrence == {"percentage": 10, "resolution": None}
    assert oversampling == {"enabled": True, "kind": "borderline-1"} and encoding_model == {}
    assert evaluation == {"batch_size": 256, "device": "cpu"}
    assert fold_split("fold_2", STAGES["split"], defaults) == {"n_folds": 5, "seed": 42, "val_fold": 2, "test_seed": 42}
    assert (defaults["folds"], defaults["seeds"], list(defaults["variants"])) == ({"fold_0": 0, "fold_2": 2}, {"seed_0": 7}, ["st"])
    model, weighting, training, run_evaluation, info = configure_run(VARIANTS["st"], 2, 7, defaults)
    assert model == {"name": "gru", "options": {}, "tasks": ["speed"]}
    assert weighting == {"method": "uncertainty", "options": {}}
    assert training == {"optimizer": "adam", "max_epochs": 1, "seed": 7}
    assert run_evaluation == evaluation
    assert info["fold"] == 2 and info["seed"] == 7 and info["tags"]["tasks"] == "speed" and info["tags"]["mtl"] == "false"
    all_tasks = configure_run({"model": {"name": "lstm"}}, 0, 0, defaults)[0]
    assert all_tasks == {"name": "lstm", "options": {}, "tasks": ["activity", "speed"]}
    assert defaults["training"]["seed"] == 42  # the run's seed never leaks into the defaults


def test_configure_protocol_refuses_parameters_the_design_cannot_run():
    with pytest.raises(ValueError, match=re.escape("protocol.folds lacks ['fold_2']: the pipeline's design runs ['fold_0', 'fold_2']")):
        configure_protocol(DESIGN, {**PROTOCOL, "folds": {"fold_0": 0}}, VARIANTS, **STAGES)
    with pytest.raises(ValueError, match=re.escape("protocol.folds ['fold_2=2'] outside the split's 2 folds")):
        configure_protocol(DESIGN, {**PROTOCOL, "overrides": {"split": {"n_folds": 2}}}, VARIANTS, **STAGES)


def test_configure_protocol_refuses_a_typo_in_any_run_before_the_first_fold():
    typo = {"st": {**VARIANTS["st"], "model": {"name": "gru", "tasks": ["speed"], "options": {"hiden_size": 64}}}}
    with pytest.raises(ValueError, match=re.escape("protocol_variants.st: model.options (gru): unknown key(s) ['hiden_size']; allowed: [")):
        configure_protocol(DESIGN, PROTOCOL, typo, **STAGES)
    with pytest.raises(ValueError, match=re.escape("protocol_variants.st: training: unknown TrainConfig parameter(s) ['patients']")):
        configure_protocol(DESIGN, {**PROTOCOL, "overrides": {**PROTOCOL["overrides"], "training": {"patients": 3}}}, VARIANTS, **STAGES)
    with pytest.raises(ValueError, match=re.escape("protocol_variants.st: recurrence: unknown key(s) ['percent']")):
        configure_protocol(DESIGN, PROTOCOL, VARIANTS, **{**STAGES, "recurrence": {"percent": 10}})


def test_raw_window_model_predicts_with_its_training_standardisation():
    rng = np.random.default_rng(0)
    windows = (rng.normal(size=(40, 3, 12)) * np.array([1.0, 100.0, 5.0])[None, :, None] + 300.0).astype(np.float32)
    targets = {"activity": rng.integers(0, 2, 40), "speed": rng.normal(5.0, 1.0, 40)}
    torch.manual_seed(0)
    model = build_model("gru", 3, SPECS, hidden_size=8, num_layers=1)
    config = TrainConfig(max_epochs=1, batch_size=8, max_train_batches_per_epoch=1, device="cpu", precision="fp32")
    result = train_model(model, build_weighting("uniform", SPECS), TaskArrays(windows, targets), TaskArrays(windows, targets), SPECS, config)
    model.load_state_dict(result.best_state)
    # the engine fitted the model's own standardisation on the training windows: it travels in the state_dict
    mean, std = channel_statistics(windows)
    assert torch.allclose(result.best_state["input_loc"], torch.as_tensor(mean, dtype=torch.float32))
    assert torch.allclose(result.best_state["input_scale"], torch.as_tensor(std, dtype=torch.float32))
    expected = model.eval().predict(torch.from_numpy(windows))["speed"].detach().numpy()
    no_plots = np.zeros((0, 3, 12, 2), np.uint8)  # the raw model never reads plots
    labels = pd.DataFrame({"speed": targets["speed"]})
    predictions = predict_test_windows(model, no_plots, windows, labels, {"device": "cpu", "batch_size": 16})
    np.testing.assert_allclose(predictions["pred_speed"].to_numpy(), expected, rtol=1e-5, atol=1e-5)
    assert {"speed", "pred_activity", "pred_speed", "proba_activity"} <= set(predictions.columns)


def _summary(acc):
    history = pd.DataFrame(
        {"epoch": [1, 2, 3], "val_loss": [2.0, 1.0, 1.5], "epoch_seconds": [1.0, 2.0, 3.0], "train_loss": [1.0, np.nan, 0.5]}
    )
    info = {"fold": 0, "seed": 1, "variant": {"label": "M"}, "tags": {"label": "M", "tasks": "activity+speed", "model": "m"}}
    metrics = {"activity_accuracy": acc, "speed_mae": 0.5, "activity_confusion_matrix": [[1, 0], [0, 1]], "n_activity": 4}
    return summarise_run(info, {"name": "m"}, {"method": "uniform"}, {"seed": 1}, metrics, history, {"params": 10.0, "macs": None})


def test_summarise_run_is_json_ready():
    result = _summary(0.75)
    assert result["training"] == {"best_epoch": 2, "stopped_epoch": 3, "train_seconds": 6.0}
    assert result["metrics"] == {"activity_accuracy": 0.75, "speed_mae": 0.5, "n_activity": 4.0}
    assert result["confusion_matrix"] == [[1, 0], [0, 1]]
    assert result["history"][1]["train_loss"] is None  # NaN -> null
    assert result["config"]["loss_weighting"] == {"method": "uniform"}


def test_collect_runs_and_tables_render():
    keys = [RunKey("m", "fold_0", "seed_0"), RunKey("m", "fold_1", "seed_0")]
    runs = collect_runs(keys, _summary(0.5), _summary(1.0))
    assert list(runs["run"]) == ["m.fold_0.seed_0", "m.fold_1.seed_0"]
    tables = build_tables(runs, {"IV": {"rows": {"uncertainty": {"label": "uncertainty", "variants": ["m"]}}}})
    assert set(tables) == {"III", "IV", "V", "VI", "A", "extras", "complexity"}
    assert tables["IV"].iloc[0]["activity_accuracy_pct_mean"] == pytest.approx(75.0)
    markdown = render_tables(tables, runs)
    assert "2 runs: 1 variants x 1 validation folds" not in markdown and "2 validation folds (fold_0, fold_1)" in markdown
    assert "| uncertainty | 75.0 (35.4) | 97.2 |" in markdown
    with pytest.raises(ValueError, match=re.escape("1 run results for 2 runs")):
        collect_runs(keys, _summary(0.5))
    with pytest.raises(ValueError, match=re.escape("protocol_tables: unknown table(s) ['VII']")):
        build_tables(runs, {"VII": {}})
