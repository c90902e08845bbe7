"""The protocol design: runs = variants x folds x seeds, extras switches, per-run parameter resolution."""

import re
from pathlib import Path

import pytest
import yaml

from insole_mtl.protocol.design import (
    DESIGNS,
    ProtocolDesign,
    RunKey,
    check_parameters,
    deep_merge,
    fold_split_parameters,
    resolve_loss_weighting,
    resolve_model,
    resolve_training,
    run_tags,
)

CONF = Path(__file__).resolve().parents[2] / "conf"

VARIANTS = {
    "mtl": {"label": "MTL", "model": {"name": "mobilenetv2", "tasks": ["activity", "speed", "weight"]}},
    "lstm": {"model": {"name": "lstm", "tasks": ["activity"]}, "loss_weighting": {"method": "uniform"}},
    "adam": {"extra": "adam_vs_adamw", "training": {"optimizer": "adam"}},
}
DESIGN = ProtocolDesign(variants=("mtl", "lstm"), folds=("fold_0", "fold_1"), seeds=("seed_0", "seed_1", "seed_2"), reference_variant="mtl")
PROTOCOL = {"folds": {"fold_0": 0, "fold_1": 1, "fold_4": 4}, "seeds": {"seed_0": 0, "seed_1": 7, "seed_2": 8}}


