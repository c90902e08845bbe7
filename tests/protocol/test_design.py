"""The protocol design: runs = variants x folds x seeds, extras switches, per-run parameter resolution."""

import re
from pathlib import Path

import pytest
import yaml

from insole_mtl.protocol.design import (
    RunKey,
    deep_merge,
    design_from_parameters,
    fold_split_parameters,
    parse_design,
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
PROTOCOL = {
    "folds": {"fold_0": 0, "fold_1": 1},
    "seeds": {"seed_0": 0, "seed_1": 7, "seed_2": 8},
    "variants": None,
    "extras": {"adam_vs_adamw": False},
    "reference_variant": "mtl",
}


def test_runs_are_variants_times_folds_times_seeds():
    design = parse_design(PROTOCOL, VARIANTS, n_folds=5, base_model={"name": "mobilenetv2"})
    assert design.variants == ("mtl", "lstm")  # the extra is off
    assert len(design.runs) == 2 * 2 * 3
    assert design.runs[0] == RunKey("mtl", "fold_0", 0, "seed_0", 0)
    assert design.runs[4].name == "mtl.fold_1.seed_1" and design.runs[4].seed == 7
    assert design.reference_run == RunKey("mtl", "fold_0", 0, "seed_0", 0)
    assert design.input_kind("mtl") == "recurrence_plot" and design.input_kind("lstm") == "raw"


def test_extras_switch_and_explicit_variant_list():
    base = {"name": "mobilenetv2"}
    on = parse_design({**PROTOCOL, "extras": {"adam_vs_adamw": True}}, VARIANTS, base_model=base)
    assert on.variants == ("mtl", "lstm", "adam")
    listed = parse_design({**PROTOCOL, "variants": ["adam", "lstm"], "extras": {"adam_vs_adamw": True}}, VARIANTS, base_model=base)
    assert listed.variants == ("lstm", "adam")  # catalogue order
    no_reference = parse_design({**PROTOCOL, "variants": ["lstm"]}, VARIANTS)
    assert no_reference.reference_run is None
    with pytest.raises(ValueError, match=re.escape("protocol_variants.adam: no model.name")):
        parse_design({**PROTOCOL, "extras": {"adam_vs_adamw": True}}, VARIANTS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"folds": {"fold_0": 0, "fold_9": 9}}, "protocol.folds ['fold_9=9'] outside the split's 5 folds"),
        ({"folds": {"fold.0": 0}}, "fold name 'fold.0' must be an identifier"),
        ({"seeds": {"seed_0": 1, "seed_1": 1}}, "protocol.seeds values must be distinct"),
        ({"seeds": {"seed_0": 1.5}}, "protocol.seeds.seed_0 must be an int"),
        ({"variants": ["nope"]}, "protocol.variants names unknown variant(s) ['nope']"),
        ({"extras": {"turbo": True}}, "protocol.extras: unknown switch(es) ['turbo']"),
        ({"reference_variant": "nope"}, "protocol.reference_variant 'nope' is not a variant"),
        ({"folds": {"test": 0}}, "fold name 'test' is reserved"),
        ({"folds": {"mtl": 0}}, "fold name(s) ['mtl'] also name a variant or a seed"),
        ({"variants": ["adam"]}, "protocol: no variant selected"),
    ],
)
def test_invalid_designs_raise(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_design({**PROTOCOL, **change}, VARIANTS, n_folds=5)


def test_invalid_variant_raises():
    with pytest.raises(ValueError, match=re.escape("protocol_variants.bad: unknown key(s) ['optimiser']")):
        parse_design(PROTOCOL, {"bad": {"optimiser": "adam"}})
    with pytest.raises(ValueError, match=re.escape("protocol_variants.bad.extra must be one of")):
        parse_design(PROTOCOL, {"bad": {"extra": "turbo"}})


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


@pytest.mark.parametrize(("envs", "runs"), [(("base",), 18 * 25), (("base", "test"), 9 * 2), (("base", "paper"), 19 * 25)])
def test_configured_environments_give_the_expected_protocols(envs, runs):
    design = design_from_parameters(_parameters(*envs))
    assert len(design.runs) == runs
    assert design.reference_variant == "mtl_mobilenetv2"
    tables = _parameters(*envs)["protocol_tables"]
    known = set(_parameters(*envs)["protocol_variants"])
    for table in tables.values():
        for row in table["rows"].values():
            assert set(row["variants"]) <= known
