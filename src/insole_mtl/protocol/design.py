"""The paper's experimental protocol as data: variants x validation folds x seeds (SPEC §2, §8).

A *variant* is one model configuration of a paper table (MTL MobileNetV2 with uncertainty weighting,
single-task LSTM for speed, MTL MobileNetV2 trained with Adam, ...). A *run* is one variant trained
with one validation fold and one seed and scored on the shared test set; the paper reports the mean
and standard deviation over 5 folds x 5 seeds = 25 runs per variant.

Everything here is plain Python on the ``protocol*`` parameters; the Kedro pipeline
(:mod:`insole_mtl.pipelines.protocol`) instantiates one template per :class:`RunKey`.

Parameters (``conf/base/parameters_protocol.yml``)::

    protocol:
      folds: {fold_0: 0, ...}        # run-name part -> index of the validation fold (split.n_folds folds)
      seeds: {seed_0: 0, ...}        # run-name part -> training seed
      variants: null                 # null = every variant of protocol_variants; or a list of names
      extras: {adam_vs_adamw: false, ema_self_distillation: false, lion: false}
      reference_variant: mtl_mobilenetv2
      overrides: {windowing: {}, split: {}, oversampling: {}, training: {}, evaluation: {}}
    protocol_variants:
      <name>: {label, model: {name, tasks, options}, loss_weighting: {method, options}, training: {...}, extra}

A variant with ``extra: <switch>`` runs only when ``protocol.extras.<switch>`` is true.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from insole_mtl.models import model_input_kind

#: Switches of the optional extras (each off unless the environment turns it on).
EXTRAS: tuple[str, ...] = ("adam_vs_adamw", "ema_self_distillation", "lion")
#: Stage parameter groups a protocol environment may override for every run.
OVERRIDABLE: tuple[str, ...] = ("windowing", "split", "oversampling", "recurrence", "model", "training", "evaluation")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Names used by the protocol's own datasets and namespaces (``protocol.test.*``, ``protocol.reports.*``...).
RESERVED: frozenset[str] = frozenset(
    {"test", "reports", "windows", "window_labels", "windowing", "drop_report", "evaluation", "summary_metrics", "test_embedding",
     "run_defaults", "tasks", "channels"}
)  # fmt: skip
_VARIANT_KEYS = {"label", "model", "loss_weighting", "training", "extra"}


@dataclass(frozen=True)
class RunKey:
    """One run of the protocol: ``variant`` trained with validation fold ``fold`` and seed ``seed``.

    ``fold_key``/``seed_key`` are the names under ``protocol.folds``/``protocol.seeds`` (they name the
    Kedro namespace ``protocol.<variant>.<fold_key>.<seed_key>``); ``fold``/``seed`` their values.
    """

    variant: str
    fold_key: str
    fold: int
    seed_key: str
    seed: int

    @property
    def name(self) -> str:
        """``<variant>.<fold_key>.<seed_key>`` (unique within a protocol)."""
        return f"{self.variant}.{self.fold_key}.{self.seed_key}"


@dataclass(frozen=True)
class ProtocolDesign:
    """Which runs a protocol environment makes.

    Attributes:
        folds: fold key -> validation fold index, in configuration order.
        seeds: seed key -> training seed, in configuration order.
        variants: selected variant names, in ``protocol_variants`` order.
        reference_variant: the variant whose first run feeds the embedding analysis (None if not selected).
        input_kinds: variant -> what its model reads, ``"recurrence_plot"`` or ``"raw"`` windows.
    """

    folds: tuple[tuple[str, int], ...]
    seeds: tuple[tuple[str, int], ...]
    variants: tuple[str, ...]
    reference_variant: str | None
    input_kinds: tuple[tuple[str, str], ...] = ()

    def input_kind(self, variant: str) -> str:
        """``"recurrence_plot"`` or ``"raw"`` (recurrence plots when unknown)."""
        return dict(self.input_kinds).get(variant, "recurrence_plot")

    @property
    def runs(self) -> tuple[RunKey, ...]:
        """Every run: variants x folds x seeds (variant-major order)."""
        return tuple(
            RunKey(variant, fold_key, fold, seed_key, seed)
            for variant in self.variants
            for fold_key, fold in self.folds
            for seed_key, seed in self.seeds
        )

    @property
    def reference_run(self) -> RunKey | None:
        """The reference variant's first fold and first seed, or None."""
        if self.reference_variant is None or not self.folds or not self.seeds:
            return None
        (fold_key, fold), (seed_key, seed) = self.folds[0], self.seeds[0]
        return RunKey(self.reference_variant, fold_key, fold, seed_key, seed)


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"protocol: {kind} name {name!r} must be an identifier (letters, digits, '_'; no dots)")
    if name in RESERVED:
        raise ValueError(f"protocol: {kind} name {name!r} is reserved ({sorted(RESERVED)})")
    return name


