"""Per-recording task labels from a configuration mapping (one code path for every source).

A task configuration says where a task's label comes from:

``{from: experiment, values: {1: 0, 2: 0, 3: 1, ...}}``
    Look the recording's experiment up in ``values``; experiments not listed get NaN (the task
    is masked for that recording).
``{from: subject, column: weight_kg, experiments: [9, 10, 11]}``
    Read ``column`` of the subjects table for the recording's subject; ``experiments`` (optional)
    restricts the task to those experiments (others get NaN).
``{from: recording, column: speed_mps}``
    Read ``column`` of the recording index; optional ``experiments`` filter as above.

Optional keys for every task: ``classes`` (list of class names: the task is a classification
and each value must be a class index ``0 <= v < len(classes)``; a text column may also hold the
class names themselves, matched case- and space-insensitively, e.g. ``PD``/``Control``), ``scale`` (float multiplier,
e.g. 3.6 for m/s to km/h) and ``unit`` (str, documentation only). The ``activity`` task is
required and must be a classification: a recording without an activity label is excluded and
counted in the drop report; missing regression labels only mask the task (also reported).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl import schema
from insole_mtl.signals.validation import drop_report

logger = logging.getLogger(__name__)

STAGE = "labels"
LABEL_COLUMNS: tuple[str, ...] = ("recording", "subject", "experiment", *schema.TASKS)
_SOURCES = ("experiment", "subject", "recording")
_ALLOWED_KEYS = {
    # ``kind`` is read by insole_mtl.tasks (model heads); labels infer it from ``classes``.
    "experiment": {"kind", "from", "values", "classes", "scale", "unit"},
    "subject": {"kind", "from", "column", "experiments", "classes", "scale", "unit"},
    "recording": {"kind", "from", "column", "experiments", "classes", "scale", "unit"},
}

PAPER_ACTIVITY_CLASSES: tuple[str, ...] = (
    "Stand Still", "Treadmill Walk", "Treadmill Run", "Ground Walk", "Squat", "Lunge", "Jumping Jack",
)  # fmt: skip


def paper_task_config() -> dict[str, dict[str, Any]]:
    """Task configuration of the paper's Table I.

    Returns:
        ``activity``: 7 classes from the experiment (EXP01-02 stand still, 03-08 treadmill walk,
        09-11 treadmill run, 12-13 ground walk, 14 squat, 15 lunge, 16 jumping jack);
        ``speed``: treadmill speed in km/h for EXP01-11 (0 for the standing EXP01-02);
        ``weight``: ``subjects.weight_kg`` for the running experiments EXP09-11 only.
    """
    activity = {1: 0, 2: 0, **{e: 1 for e in range(3, 9)}, 9: 2, 10: 2, 11: 2, 12: 3, 13: 3, 14: 4, 15: 5, 16: 6}
    speed = {1: 0.0, 2: 0.0, 3: 3.0, 4: 3.5, 5: 4.0, 6: 4.5, 7: 5.0, 8: 5.5, 9: 7.0, 10: 7.5, 11: 8.0}
    return {
        "activity": {"from": "experiment", "values": activity, "classes": list(PAPER_ACTIVITY_CLASSES)},
        "speed": {"from": "experiment", "values": speed, "unit": "km/h"},
        "weight": {"from": "subject", "column": "weight_kg", "experiments": [9, 10, 11], "unit": "kg"},
    }


def _as_int_key(key: object, task: str) -> int:
    """YAML may give experiment keys as ints or strings ("1"); accept both, nothing else."""
    try:
        value = int(str(key).strip())
    except ValueError:
        raise ValueError(f"tasks.{task}.values: key {key!r} is not an experiment number; expected integer keys") from None
    return value


def _experiment_filter(cfg: Mapping[str, Any], task: str) -> set[int] | None:
    if "experiments" not in cfg or cfg["experiments"] is None:
        return None
    experiments = cfg["experiments"]
    if isinstance(experiments, (str, bytes)) or not hasattr(experiments, "__iter__"):
        raise ValueError(f"tasks.{task}.experiments: expected a list of experiment numbers, got {experiments!r}")
    return {_as_int_key(e, task) for e in experiments}


def _task_values(
    task: str, cfg: Mapping[str, Any], index: pd.DataFrame, subjects: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Raw float64 label per recording for one task, and a bool mask "task applies here".

    The mask is True where the configuration says the recording should carry the label (its
    experiment is listed / passes the filter); a NaN value under a True mask is a missing label.
    """
    if not isinstance(cfg, Mapping):
        raise ValueError(f"tasks.{task}: expected a mapping with a 'from' key, got {cfg!r}")
    source = cfg.get("from")
    if source not in _SOURCES:
        raise ValueError(f"tasks.{task}.from: got {source!r}; expected one of {list(_SOURCES)}")
    unknown = sorted(set(cfg) - _ALLOWED_KEYS[source])
    if unknown:
        raise ValueError(f"tasks.{task}: unknown key(s) {unknown} for from: {source}; allowed: {sorted(_ALLOWED_KEYS[source])}")

    experiments = index[schema.EXPERIMENT].to_numpy(dtype=np.int64)
    if source == "experiment":
        mapping = cfg.get("values")
        if not isinstance(mapping, Mapping) or not mapping:
            raise ValueError(f"tasks.{task}.values: expected a non-empty mapping experiment -> value, got {mapping!r}")
        table: dict[int, float] = {}
        for key, value in mapping.items():
            experiment = _as_int_key(key, task)
            try:
                table[experiment] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"tasks.{task}.values[{key!r}]: value {value!r} is not a number") from None
        applies = np.isin(experiments, list(table))
        values = np.array([table.get(int(e), np.nan) for e in experiments], dtype=np.float64)
        return values, applies

    column = cfg.get("column")
    if not isinstance(column, str):
        raise ValueError(f"tasks.{task}.column: expected a column name for from: {source}, got {column!r}")
    if source == "subject":
        if column not in subjects.columns:
            raise ValueError(f"tasks.{task}: column {column!r} not in raw_subjects; present: {list(subjects.columns)}")
        lookup = subjects.set_index(schema.SUBJECT)[column]
        raw = index[schema.SUBJECT].map(lookup)
        table_name = "raw_subjects"
    else:
        if column not in index.columns:
            raise ValueError(f"tasks.{task}: column {column!r} not in raw_recording_index; present: {list(index.columns)}")
        raw = index[column]
        table_name = "raw_recording_index"
    if cfg.get("classes") and not pd.api.types.is_numeric_dtype(raw.dtype):
        values = _class_indices(raw, list(cfg["classes"]), task, column, table_name, index)
    else:
        try:
            values = pd.to_numeric(raw, errors="raise").to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"tasks.{task}: column {column!r} of {table_name} is not numeric (dtype {raw.dtype})") from None
    allowed = _experiment_filter(cfg, task)
    applies = np.ones(len(index), dtype=bool) if allowed is None else np.isin(experiments, sorted(allowed))
    return np.where(applies, values, np.nan), applies