def test_runs_are_variants_times_folds_times_seeds():
    assert len(DESIGN.runs) == 2 * 2 * 3
    assert DESIGN.runs[0] == RunKey("mtl", "fold_0", "seed_0")
    assert DESIGN.runs[4].name == "mtl.fold_1.seed_1"
    assert DESIGN.reference_run == RunKey("mtl", "fold_0", "seed_0")
    assert ProtocolDesign(("lstm",), ("fold_0",), ("seed_0",)).reference_run is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"folds": ("fold.0",)}, "fold name 'fold.0' must be an identifier"),
        ({"folds": ("test",)}, "fold name 'test' is reserved"),
        ({"folds": ("mtl",)}, "fold name(s) ['mtl'] also name a variant or a seed"),
        ({"seeds": ()}, "protocol design: no seed"),
        ({"seeds": ("s", "s")}, "protocol design: duplicate seed names ['s', 's']"),
        ({"reference_variant": "nope"}, "protocol design: reference variant 'nope' is not one of ['mtl', 'lstm']"),
    ],
)
def test_invalid_designs_raise(kwargs, message):
    fields = {"variants": ("mtl", "lstm"), "folds": ("fold_0",), "seeds": ("seed_0",), **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        ProtocolDesign(**fields)


def test_parameters_give_every_run_its_values():
    kinds = check_parameters(DESIGN, PROTOCOL, VARIANTS, n_folds=5, base_model={"name": "mobilenetv2"})
    assert kinds == {"mtl": "recurrence_plot", "lstm": "raw"}  # the unused fold_4 and variant adam are fine


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"folds": {"fold_0": 0}}, "protocol.folds lacks ['fold_1']: the pipeline's design runs ['fold_0', 'fold_1']"),
        ({"folds": {"fold_0": 0, "fold_1": 9}}, "protocol.folds ['fold_1=9'] outside the split's 5 folds"),
        ({"seeds": {"seed_0": 1, "seed_1": 1, "seed_2": 2}}, "protocol.seeds values must be distinct"),
        ({"seeds": {"seed_0": 1.5, "seed_1": 1, "seed_2": 2}}, "protocol.seeds.seed_0 must be an int, got 1.5"),
        ({"variants": ["mtl"]}, "protocol: unknown key(s) ['variants']; allowed: ['folds', 'seeds', 'overrides', 'efficiency']"),
        ({"overrides": {"trainng": {}}}, "protocol.overrides: unknown group(s) ['trainng']"),
    ],
)
def test_invalid_parameters_raise(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_parameters(DESIGN, {**PROTOCOL, **change}, VARIANTS, n_folds=5)


def test_invalid_variants_raise():
    with pytest.raises(ValueError, match=re.escape("protocol_variants lacks ['lstm']: the pipeline's design runs ['mtl', 'lstm']")):
        check_parameters(DESIGN, PROTOCOL, {"mtl": VARIANTS["mtl"]})
    with pytest.raises(ValueError, match=re.escape("protocol_variants.lstm: unknown key(s) ['optimiser']")):
        check_parameters(DESIGN, PROTOCOL, {**VARIANTS, "lstm": {"optimiser": "adam"}})
    with pytest.raises(ValueError, match=re.escape("protocol_variants.lstm.extra must be one of")):
        check_parameters(DESIGN, PROTOCOL, {**VARIANTS, "lstm": {"extra": "turbo"}})
    with pytest.raises(ValueError, match=re.escape("protocol_variants.adam: no model.name")):
        check_parameters(ProtocolDesign(("adam",), ("fold_0",), ("seed_0",)), PROTOCOL, VARIANTS)


def test_model_options_carry_over_only_for_the_same_architecture():
    base = {"name": "mobilenetv2", "options": {"stem_kernel": 1, "bottlenecks": 4}, "tasks": ["activity", "speed", "weight"]}
    assert resolve_model(base, {"model": {"options": {"bottlenecks": 5}}}) == {
        "name": "mobilenetv2", "options": {"stem_kernel": 1, "bottlenecks": 5}, "tasks": ["activity", "speed", "weight"],
    }  # fmt: skip
    assert resolve_model(base, {"model": {"name": "lstm", "tasks": ["speed"]}}) == {"name": "lstm", "options": {}, "tasks": ["speed"]}
    assert resolve_loss_weighting({"method": "rlw", "options": {"seed": 3}}, {"loss_weighting": {"method": "uniform"}}) == {
        "method": "uniform", "options": {},
    }  # fmt: skip


def test_training_is_stage_then_override_then_variant_with_the_run_seed():
    base = {"lr": 0.002, "optimizer": "adamw", "max_epochs": 300, "seed": 42}
    overrides = {"training": {"max_epochs": 1}}
    resolved = resolve_training(base, overrides, {"training": {"optimizer": "adam"}}, seed=7)
    assert resolved == {"lr": 0.002, "optimizer": "adam", "max_epochs": 1, "seed": 7}
    assert base["seed"] == 42  # inputs untouched


def test_fold_split_fixes_the_test_set():
    split = {"test_fraction": 0.3, "n_folds": 5, "val_fold": 0, "seed": 42}
    assert fold_split_parameters(split, {}, 3) == {**split, "val_fold": 3, "test_seed": 42}
    assert fold_split_parameters(split, {"split": {"test_seed": 1}}, 3)["test_seed"] == 1


def test_deep_merge_and_tags():
    assert deep_merge({"a": {"b": 1, "c": 2}}, None, {"a": {"c": 3}, "d": [1]}) == {"a": {"b": 1, "c": 3}, "d": [1]}
    tags = run_tags({"label": "L"}, {"name": "gru", "tasks": ["speed"]}, {"method": "uniform"}, {"optimizer": "lion"})
    assert tags == {
        "label": "L", "model": "gru", "tasks": "speed", "mtl": "false", "loss": "uniform", "optimizer": "lion",
        "ema_teacher": "false", "extra": "",
    }  # fmt: skip


def _parameters(*envs: str) -> dict:
    """Top-level keys of the given environments' parameter files, later envs replacing earlier ones."""
    params: dict = {}
    for env in envs:
        for path in sorted((CONF / env).glob("parameters*.yml")):
            params.update(yaml.safe_load(path.read_text()) or {})
    return params


@pytest.mark.parametrize(
    ("envs", "design"),
    [
        (("base",), "insole_mtl_protocol"), (("base",), "insole_mtl_protocol_paper"), (("base",), "insole_mtl_protocol_extras"),
        (("base", "test"), "insole_mtl_protocol"), (("base", "paper"), "insole_mtl_protocol_paper"),
    ],
)  # fmt: skip
def test_configured_environments_give_every_registered_design_its_values(envs, design):
    params = _parameters(*envs)
    kinds = check_parameters(DESIGNS[design], params["protocol"], params["protocol_variants"], 5, params["model"])
    assert set(kinds) == set(DESIGNS[design].variants)
    known = set(params["protocol_variants"])
    for table in params["protocol_tables"].values():
        for row in table["rows"].values():
            assert set(row["variants"]) <= known
