import re

import pytest

from insole_mtl.models import TaskSpec
from insole_mtl.tasks import task_specs

TASKS = {
    "activity": {"kind": "classification", "classes": ["a", "b", "c"]},
    "speed": {"kind": "regression"},
}


def test_task_specs_in_selected_order():
    assert task_specs(TASKS, ["speed", "activity"]) == [
        TaskSpec("speed", "regression", 1),
        TaskSpec("activity", "classification", 3),
    ]
    assert [s.name for s in task_specs(TASKS)] == ["activity", "speed"]


def test_task_specs_errors():
    with pytest.raises(ValueError, match=re.escape("model.tasks names unknown task(s) ['weight']")):
        task_specs(TASKS, ["weight"])
    with pytest.raises(ValueError, match=re.escape("tasks.x.kind must be 'classification' or 'regression', got None")):
        task_specs({"x": {}})
    with pytest.raises(ValueError, match="needs a non-empty 'classes' list"):
        task_specs({"x": {"kind": "classification"}})
