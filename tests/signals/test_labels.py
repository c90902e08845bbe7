from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.labels import PAPER_ACTIVITY_CLASSES, label_recordings, paper_task_config


@pytest.fixture
def index():
    return pd.DataFrame(
        {
            "recording": ["r01", "r03", "r09", "r12", "r17"],
            "subject": ["s1", "s1", "s2", "s2", "s1"],
            "experiment": np.array([1, 3, 9, 12, 17], dtype=np.int64),
            "speed_mps": [0.0, 1.0, 2.0, np.nan, 0.5],
        }
    )


@pytest.fixture
def subjects():
    return pd.DataFrame({"subject": ["s1", "s2"], "weight_kg": [70.5, 81.0], "sex": ["f", "m"]})


def test_paper_config_table_one(index, subjects):
    cfg = paper_task_config()
    assert cfg["activity"]["classes"] == list(PAPER_ACTIVITY_CLASSES) and len(PAPER_ACTIVITY_CLASSES) == 7
    act = cfg["activity"]["values"]
    assert [act[e] for e in range(1, 17)] == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6]
    assert cfg["speed"]["values"] == {
        1: 0.0, 2: 0.0, 3: 3.0, 4: 3.5, 5: 4.0, 6: 4.5, 7: 5.0, 8: 5.5, 9: 7.0, 10: 7.5, 11: 8.0,
    }  # fmt: skip
    assert cfg["weight"] == {"from": "subject", "column": "weight_kg", "experiments": [9, 10, 11], "unit": "kg"}

    labels, report = label_recordings(index, subjects, cfg)
    assert labels["recording"].tolist() == ["r01", "r03", "r09", "r12"]
    assert labels["activity"].tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(labels["speed"].to_numpy(), [0.0, 3.0, 7.0, np.nan])
    np.testing.assert_array_equal(labels["weight"].to_numpy(), [np.nan, np.nan, 81.0, np.nan])
    assert list(labels.columns) == ["recording", "subject", "experiment", "activity", "speed", "weight"]
    assert str(labels["activity"].dtype) == "int64" and str(labels["experiment"].dtype) == "int64"
    # EXP17 is not in Table I: excluded and counted, never silently
    assert report.to_dict("records") == [
        {"stage": "labels", "item": "r17", "reason": "activity: no label for experiment 17 (recording excluded)", "count": 1}
    ]


def test_recording_source_with_filter_scale_and_string_keys(index, subjects):
    tasks = {
        "activity": {"from": "experiment", "values": {"1": 0, "3": 1, "9": 1, "12": 0, "17": 1}, "classes": ["a", "b"]},
        "speed": {"from": "recording", "column": "speed_mps", "experiments": [1, 3, 12], "scale": 3.6},
    }
    labels, report = label_recordings(index, subjects, tasks)
    assert len(labels) == 5
    np.testing.assert_allclose(labels["speed"].to_numpy(), [0.0, 3.6, np.nan, np.nan, np.nan])
    assert labels["weight"].isna().all()  # task not configured -> masked everywhere
    # r12 should carry a speed (experiment 12 listed) but the source has NaN: masked and reported
    assert report[["item", "reason"]].to_dict("records") == [
        {"item": "r12", "reason": "speed: label missing in source for experiment 12 (task masked)"}
    ]


def test_subject_source_for_classification(index, subjects):
    subjects = subjects.assign(group=[1, 0])
    tasks = {"activity": {"from": "subject", "column": "group", "classes": ["control", "patient"]}}
    labels, _ = label_recordings(index, subjects, tasks)
    assert labels["activity"].tolist() == [1, 1, 0, 0, 1]


def test_invalid_class_index(index, subjects):
    tasks = {"activity": {"from": "experiment", "values": {1: 0, 3: 2}, "classes": ["a", "b"]}}
    with pytest.raises(ValueError, match=re.escape("tasks.activity: recording 'r03' gets label 2.0; expected a class index 0..1")):
        label_recordings(index, subjects, tasks)
    tasks = {"activity": {"from": "experiment", "values": {1: 0.5}, "classes": ["a", "b"]}}
    with pytest.raises(ValueError, match="gets label 0.5"):
        label_recordings(index, subjects, tasks)


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ({"speed": {"from": "experiment", "values": {1: 0}}}, "the 'activity' task is required"),
        ({"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"]}, "age": {}}, "unknown task name(s) ['age']"),
        ({"activity": {"from": "experiment", "values": {1: 0}}}, "tasks.activity.classes: expected a non-empty list"),
        ({"activity": {"from": "session", "classes": ["a"]}}, "tasks.activity.from: got 'session'"),
        (
            {"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"], "experiment": [1]}},
            "tasks.activity: unknown key(s) ['experiment'] for from: experiment",
        ),
        (
            {"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"]}, "weight": {"from": "subject", "column": "mass"}},
            "tasks.weight: column 'mass' not in raw_subjects",
        ),
        (
            {"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"]}, "speed": {"from": "recording", "column": "v"}},
            "tasks.speed: column 'v' not in raw_recording_index",
        ),
        (
            {"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"]}, "weight": {"from": "subject", "column": "sex"}},
            "tasks.weight: column 'sex' of raw_subjects is not numeric",
        ),
        ({"activity": {"from": "experiment", "values": {"one": 0}, "classes": ["a"]}}, "key 'one' is not an experiment number"),
        (
            {"activity": {"from": "experiment", "values": {1: 0}, "classes": ["a"], "scale": 2}},
            "'scale' is not allowed on a classification task",
        ),
    ],
)
def test_config_errors(index, subjects, tasks, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        label_recordings(index, subjects, tasks)


def test_deterministic_and_input_untouched(index, subjects):
    before = index.copy()
    a = label_recordings(index, subjects, paper_task_config())
    b = label_recordings(index, subjects, paper_task_config())
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(index, before)
