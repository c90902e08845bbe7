"""Build model task specs from the ``tasks`` configuration (parameters_ingest.yml)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from insole_mtl.models import TaskSpec


def task_specs(tasks: Mapping[str, Mapping[str, Any]], selected: Sequence[str] | None = None) -> list[TaskSpec]:
    """Return one :class:`TaskSpec` per selected task, in the order given.

    Args:
        tasks: ``params:tasks`` — per task ``kind`` (classification/regression) and, for classification, ``classes``.
        selected: task names the model predicts (``params:model.tasks``); ``None`` = every configured task.

    Raises:
        ValueError: a selected task is not configured, or a task lacks ``kind``/``classes``.
    """
    names = list(tasks) if selected is None else list(selected)
    unknown = [name for name in names if name not in tasks]
    if unknown:
        raise ValueError(f"model.tasks names unknown task(s) {unknown}; configured tasks are {sorted(tasks)}")
    specs = []
    for name in names:
        config = tasks[name]
        kind = config.get("kind")
        if kind == "classification":
            classes = config.get("classes")
            if not classes:
                raise ValueError(f"tasks.{name}: a classification task needs a non-empty 'classes' list")
            specs.append(TaskSpec(name, kind, len(classes)))
        elif kind == "regression":
            specs.append(TaskSpec(name, kind, 1))
        else:
            raise ValueError(f"tasks.{name}.kind must be 'classification' or 'regression', got {kind!r}")
    return specs