def _int_mapping(kind: str, value: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"protocol.{kind} must be a non-empty mapping name -> int, got {value!r}")
    items = []
    for name, number in value.items():
        _check_name(kind[:-1], name)
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"protocol.{kind}.{name} must be an int, got {number!r}")
        items.append((name, int(number)))
    numbers = [n for _, n in items]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"protocol.{kind} values must be distinct, got {numbers}")
    return tuple(items)


def check_variant(name: str, variant: Mapping[str, Any]) -> None:
    """Validate one ``protocol_variants`` entry (known keys, ``model.name``, ``extra`` switch).

    Raises:
        ValueError: naming the variant and the offending key.
    """
    _check_name("variant", name)
    if not isinstance(variant, Mapping):
        raise ValueError(f"protocol_variants.{name} must be a mapping, got {variant!r}")
    unknown = sorted(set(variant) - _VARIANT_KEYS)
    if unknown:
        raise ValueError(f"protocol_variants.{name}: unknown key(s) {unknown}; allowed: {sorted(_VARIANT_KEYS)}")
    extra = variant.get("extra")
    if extra is not None and extra not in EXTRAS:
        raise ValueError(f"protocol_variants.{name}.extra must be one of {list(EXTRAS)}, got {extra!r}")
    for key in ("model", "loss_weighting", "training"):
        if variant.get(key) is not None and not isinstance(variant[key], Mapping):
            raise ValueError(f"protocol_variants.{name}.{key} must be a mapping, got {variant[key]!r}")


def parse_design(
    protocol: Mapping[str, Any],
    variants: Mapping[str, Mapping[str, Any]],
    n_folds: int | None = None,
    base_model: Mapping[str, Any] | None = None,
) -> ProtocolDesign:
    """Build the :class:`ProtocolDesign` from ``params:protocol`` and ``params:protocol_variants``.

    Args:
        protocol: ``folds``, ``seeds``, ``variants`` (None = all), ``extras``, ``reference_variant``.
        variants: the variant catalogue.
        n_folds: number of subject folds of the split; validation folds must lie in ``[0, n_folds)``.
        base_model: ``params:model`` (the architecture a variant without ``model.name`` keeps).

    Raises:
        ValueError: unknown variant/extra names, malformed folds/seeds, a fold outside the split.
    """
    for name, variant in variants.items():
        check_variant(name, variant)
    folds = _int_mapping("folds", protocol.get("folds"))
    seeds = _int_mapping("seeds", protocol.get("seeds"))
    clash = sorted({k for k, _ in folds} & (set(variants) | {k for k, _ in seeds}))
    if clash:
        raise ValueError(f"protocol: fold name(s) {clash} also name a variant or a seed; names must be distinct")
    if n_folds is not None:
        bad = [f"{k}={v}" for k, v in folds if not 0 <= v < n_folds]
        if bad:
            raise ValueError(f"protocol.folds {bad} outside the split's {n_folds} folds (split.n_folds)")
    extras = dict(protocol.get("extras") or {})
    unknown_extras = sorted(set(extras) - set(EXTRAS))
    if unknown_extras:
        raise ValueError(f"protocol.extras: unknown switch(es) {unknown_extras}; known: {list(EXTRAS)}")
    wanted = protocol.get("variants")
    if wanted is None:
        wanted = list(variants)
    unknown = sorted(set(wanted) - set(variants))
    if unknown:
        raise ValueError(f"protocol.variants names unknown variant(s) {unknown}; known: {list(variants)}")
    selected = tuple(
        name
        for name in variants
        if name in set(wanted) and (variants[name].get("extra") is None or bool(extras.get(variants[name]["extra"], False)))
    )
    if not selected:
        raise ValueError("protocol: no variant selected (check protocol.variants and protocol.extras)")
    reference = protocol.get("reference_variant")
    if reference is not None and reference not in variants:
        raise ValueError(f"protocol.reference_variant {reference!r} is not a variant; known: {list(variants)}")
    kinds = []
    for name in selected:
        model_name = resolve_model(base_model or {}, variants[name])["name"]
        if model_name is None:
            raise ValueError(f"protocol_variants.{name}: no model.name (and params:model has none)")
        kinds.append((name, model_input_kind(str(model_name))))
    return ProtocolDesign(folds, seeds, selected, reference if reference in selected else None, tuple(kinds))


