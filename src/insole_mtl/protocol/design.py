"""The paper's experimental protocol as data: variants x validation folds x seeds (SPEC §2, §8).

A *variant* is one model configuration of a paper table (MTL MobileNetV2 with uncertainty weighting,
single-task LSTM for speed, MTL MobileNetV2 trained with Adam, ...). A *run* is one variant trained
with one validation fold and one seed and scored on the shared test set; the paper reports the mean
and standard deviation over 5 folds x 5 seeds = 25 runs per variant.

The *topology* of a protocol (which variants, fold keys and seed keys; one Kedro namespace per run) is a
:class:`ProtocolDesign` fixed in code, one per registered pipeline (:data:`DESIGNS`): Kedro builds
pipelines before it reads any configuration, so a topology that depended on the environment would need
global state or a hook that rebuilds pipelines. The *values* are parameters of the environment and are
checked against the design when the pipeline runs (:func:`check_parameters`)::

    protocol:
      folds: {fold_0: 0, ...}        # fold key -> index of the validation fold (split.n_folds folds)
      seeds: {seed_0: 0, ...}        # seed key -> training seed
      overrides: {windowing: {}, split: {}, oversampling: {}, recurrence: {}, model: {}, training: {}, evaluation: {}}
      efficiency: {...}
    protocol_variants:
      <name>: {label, model: {name, tasks, options}, loss_weighting: {method, options}, training: {...}, extra}

Everything here is plain Python; :mod:`insole_mtl.pipelines.protocol` instantiates one namespaced
template per :class:`RunKey`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from insole_mtl.models import model_input_kind

#: What an ``extra`` variant adds to the paper (a descriptive tag of its runs).
EXTRAS: tuple[str, ...] = ("adam_vs_adamw", "ema_self_distillation", "lion")
#: Stage parameter groups a protocol environment may override for every run.
OVERRIDABLE: tuple[str, ...] = ("windowing", "split", "oversampling", "recurrence", "model", "training", "evaluation")
#: Keys of ``params:protocol``.
PROTOCOL_KEYS: tuple[str, ...] = ("folds", "seeds", "overrides", "efficiency")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: Names used by the protocol's own datasets and namespaces (``protocol.test.*``, ``protocol.reports.*``...).
RESERVED: frozenset[str] = frozenset(
    {"test", "reports", "windows", "window_labels", "windowing", "drop_report", "evaluation", "summary_metrics", "test_embedding",
     "run_defaults", "tasks", "channels", "recurrence_config", "oversampling_config", "encoding_model"}
)  # fmt: skip
_VARIANT_KEYS = {"label", "model", "loss_weighting", "training", "extra"}


def _check_name(kind: str, name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"protocol: {kind} name {name!r} must be an identifier (letters, digits, '_'; no dots)")
    if name in RESERVED:
        raise ValueError(f"protocol: {kind} name {name!r} is reserved ({sorted(RESERVED)})")
    return name


@dataclass(frozen=True)
class RunKey:
    """One run of the protocol: ``variant`` trained with validation fold ``fold_key`` and seed ``seed_key``.

    The keys name the Kedro namespace ``protocol.<variant>.<fold_key>.<seed_key>``; their values are
    ``protocol.folds.<fold_key>`` / ``protocol.seeds.<seed_key>`` of the environment.
    """

    variant: str
    fold_key: str
    seed_key: str

    @property
    def name(self) -> str:
        """``<variant>.<fold_key>.<seed_key>`` (unique within a protocol)."""
        return f"{self.variant}.{self.fold_key}.{self.seed_key}"


@dataclass(frozen=True)
class ProtocolDesign:
    """Which runs a protocol pipeline makes (its topology).

    Attributes:
        variants: variant names (``protocol_variants`` entries), in table order.
        folds: fold keys (``protocol.folds``), seeds: seed keys (``protocol.seeds``).
        reference_variant: the variant whose first run feeds the embedding analysis (None: no t-SNE).
    """

    variants: tuple[str, ...]
    folds: tuple[str, ...]
    seeds: tuple[str, ...]
    reference_variant: str | None = None

    def __post_init__(self) -> None:
        for kind, names in (("variant", self.variants), ("fold", self.folds), ("seed", self.seeds)):
            if not names:
                raise ValueError(f"protocol design: no {kind}")
            for name in names:
                _check_name(kind, name)
            if len(set(names)) != len(names):
                raise ValueError(f"protocol design: duplicate {kind} names {list(names)}")
        clash = sorted(set(self.folds) & (set(self.variants) | set(self.seeds)))
        if clash:
            raise ValueError(f"protocol design: fold name(s) {clash} also name a variant or a seed; names must be distinct")
        if self.reference_variant is not None and self.reference_variant not in self.variants:
            raise ValueError(f"protocol design: reference variant {self.reference_variant!r} is not one of {list(self.variants)}")

    @property
    def runs(self) -> tuple[RunKey, ...]:
        """Every run: variants x folds x seeds (variant-major order)."""
        return tuple(RunKey(v, f, s) for v in self.variants for f in self.folds for s in self.seeds)

    @property
    def reference_run(self) -> RunKey | None:
        """The reference variant's first fold and first seed, or None."""
        if self.reference_variant is None:
            return None
        return RunKey(self.reference_variant, self.folds[0], self.seeds[0])


