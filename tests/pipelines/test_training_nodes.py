"""The training node: loss-weighting options from the run (RLW seed), DWA through epochs with a missing task."""

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.pipelines.training.nodes import train_multitask_model, weighting_options

TASKS = {
    "activity": {"kind": "classification", "classes": ["a", "b"]},
    "speed": {"kind": "regression"},
    "weight": {"kind": "regression"},
}
CHANNELS = ["c0", "c1"]
MODEL = {"name": "cnn1d", "options": {"width": 4, "amplitude_features": False}, "tasks": ["activity", "speed", "weight"]}
TRAINING = {
    "max_epochs": 3, "batch_size": 4, "max_train_batches_per_epoch": 1, "patience": 5, "device": "cpu", "precision": "fp32",
    "log_every_s": 0.0, "seed": 3,
}  # fmt: skip


def _data(n: int = 16, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    windows = rng.normal(size=(n, len(CHANNELS), 32)).astype(np.float32)
    labels = pd.DataFrame(
        {
            "subject": [f"s{i % 4}" for i in range(n)],
            "activity": rng.integers(0, 2, n),
            "speed": rng.normal(4.0, 1.0, n),
            # the first batch (4 windows, no shuffle effect on which windows lack it: all but the last 4) has no weight
            "weight": [np.nan] * (n - 4) + list(rng.normal(70.0, 5.0, 4)),
        }
    )
    return windows, labels


def _train(loss_weighting: dict, training: dict | None = None):
    windows, labels = _data()
    no_plots = np.zeros((0, len(CHANNELS), 32, 4), np.uint8)
    return train_multitask_model(
        no_plots, windows, labels, no_plots, windows, labels, CHANNELS, TASKS, MODEL, loss_weighting,
        {**TRAINING, **(training or {})}, {"percentage": 10, "resolution": None},
    )  # fmt: skip


def test_random_loss_weighting_draws_from_the_run_seed_unless_fixed():
    assert weighting_options({"method": "rlw"}, 7) == {"seed": 7}
    assert weighting_options({"method": "rlw", "options": {"seed": None}}, 7) == {"seed": 7}
    assert weighting_options({"method": "rlw", "options": {"seed": 1}}, 7) == {"seed": 1}
    assert weighting_options({"method": "dwa", "options": {"temperature": 2.0}}, 7) == {"temperature": 2.0}


def test_protocol_seeds_give_rlw_runs_their_own_weight_sequence():
    # before: every protocol seed trained RLW with seed 0, so Table IV's RLW spread only came from the init
    columns = ["weight_activity", "weight_speed", "weight_weight"]  # the task weights of each epoch's last step
    drawn = [_train({"method": "rlw"}, {"seed": seed})[2][columns].to_numpy() for seed in (0, 1)]
    assert drawn[0].shape == (3, 3) and not np.allclose(drawn[0], drawn[1])
    fixed = [_train({"method": "rlw", "options": {"seed": 5}}, {"seed": seed})[2][columns].to_numpy() for seed in (0, 1)]
    np.testing.assert_array_equal(fixed[0], fixed[1])


def test_dwa_trains_through_epochs_where_a_task_has_no_labelled_window():
    # one batch of 4 windows per epoch: the weight task is often absent, DWA used to raise at the epoch's end
    history = _train({"method": "dwa"}, {"max_epochs": 4, "batch_size": 2})[2]
    assert len(history) == 4


def test_class_balancing_is_recorded_and_needs_subject_balancing():
    summary = _train({"method": "uniform"}, {"balance_subjects": True, "balance_classes": True})[4]
    assert summary["balance_subjects"] is True and summary["balance_classes"] is True
    message = "training.balance_classes: true needs training.balance_subjects: true (classes are balanced over subjects)"
    with pytest.raises(ValueError, match=re.escape(message)):
        _train({"method": "uniform"}, {"balance_classes": True})


def test_bags_are_the_recordings_and_oversampled_windows_are_refused():
    windows, labels = _data()
    labels = labels.assign(recording=labels["subject"] + "_1")  # one recording per subject; its labels shared
    for task, values in {"activity": [0, 1, 0, 1], "speed": [3.0, 4.0, 5.0, 6.0], "weight": [60.0, 70.0, 80.0, 90.0]}.items():
        labels[task] = labels["recording"].map(dict(zip(["s0_1", "s1_1", "s2_1", "s3_1"], values)))
    no_plots = np.zeros((0, len(CHANNELS), 32, 4), np.uint8)
    args = (no_plots, windows, labels, no_plots, windows, labels, CHANNELS, TASKS, MODEL, {"method": "uniform"})
    summary = train_multitask_model(*args, {**TRAINING, "bag_size": 2}, {"percentage": 10, "resolution": None})[4]
    assert summary["bag_size"] == 2
    synthetic = labels.assign(synthetic=[i == 0 for i in range(len(labels))])
    message = "training.bag_size=2 pools windows of one recording; the oversampled windows belong to none"
    with pytest.raises(ValueError, match=re.escape(message)):
        train_multitask_model(
            no_plots, windows, synthetic, no_plots, windows, labels, CHANNELS, TASKS, MODEL, {"method": "uniform"},
            {**TRAINING, "bag_size": 2}, {"percentage": 10, "resolution": None},
        )  # fmt: skip