def design_from_parameters(params: Mapping[str, Any]) -> ProtocolDesign:
    """:func:`parse_design` from the whole parameters mapping (``protocol``, ``protocol_variants``, ``split``)."""
    if "protocol" not in params or "protocol_variants" not in params:
        raise ValueError("parameters lack 'protocol' and/or 'protocol_variants' (conf/base/parameters_protocol.yml)")
    protocol = params["protocol"]
    split = deep_merge(params.get("split") or {}, (protocol.get("overrides") or {}).get("split") or {})
    n_folds = split.get("n_folds")
    return parse_design(
        protocol, params["protocol_variants"], int(n_folds) if n_folds is not None else None, params.get("model") or {}
    )


# ------------------------------------------------------------------------------------------------
# Configuration of one run
# ------------------------------------------------------------------------------------------------
def deep_merge(base: Mapping[str, Any], *overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Recursive dict merge: later mappings win; nested mappings merge, everything else is replaced.

    Inputs are not modified (the result holds deep copies).

    >>> deep_merge({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"d": 4}})
    {'a': 1, 'b': {'c': 2, 'd': 4}}
    """
    result: dict[str, Any] = copy.deepcopy(dict(base))
    for override in overrides:
        for key, value in (override or {}).items():
            if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
                result[key] = deep_merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def stage_parameters(base: Mapping[str, Any], overrides: Mapping[str, Any] | None, group: str) -> dict[str, Any]:
    """A stage parameter group with the protocol environment's override of it (``overrides[group]``)."""
    if group not in OVERRIDABLE:
        raise ValueError(f"protocol.overrides: unknown group {group!r}; allowed: {list(OVERRIDABLE)}")
    return deep_merge(base, (overrides or {}).get(group) or {})


def fold_split_parameters(split: Mapping[str, Any], overrides: Mapping[str, Any] | None, val_fold: int) -> dict[str, Any]:
    """``params:split`` for one fold: the protocol's split with ``val_fold`` set.

    ``test_seed`` defaults to the split ``seed`` so that every fold (and seed) shares one test set.
    """
    result = stage_parameters(split, overrides, "split")
    result["val_fold"] = int(val_fold)
    if result.get("test_seed") is None:
        result["test_seed"] = result.get("seed")
    return result


def _section(variant: Mapping[str, Any], key: str) -> dict[str, Any]:
    return dict(variant.get(key) or {})


def resolve_model(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """``params:model`` of a run: the variant's model on top of the stage's.

    ``options`` are kept from the stage only when the variant keeps the stage's architecture
    (``name``); a different architecture starts from empty options (MobileNetV2's ``bottlenecks`` mean
    nothing to an LSTM). ``tasks`` are replaced, never merged.
    """
    override = _section(variant, "model")
    name = override.get("name", base.get("name"))
    options = dict(base.get("options") or {}) if name == base.get("name") else {}
    options = deep_merge(options, override.get("options") or {})
    tasks = override.get("tasks", base.get("tasks"))
    return {"name": name, "options": options, "tasks": list(tasks) if tasks is not None else None}


def resolve_loss_weighting(base: Mapping[str, Any], variant: Mapping[str, Any]) -> dict[str, Any]:
    """``params:loss_weighting`` of a run; ``options`` carry over only when the method is unchanged."""
    override = _section(variant, "loss_weighting")
    method = override.get("method", base.get("method"))
    options = dict(base.get("options") or {}) if method == base.get("method") else {}
    return {"method": method, "options": deep_merge(options, override.get("options") or {})}


def resolve_training(base: Mapping[str, Any], overrides: Mapping[str, Any] | None, variant: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """``params:training`` of a run: stage -> protocol override -> variant, with the run's ``seed``."""
    result = deep_merge(stage_parameters(base, overrides, "training"), _section(variant, "training"))
    result["seed"] = int(seed)
    return result


def run_tags(variant: Mapping[str, Any], model: Mapping[str, Any], loss_weighting: Mapping[str, Any], training: Mapping[str, Any]) -> dict[str, str]:
    """Short descriptive tags of a run (for the runs table and MLflow's compare view)."""
    tasks = list(model.get("tasks") or [])
    return {
        "label": str(variant.get("label", "")),
        "model": str(model.get("name")),
        "tasks": "+".join(tasks),
        "mtl": str(len(tasks) > 1).lower(),
        "loss": str(loss_weighting.get("method")),
        "optimizer": str(training.get("optimizer", "")),
        "ema_teacher": str(training.get("ema_teacher") is not None).lower(),
        "extra": str(variant.get("extra") or ""),
    }


def flatten(mapping: Mapping[str, Any], prefix: str = "", sep: str = ".") -> dict[str, Any]:
    """Nested mapping -> flat ``{"a.b.c": value}`` (lists stay values)."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name, sep))
        else:
            flat[name] = value
    return flat