_PAPER_TABLES = (
    "mtl_mobilenetv2", "mtl_mobilenetv2_uniform", "mtl_mobilenetv2_rlw", "mtl_mobilenetv2_dwa",
    "mtl_mobilenetv2_b3", "mtl_mobilenetv2_b5",
    "st_mobilenetv2_activity", "st_mobilenetv2_speed", "st_mobilenetv2_weight",
    "mtl_lstm", "mtl_gru", "mtl_cnn1d",
    "st_lstm_activity", "st_lstm_speed", "st_lstm_weight", "st_gru_activity", "st_gru_speed", "st_gru_weight",
    "mtl_mobilenetv2_adam",
)  # fmt: skip
_FIVE_FOLDS = tuple(f"fold_{k}" for k in range(5))
_FIVE_SEEDS = tuple(f"seed_{k}" for k in range(5))

#: The registered protocol pipelines and their topology (``kedro run --pipeline=<name> --env=<env>``).
DESIGNS: dict[str, ProtocolDesign] = {
    # a few variants that fill every table, 2 folds x 1 seed: the base and test environments, CI on a CPU
    "insole_mtl_protocol": ProtocolDesign(
        variants=(
            "mtl_mobilenetv2", "mtl_mobilenetv2_uniform", "mtl_mobilenetv2_b3",
            "st_mobilenetv2_activity", "st_mobilenetv2_speed", "st_mobilenetv2_weight",
            "mtl_lstm", "mtl_cnn1d", "mtl_mobilenetv2_adam",
        ),
        folds=("fold_0", "fold_1"),
        seeds=("seed_0",),
        reference_variant="mtl_mobilenetv2",
    ),  # fmt: skip
    # the paper: every table row (and Adam vs AdamW, Table VI), 5 validation folds x 5 seeds (conf/paper, a GPU)
    "insole_mtl_protocol_paper": ProtocolDesign(_PAPER_TABLES, _FIVE_FOLDS, _FIVE_SEEDS, "mtl_mobilenetv2"),
    # our additions beside the paper's model: EMA self-distillation (paper 001) and Lion (paper 003)
    "insole_mtl_protocol_extras": ProtocolDesign(
        ("mtl_mobilenetv2", "mtl_mobilenetv2_ema", "mtl_mobilenetv2_lion"), _FIVE_FOLDS, _FIVE_SEEDS, None
    ),
}


def _int_values(kind: str, value: object, keys: tuple[str, ...]) -> dict[str, int]:
    """``protocol.<kind>`` restricted to the design's ``keys``: every key present, int values, distinct."""
    if not isinstance(value, Mapping):
        raise ValueError(f"protocol.{kind} must be a mapping name -> int, got {value!r}")
    missing = [key for key in keys if key not in value]
    if missing:
        raise ValueError(f"protocol.{kind} lacks {missing}: the pipeline's design runs {list(keys)}")
    items = {}
    for name in keys:
        number = value[name]
        if isinstance(number, bool) or not isinstance(number, int):
            raise ValueError(f"protocol.{kind}.{name} must be an int, got {number!r}")
        items[name] = int(number)
    if len(set(items.values())) != len(items):
        raise ValueError(f"protocol.{kind} values must be distinct, got {list(items.values())}")
    return items


def check_variant(name: str, variant: Mapping[str, Any]) -> None:
    """Validate one ``protocol_variants`` entry (known keys, ``model.name``, ``extra`` tag).

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


def check_parameters(
    design: ProtocolDesign,
    protocol: Mapping[str, Any],
    variants: Mapping[str, Mapping[str, Any]],
    n_folds: int | None = None,
    base_model: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Check that the environment's ``params:protocol`` and ``params:protocol_variants`` give every run of
    ``design`` its values.

    Args:
        design: the pipeline's topology.
        protocol: ``folds``, ``seeds``, ``overrides``, ``efficiency``.
        variants: the variant catalogue (may hold more variants than the design runs).
        n_folds: number of subject folds of the split; validation folds must lie in ``[0, n_folds)``.
        base_model: ``params:model`` (the architecture a variant without ``model.name`` keeps).

    Returns:
        variant -> what its model reads (``"recurrence_plot"`` or ``"raw"``), for the design's variants.

    Raises:
        ValueError: an unknown key, a fold/seed/variant of the design without its value, a fold outside the split.
    """
    unknown_keys = sorted(set(protocol) - set(PROTOCOL_KEYS))
    if unknown_keys:
        raise ValueError(f"protocol: unknown key(s) {unknown_keys}; allowed: {list(PROTOCOL_KEYS)}")
    unknown_groups = sorted(set(protocol.get("overrides") or {}) - set(OVERRIDABLE))
    if unknown_groups:
        raise ValueError(f"protocol.overrides: unknown group(s) {unknown_groups}; allowed: {list(OVERRIDABLE)}")
    folds = _int_values("folds", protocol.get("folds"), design.folds)
    _int_values("seeds", protocol.get("seeds"), design.seeds)
    if n_folds is not None:
        bad = [f"{k}={v}" for k, v in folds.items() if not 0 <= v < n_folds]
        if bad:
            raise ValueError(f"protocol.folds {bad} outside the split's {n_folds} folds (split.n_folds)")
    missing = [name for name in design.variants if name not in variants]
    if missing:
        raise ValueError(f"protocol_variants lacks {missing}: the pipeline's design runs {list(design.variants)}")
    kinds = {}
    for name in design.variants:
        check_variant(name, variants[name])
        model_name = resolve_model(base_model or {}, variants[name])["name"]
        if model_name is None:
            raise ValueError(f"protocol_variants.{name}: no model.name (and params:model has none)")
        kinds[name] = model_input_kind(str(model_name))
    return kinds


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
