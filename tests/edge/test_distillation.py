"""Distillation: the student matches the teacher's contract, learns from it, and goes through the edge export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from insole_mtl import inference
from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.distillation import distillation_table, make_student, train_student

from inference._model import CLASSES, small_model, windows


def _labels(n, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"activity": rng.integers(0, 7, n), "speed": rng.uniform(0, 8, n), "weight": np.where(rng.random(n) < 0.5, rng.uniform(50, 90, n), np.nan)})


def test_student_is_smaller_reads_coarser_plots_and_keeps_the_teachers_scaling():
    teacher = small_model()
    student = make_student(teacher)
    assert sum(p.numel() for p in student.parameters()) < 0.8 * sum(p.numel() for p in teacher.parameters())
    assert student.preprocessing["recurrence"]["resolution"] == 20 and student.preprocessing["channels"] == teacher.preprocessing["channels"]
    assert student.target_scaling_of("weight") == teacher.target_scaling_of("weight")
    pre = inference.model_preprocessing(student, 40.0)
    assert inference.model_inputs(windows(2), pre)[0].shape == (2, 14, 20, 20)


def test_a_students_initial_weights_depend_on_its_seed_only():
    teacher = small_model()
    torch.manual_seed(123)
    first = make_student(teacher).state_dict()
    torch.rand(7)  # the caller's RNG moves on: the next student must not notice
    second, other = make_student(teacher).state_dict(), make_student(teacher, seed=1).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_distillation_pulls_the_student_towards_the_teacher():
    teacher = small_model(seed=1)
    for head in teacher.heads.values():
        head.weight.data.mul_(10.0)
    w, labels = windows(64, seed=3), _labels(64)
    with torch.no_grad():
        target = inference.predict_windows(teacher, w, inference.model_preprocessing(teacher, 40.0))

    def agreement(alpha):
        student = train_student(teacher, make_student(teacher), w, labels, alpha=alpha, epochs=6, seed=0)
        out = inference.predict_windows(student, w, inference.model_preprocessing(student, 40.0))
        return float(np.abs(out["activity_proba"] - target["activity_proba"]).mean()), float(np.abs(out["speed"] - target["speed"]).mean())

    distilled, control = agreement(0.9), agreement(0.0)
    assert distilled[0] < 0.7 * control[0]  # random labels: only the distilled student follows the teacher's probabilities
    assert distilled[1] < 0.7 * control[1]  # ... and its speed outputs


def test_table_has_every_model_and_the_edge_export_works_for_the_student():
    teacher = small_model()
    student = make_student(teacher)
    table = distillation_table({"teacher": teacher, "student": student}, windows(8), _labels(8), CLASSES, repeats=5)
    assert list(table["model"]) == ["teacher", "student"]
    assert {"parameters", "onnx_bytes", "latency_ms_bs1", "activity_accuracy", "speed_mae", "weight_mae"} <= set(table.columns)
    assert table.loc[1, "onnx_bytes"] < table.loc[0, "onnx_bytes"]
    outputs = rw.run_raw(rw.edge_session(rw.export_raw_window_onnx(student)), windows(4))
    np.testing.assert_allclose(
        outputs["speed"], inference.predict_windows(student, windows(4), inference.model_preprocessing(student, 40.0))["speed"], rtol=1e-5, atol=1e-4
    )