def _class_key(text: object) -> str:
    return "".join(str(text).lower().split())


def _class_indices(
    raw: pd.Series, classes: list[str], task: str, column: str, table_name: str, index: pd.DataFrame
) -> np.ndarray:
    """Text labels -> class index: a class name (case/space-insensitive) or a number; empty/NaN -> NaN."""
    lookup = {_class_key(name): float(i) for i, name in enumerate(classes)}
    out = np.full(len(raw), np.nan)
    for i, value in enumerate(raw.to_numpy(dtype=object)):
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue
        key = _class_key(value)
        if key in lookup:
            out[i] = lookup[key]
            continue
        try:
            out[i] = float(str(value))
        except ValueError:
            raise ValueError(
                f"tasks.{task}: column {column!r} of {table_name} has {value!r} for recording "
                f"{index[schema.RECORDING].iloc[i]!r}; expected a class name of {classes} or a class index"
            ) from None
    return out


def _check_classes(task: str, cfg: Mapping[str, Any], values: np.ndarray, recordings: np.ndarray) -> None:
    classes = cfg.get("classes")
    if not isinstance(classes, (list, tuple)) or not classes:
        raise ValueError(f"tasks.{task}.classes: expected a non-empty list of class names, got {classes!r}")
    present = ~np.isnan(values)
    valid = (values == np.round(values)) & (values >= 0) & (values < len(classes))
    bad = np.flatnonzero(present & ~valid)
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"tasks.{task}: recording {recordings[i]!r} gets label {float(values[i])!r}; expected a class index "
            f"0..{len(classes) - 1} (classes {list(classes)})"
        )


