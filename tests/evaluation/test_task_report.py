from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insole_mtl.evaluation.task_report import group_scores, majority_vote_classes, window_counts


def _labels(**columns: list) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_window_counts_masked_labels_and_synthetic_rows() -> None:
    train = _labels(
        subject=["a", "a", "b", "synthetic"],
        recording=["a1", "a2", "b1", "synthetic"],
        activity=[0, 0, 1, 1],
        speed=[1.0, np.nan, 1.2, np.nan],
        weight=[70.0, 70.0, np.nan, np.nan],
        synthetic=[False, False, False, True],
    )
    test = _labels(subject=["c"], recording=["c1"], activity=[1], speed=[np.nan], weight=[80.0])
    counts = window_counts({"train": train, "test": test}).set_index(["split", "task"])
    assert counts.loc[("train", "all")].tolist() == [3, 2, 3]
    assert counts.loc[("train", "activity")].tolist() == [3, 2, 3]
    assert counts.loc[("train", "speed")].tolist() == [2, 2, 2]
    assert counts.loc[("train", "weight")].tolist() == [2, 1, 2]
    assert counts.loc[("train", "activity_synthetic"), "windows"] == 1
    assert counts.loc[("test", "speed"), "windows"] == 0 and counts.loc[("test", "weight"), "subjects"] == 1
    assert ("test", "activity_synthetic") not in counts.index


def _predictions() -> pd.DataFrame:
    # subject a (class 1): 2 of 3 windows right -> majority right; subject b (class 0): 1 of 2 -> tie -> class 0 right;
    # subject c (class 1): 0 of 2 -> wrong
    return _labels(
        subject=["a", "a", "a", "b", "b", "c", "c"],
        recording=["a1", "a1", "a2", "b1", "b1", "c1", "c1"],
        activity=[1, 1, 1, 0, 0, 1, 1],
        pred_activity=[1, 0, 1, 1, 0, 0, 0],
        speed=[1.0, 1.0, 1.4, np.nan, np.nan, 0.8, 0.8],
        pred_speed=[1.1, 1.3, 1.4, 9.0, 9.0, 0.6, 0.8],
        weight=[70.0, 70.0, 70.0, 60.0, 60.0, np.nan, np.nan],
        pred_weight=[68.0, 70.0, 78.0, 64.0, 66.0, 50.0, 50.0],
    )


def test_group_scores_subject_majority_and_means() -> None:
    scores, notes = group_scores(_predictions(), ["subject", "recording"])
    assert scores["activity_accuracy_subject_majority"] == pytest.approx(2 / 3)
    assert scores["n_activity_subject"] == 3
    # weight per subject: a mean 72 vs 70 -> 2; b mean 65 vs 60 -> 5
    assert scores["weight_mae_subject_mean"] == pytest.approx(3.5) and scores["n_weight_subject"] == 2
    # speed varies within subject a (1.0 and 1.4): no subject-level speed, a note instead
    assert "speed_mae_subject_mean" not in scores
    assert any(note.startswith("speed: the label varies within a subject") for note in notes)
    # per recording: a1 mean 1.2 vs 1.0, a2 1.4 vs 1.4, c1 0.7 vs 0.8
    assert scores["speed_mae_recording_mean"] == pytest.approx((0.2 + 0.0 + 0.1) / 3)
    assert scores["activity_accuracy_recording_majority"] == pytest.approx(2 / 4)


def test_group_scores_activity_varying_within_subject() -> None:
    predictions = _predictions()
    predictions.loc[0, "activity"] = 0
    scores, notes = group_scores(predictions, ["subject"])
    assert "activity_accuracy_subject_majority" not in scores
    assert notes[0] == "activity: the label varies within a subject, no subject-level majority vote"


def test_majority_vote_classes_table() -> None:
    table = majority_vote_classes(_predictions(), by="subject")
    assert table.to_dict("list") == {
        "subject": ["a", "b", "c"],
        "activity": [1, 0, 1],
        "predicted": [1, 0, 0],
        "windows": [3, 2, 2],
        "agreement": [pytest.approx(2 / 3), 0.5, 1.0],
    }
