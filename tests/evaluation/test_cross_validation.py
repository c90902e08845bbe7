"""Out-of-fold scoring of a cross-validation and its baselines (insole_mtl.evaluation.cross_validation)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from insole_mtl.evaluation.cross_validation import (
    SCORE_KEYS,
    classification_level,
    constant_within,
    majority_predictions,
    mean_predictions,
    physical_predictions,
    pooled_scores,
    proba_columns,
    score_predictions,
    select,
)

NAN = float("nan")


def _binary_table() -> pd.DataFrame:
    """Hand-made window predictions of 4 subjects (class per subject), 6 recordings.

    Subject A (class 1) has windows voting 1, 1, 0 (a window MAJORITY says 1) but its mean probability
    of class 1 is 1.3 / 3 = 0.433 (the MEAN-probability vote says 0).
    """
    rows = [
        # subject, recording, activity, p1, speed, pred_speed, weight, pred_weight
        ("A", "A1", 1, 0.60, 4.0, 5.0, 70.0, 72.0),
        ("A", "A1", 1, 0.60, 4.0, 4.0, 70.0, 74.0),
        ("A", "A2", 1, 0.10, 5.0, 6.0, 70.0, 60.0),
        ("B", "B1", 0, 0.20, 3.0, 2.0, 80.0, 80.0),
        ("B", "B1", 0, 0.30, 3.0, 3.0, 80.0, 90.0),
        ("C", "C1", 1, 0.90, 6.0, 6.0, NAN, 50.0),
        ("D", "D1", 0, 0.40, NAN, 9.0, 60.0, 61.0),
        ("D", "D2", 0, 0.49, 2.0, 4.0, 60.0, 59.0),
    ]
    table = pd.DataFrame(rows, columns=["subject", "recording", "activity", "p1", "speed", "pred_speed", "weight", "pred_weight"])
    table["proba_activity_0"] = 1.0 - table.pop("p1")
    table["proba_activity_1"] = 1.0 - table["proba_activity_0"]
    return table


def test_proba_columns_and_score_keys() -> None:
    assert proba_columns(3) == ["proba_activity_0", "proba_activity_1", "proba_activity_2"]
    assert proba_columns(0) == []
    assert SCORE_KEYS == (
        "classification_subject_accuracy",
        "classification_recording_accuracy",
        "classification_window_accuracy",
        "classification_auc",
        "speed_mae_recording",
        "weight_mae_subject",
    )


def test_score_predictions_exact_values() -> None:
    scores = score_predictions(_binary_table(), 2)
    assert list(scores) == list(SCORE_KEYS)
    # windows: A 1,1,0 (2 right), B 0,0 (2), C 1 (1), D 0,0 (2) -> 7 / 8
    assert scores["classification_window_accuracy"] == 0.875
    # subjects by MEAN probability of class 1: A 0.433 (wrong), B 0.25, C 0.9, D 0.445 -> 3 / 4
    assert scores["classification_subject_accuracy"] == 0.75
    # recordings: A1 0.6, A2 0.1 (wrong), B1 0.25, C1 0.9, D1 0.4, D2 0.49 -> 5 / 6
    assert scores["classification_recording_accuracy"] == pytest.approx(5 / 6)
    # subject-level AUC: positives A 0.433, C 0.9; negatives B 0.25, D 0.445 -> A > B, A < D, C > B, C > D
    assert scores["classification_auc"] == 0.75
    # speed per labelled recording: A1 |4.5 - 4|, A2 |6 - 5|, B1 |2.5 - 3|, C1 0, D2 |4 - 2| (D1 unlabelled)
    assert scores["speed_mae_recording"] == pytest.approx((0.5 + 1.0 + 0.5 + 0.0 + 2.0) / 5)
    # weight per labelled subject: A |68.67 - 70|, B |85 - 80|, D |60 - 60| (C unlabelled)
    assert scores["weight_mae_subject"] == pytest.approx((4 / 3 + 5.0 + 0.0) / 3)


def test_subject_accuracy_uses_mean_probabilities_not_window_majority() -> None:
    table = _binary_table()
    a = table[table["subject"] == "A"]
    majority = int((a["proba_activity_1"] > 0.5).sum() > len(a) / 2)
    assert majority == 1 == int(a["activity"].iloc[0])  # the majority vote would be right ...
    assert score_predictions(a, 2)["classification_subject_accuracy"] == 0.0  # ... the mean-probability vote is wrong
    assert score_predictions(table[table["subject"] != "A"], 2)["classification_subject_accuracy"] == 1.0


def test_score_predictions_row_order_and_ids_do_not_matter() -> None:
    table = _binary_table()
    expected = score_predictions(table, 2)
    shuffled = table.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert score_predictions(shuffled, 2) == pytest.approx(expected)


def test_three_class_ovr_auc() -> None:
    rng = np.random.default_rng(0)
    truth = np.array([0, 0, 1, 1, 2, 2, 2, 1, 0])
    proba = rng.dirichlet(np.ones(3), len(truth))
    proba[np.arange(len(truth)), truth] += 0.3  # informative but imperfect
    proba /= proba.sum(1, keepdims=True)
    table = pd.DataFrame({"subject": [f"s{i}" for i in range(9)], "recording": [f"r{i}" for i in range(9)], "activity": truth})
    for k, column in enumerate(proba_columns(3)):
        table[column] = proba[:, k]
    scores = score_predictions(table, 3)
    expected = roc_auc_score(truth, proba, multi_class="ovr", average="macro")
    assert scores["classification_auc"] == pytest.approx(expected)
    assert 0.5 < expected < 1.0
    assert scores["classification_window_accuracy"] == pytest.approx(float((proba.argmax(1) == truth).mean()))
    assert scores["speed_mae_recording"] is None and scores["weight_mae_subject"] is None


def test_auc_at_window_level_when_class_varies_within_recordings() -> None:
    table = pd.DataFrame(
        {
            "subject": ["a"] * 4 + ["b"] * 2,
            "recording": ["a1"] * 4 + ["b1"] * 2,
            "activity": [0, 1, 0, 1, 1, 0],
            "proba_activity_1": [0.1, 0.8, 0.3, 0.2, 0.7, 0.4],
        }
    )
    table["proba_activity_0"] = 1 - table["proba_activity_1"]
    assert classification_level(table) is None
    scores = score_predictions(table, 2)
    assert scores["classification_subject_accuracy"] is None and scores["classification_recording_accuracy"] is None
    # positives 0.8, 0.2, 0.7 vs negatives 0.1, 0.3, 0.4: 0.8 > all, 0.7 > all, 0.2 > 0.1 only -> 7 / 9
    assert scores["classification_auc"] == pytest.approx(7 / 9)
    assert scores["classification_window_accuracy"] == pytest.approx(5 / 6)  # only the 0.2 positive is wrong
    # recording rows (window_rows=False) at no level: nothing to score
    assert score_predictions(table, 2, window_rows=False)["classification_auc"] is None


def test_recording_level_when_class_varies_within_subject() -> None:
    table = pd.DataFrame(
        {
            "subject": ["a", "a", "a", "b", "b"],
            "recording": ["a1", "a1", "a2", "b1", "b2"],
            "activity": [0, 0, 1, 1, 0],
            "proba_activity_1": [0.2, 0.6, 0.9, 0.8, 0.3],
        }
    )
    table["proba_activity_0"] = 1 - table["proba_activity_1"]
    assert classification_level(table) == "recording"
    scores = score_predictions(table, 2)
    assert scores["classification_subject_accuracy"] is None
    # recordings: a1 mean 0.4 -> 0 (right), a2 0.9 (right), b1 0.8 (right), b2 0.3 (right)
    assert scores["classification_recording_accuracy"] == 1.0
    # recording-level AUC: positives 0.9, 0.8 vs negatives 0.4, 0.3
    assert scores["classification_auc"] == 1.0
    assert scores["classification_window_accuracy"] == pytest.approx(4 / 5)  # window a1 #2 (0.6) is wrong


def test_keys_are_none_when_a_task_is_absent() -> None:
    table = _binary_table()
    no_classification = score_predictions(table, None)
    assert all(no_classification[k] is None for k in SCORE_KEYS[:4])
    assert no_classification["speed_mae_recording"] == pytest.approx(0.8)
    assert score_predictions(table.drop(columns=["proba_activity_1"]), 2)["classification_auc"] is None
    unlabelled = score_predictions(table.assign(activity=-1), 2)
    assert all(unlabelled[k] is None for k in SCORE_KEYS[:4])
    speedless = score_predictions(table.drop(columns=["speed"]), 2)
    assert speedless["speed_mae_recording"] is None and speedless["weight_mae_subject"] is not None
    assert score_predictions(table.drop(columns=["pred_weight"]), 2)["weight_mae_subject"] is None
    assert score_predictions(table.assign(weight=NAN), 2)["weight_mae_subject"] is None
    # one class only: no AUC, accuracies still scored
    one_class = score_predictions(table[table["activity"] == 1], 2)
    assert one_class["classification_auc"] is None and one_class["classification_subject_accuracy"] == 0.5


def test_unlabelled_windows_are_ignored_by_classification() -> None:
    table = _binary_table()
    extra = table.iloc[[0]].assign(activity=-1, proba_activity_0=1.0, proba_activity_1=0.0, speed=NAN, weight=NAN)
    scores = score_predictions(pd.concat([table, extra], ignore_index=True), 2)
    expected = score_predictions(table, 2)
    for key in SCORE_KEYS[:4]:
        assert scores[key] == pytest.approx(expected[key]), key


def test_window_rows_false_skips_window_accuracy() -> None:
    scores = score_predictions(_binary_table(), 2, window_rows=False)
    assert scores["classification_window_accuracy"] is None
    assert scores["classification_subject_accuracy"] == 0.75
    assert scores["classification_auc"] == 0.75


def test_classification_level_and_constant_within() -> None:
    table = _binary_table()
    assert classification_level(table) == "subject"
    assert constant_within(table, "activity", "subject") and constant_within(table, "activity", "recording")
    assert classification_level(table.drop(columns="activity")) is None
    assert classification_level(table.assign(activity=-1)) is None
    # -1 (unlabelled) windows do not break constancy
    assert classification_level(pd.concat([table, table.iloc[[0]].assign(activity=-1)])) == "subject"
    # speed varies within subject A, not within its recordings
    assert not constant_within(table, "speed", "subject") and constant_within(table, "speed", "recording")
    assert not constant_within(table.assign(speed=NAN), "speed", "recording")  # nothing labelled


def test_three_class_auc_with_two_classes_present() -> None:
    truth = np.array([0, 2, 0, 2, 2])
    proba = np.array([[0.7, 0.1, 0.2], [0.2, 0.2, 0.6], [0.5, 0.3, 0.2], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8]])
    table = pd.DataFrame({"subject": list("abcde"), "recording": list("abcde"), "activity": truth})
    for k, column in enumerate(proba_columns(3)):
        table[column] = proba[:, k]
    renormalised = proba[:, 2] / (proba[:, 0] + proba[:, 2])
    assert score_predictions(table, 3)["classification_auc"] == pytest.approx(roc_auc_score(truth == 2, renormalised))


# ---------------------------------------------------------------------------------- baselines
def _train_labels() -> pd.DataFrame:
    """s1: class 0, 10 windows, 60 kg; s2: class 1, 2 windows, 90 kg; s3: class 1, 1 window, 90 kg; 5 synthetic class 2."""
    rows = (
        [("s1", "s1r", 0, 4.0, 60.0, False)] * 10
        + [("s2", "s2r", 1, 6.0, 90.0, False)] * 2
        + [("s3", "s3r", 1, NAN, 90.0, False)]
        + [("syn", "syn", 2, 100.0, 500.0, True)] * 5
    )
    return pd.DataFrame(rows, columns=["subject", "recording", "activity", "speed", "weight", "synthetic"])


def _test_labels() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "subject": ["t1", "t1", "t2"],
            "recording": ["t1a", "t1b", "t2a"],
            "activity": [0, 0, 1],
            "speed": [5.0, 5.0, 3.0],
            "weight": [70.0, 70.0, 80.0],
        },
        index=[7, 8, 9],
    )


def test_majority_predictions_subject_level_vs_window_level() -> None:
    train, test = _train_labels(), _test_labels()
    by_subject = majority_predictions(train, test, 3, "subject")  # 2 subjects of class 1 vs 1 of class 0
    by_window = majority_predictions(train, test, 3, None)  # 10 windows of class 0 vs 3 of class 1
    assert list(by_subject.columns) == ["subject", "recording", "activity"] + proba_columns(3)
    assert by_subject.index.tolist() == [0, 1, 2]
    assert by_subject[proba_columns(3)].to_numpy().tolist() == [[0.0, 1.0, 0.0]] * 3
    assert by_window[proba_columns(3)].to_numpy().tolist() == [[1.0, 0.0, 0.0]] * 3
    assert majority_predictions(train, test, 3, "recording")[proba_columns(3)].iloc[0].tolist() == [1.0, 0.0, 0.0]
    # the synthetic class-2 windows never count: with s3 (one class-1 window) they would win 5 to 1
    only_synthetic_and_s3 = train[(train["subject"] == "s3") | train["synthetic"]]
    assert majority_predictions(only_synthetic_and_s3, test, 3, None)[proba_columns(3)].iloc[0].tolist() == [0.0, 1.0, 0.0]
    # a tie goes to the smallest class id; no labelled training window -> class 0
    tie = train[train["subject"].isin(["s1", "s2"])]
    assert majority_predictions(tie, test, 3, "subject")[proba_columns(3)].iloc[0].tolist() == [1.0, 0.0, 0.0]
    assert majority_predictions(train.assign(activity=-1), test, 3, None)[proba_columns(3)].iloc[0].tolist() == [1.0, 0.0, 0.0]
    # scored like any predictor (a test set with all 3 classes: see test_three_class_auc_with_two_classes_present)
    three = pd.concat([test, pd.DataFrame({"subject": ["t3"], "recording": ["t3a"], "activity": [2], "speed": [NAN], "weight": [NAN]})])
    scores = score_predictions(majority_predictions(train, three, 3, "subject"), 3)
    assert scores["classification_subject_accuracy"] == pytest.approx(1 / 3)  # t2 (class 1) right, t1, t3 wrong
    assert scores["classification_window_accuracy"] == pytest.approx(1 / 4)
    assert scores["classification_auc"] == 0.5  # constant scores rank nothing


def test_mean_predictions_weight_over_subjects_speed_over_windows() -> None:
    train, test = _train_labels(), _test_labels()
    out = mean_predictions(train, test)
    assert list(out.columns) == ["subject", "recording", "speed", "weight", "pred_speed", "pred_weight"]
    assert out.index.tolist() == [0, 1, 2]
    # speed: mean over the 12 labelled real windows (10 x 4 + 2 x 6) / 12, NaN and synthetic ignored
    assert out["pred_speed"].tolist() == pytest.approx([52 / 12] * 3)
    # weight: mean over SUBJECTS (60, 90, 90) = 80, not over windows (10 x 60 + 3 x 90) / 13 = 66.9
    assert out["pred_weight"].tolist() == [80.0, 80.0, 80.0]
    scores = score_predictions(out, None)
    assert scores["weight_mae_subject"] == pytest.approx((10.0 + 0.0) / 2)
    assert scores["speed_mae_recording"] == pytest.approx((abs(52 / 12 - 5) * 2 + abs(52 / 12 - 3)) / 3)
    # a task without training labels gets no prediction column (and so scores None)
    unlabelled = mean_predictions(train.assign(weight=NAN), test)
    assert "pred_weight" not in unlabelled.columns and "pred_speed" in unlabelled.columns
    assert score_predictions(unlabelled, None)["weight_mae_subject"] is None
    no_columns = mean_predictions(train.drop(columns=["speed"]), test.drop(columns=["speed"]))
    assert list(no_columns.columns) == ["subject", "recording", "weight", "pred_weight"]


CHANNELS = ["acc", "f1", "f2"]


def _force_windows(totals: list[float], length: int = 8) -> np.ndarray:
    """(n, 3, L): 'acc' 1000 (not a force channel), f1 + f2 averaging to the given total force."""
    wave = np.sin(np.linspace(0, 2 * np.pi, length, endpoint=False))
    out = np.zeros((len(totals), 3, length), dtype=np.float64)
    for i, total in enumerate(totals):
        out[i, 0] = 1000.0
        out[i, 1] = total / 2 + 5 * wave
        out[i, 2] = total / 2
    return out


def test_physical_predictions_exact_linear_cohort() -> None:
    # weight = 10 + 2 * force exactly; the synthetic row lies on no line and must be ignored
    train_force = [20.0, 22.0, 30.0, 31.0, 40.0, 99.0]
    train_labels = pd.DataFrame(
        {
            "subject": ["a", "a", "b", "b", "c", "syn"],
            "recording": ["a1", "a2", "b1", "b1", "c1", "syn"],
            "weight": [52.0, 52.0, 10 + 2 * 30.5, 10 + 2 * 30.5, 90.0, 0.0],
            "synthetic": [False, False, False, False, False, True],
        }
    )
    # subject means: a 21 -> 52, b 30.5 -> 71, c 40 -> 90: all on weight = 10 + 2 F
    test_force = [25.0, 35.0, 45.0]
    test_labels = pd.DataFrame({"subject": ["t1", "t1", "t2"], "recording": ["x", "y", "z"], "weight": [60.0, 80.0, 100.0]})
    out = physical_predictions(_force_windows(train_force), train_labels, _force_windows(test_force), test_labels, CHANNELS, ["f1", "f2"])
    assert list(out.columns) == ["subject", "recording", "weight", "pred_weight"]
    np.testing.assert_allclose(out["pred_weight"], [60.0, 80.0, 100.0], rtol=0, atol=1e-9)
    assert score_predictions(out, None)["weight_mae_subject"] == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match=re.escape("force channel(s) ['f3'] are not model channels ['acc', 'f1', 'f2']")):
        physical_predictions(_force_windows(train_force), train_labels, _force_windows(test_force), test_labels, CHANNELS, ["f3"])


def test_physical_predictions_without_synthetic_column() -> None:
    train_labels = pd.DataFrame({"subject": ["a", "b"], "recording": ["a", "b"], "weight": [50.0, 70.0]})
    test_labels = pd.DataFrame({"subject": ["t"], "recording": ["t"], "weight": [60.0]})
    out = physical_predictions(_force_windows([10.0, 20.0]), train_labels, _force_windows([15.0]), test_labels, CHANNELS, ["f1", "f2"])
    assert out["pred_weight"].tolist() == pytest.approx([60.0])


def test_pooled_scores_concatenate_the_folds() -> None:
    table = _binary_table()
    folds = [table[table["subject"].isin(["A", "B"])], table[table["subject"].isin(["C", "D"])]]
    pooled, per_fold = pooled_scores(folds, 2)
    assert pooled == score_predictions(table, 2)
    assert len(per_fold) == 2
    assert per_fold[0] == score_predictions(folds[0], 2) and per_fold[1] == score_predictions(folds[1], 2)
    assert per_fold[0]["classification_subject_accuracy"] == 0.5 and per_fold[1]["classification_subject_accuracy"] == 1.0
    # pooled AUC ranks subjects ACROSS folds (D 0.445 above A 0.433: 0.75); each fold alone ranks only its own two
    assert pooled["classification_auc"] == 0.75
    assert per_fold[0]["classification_auc"] == 1.0 and per_fold[1]["classification_auc"] == 1.0
    pooled_rows, _ = pooled_scores(folds, 2, window_rows=False)
    assert pooled_rows["classification_window_accuracy"] is None


def test_select() -> None:
    scores = score_predictions(_binary_table(), 2)
    assert select(scores, ["weight_mae_subject", "classification_auc"]) == {
        "weight_mae_subject": scores["weight_mae_subject"],
        "classification_auc": 0.75,
    }
    assert select({}, ["speed_mae_recording"]) == {"speed_mae_recording": None}