def label_recordings(
    recording_index: pd.DataFrame,
    subjects: pd.DataFrame,
    tasks: Mapping[str, Mapping[str, Any]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Give every recording its task labels according to the task configuration.

    Args:
        recording_index: ``raw_recording_index`` (``recording``, ``subject``, ``experiment`` and
            any per-recording label columns a task reads).
        subjects: ``raw_subjects`` (``subject`` and per-subject columns such as ``weight_kg``).
        tasks: Task name -> task configuration (see the module docstring). Names must be among
            :data:`insole_mtl.schema.TASKS`; ``activity`` is required and needs ``classes``.
            Tasks left out (e.g. a single-task setup) get an all-NaN column.

    Returns:
        ``labels``: one row per labelled recording, in index order, columns ``recording`` (str),
        ``subject`` (str), ``experiment`` (int64), ``activity`` (int64 class index),
        ``speed`` (float64, NaN = masked), ``weight`` (float64, NaN = masked); values multiplied
        by the task's ``scale`` when given.
        ``drop_report``: ``stage, item, reason, count``; one row per recording excluded for a
        missing activity label (count 1) and one per recording whose regression label should
        exist but is missing in the source (masked, not excluded; count 1).

    Raises:
        ValueError: On an unknown task name, a malformed task config, a missing column, or an
            activity value that is not a valid class index.
    """
    unknown = sorted(set(tasks) - set(schema.TASKS))
    if unknown:
        raise ValueError(f"tasks: unknown task name(s) {unknown}; expected a subset of {list(schema.TASKS)}")
    if "activity" not in tasks:
        raise ValueError("tasks: the 'activity' task is required (it decides which recordings are kept)")
    for column in (schema.RECORDING, schema.SUBJECT, schema.EXPERIMENT):
        if column not in recording_index.columns:
            raise ValueError(f"raw_recording_index: missing required column {column!r}")
    if schema.SUBJECT not in subjects.columns:
        raise ValueError(f"raw_subjects: missing required column {schema.SUBJECT!r}")

    index = recording_index.reset_index(drop=True)
    recordings = index[schema.RECORDING].astype(str).to_numpy()
    experiments = index[schema.EXPERIMENT].to_numpy(dtype=np.int64)
    out = pd.DataFrame(
        {
            "recording": index[schema.RECORDING].astype("str"),
            "subject": index[schema.SUBJECT].astype("str"),
            "experiment": experiments,
        }
    )
    report: list[dict[str, object]] = []
    for task in schema.TASKS:
        if task not in tasks:
            out[task] = np.nan
            continue
        cfg = tasks[task]
        values, applies = _task_values(task, cfg, index, subjects)
        if "classes" in cfg or task == "activity":
            if "scale" in cfg:
                raise ValueError(f"tasks.{task}: 'scale' is not allowed on a classification task (it has 'classes')")
            _check_classes(task, cfg, values, recordings)
        elif "scale" in cfg:
            scale = float(cfg["scale"])
            if not math.isfinite(scale):
                raise ValueError(f"tasks.{task}.scale: got {cfg['scale']!r}; expected a finite number")
            values = values * scale
        if task != "activity":
            for i in np.flatnonzero(applies & np.isnan(values)):
                report.append(
                    {
                        "stage": STAGE,
                        "item": recordings[i],
                        "reason": f"{task}: label missing in source for experiment {experiments[i]} (task masked)",
                        "count": 1,
                    }
                )
        out[task] = values

    no_activity = out["activity"].isna().to_numpy()
    for i in np.flatnonzero(no_activity):
        report.append(
            {
                "stage": STAGE,
                "item": recordings[i],
                "reason": f"activity: no label for experiment {experiments[i]} (recording excluded)",
                "count": 1,
            }
        )
    labels = out.loc[~no_activity].reset_index(drop=True)
    labels = labels.astype({"activity": "int64", "speed": "float64", "weight": "float64"})
    if no_activity.any():
        logger.warning("label_recordings: %d recording(s) without an activity label excluded", int(no_activity.sum()))
    logger.info("label_recordings: %d recording(s) labelled", len(labels))
    return labels[list(LABEL_COLUMNS)], drop_report(report)
