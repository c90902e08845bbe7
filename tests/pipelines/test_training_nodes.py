"""The training node: loss-weighting options from the run (RLW seed), DWA through epochs with a missing task, ensembles."""

import re

import numpy as np
import pandas as pd
import pytest
import torch

from insole_mtl.models import EnsembleModel
from insole_mtl.pipelines.training.nodes import force_prior, history_to_curves, train_multitask_model, weighting_options
from insole_mtl.run_parameters import ensemble_size

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


def test_an_ensemble_is_its_members_trained_from_consecutive_seeds():
    single, _, single_history, _, single_summary = _train({"method": "uncertainty"})
    model, mlflow_model, history, curves, summary = _train({"method": "uncertainty"}, {"ensemble": 2})
    assert isinstance(model, EnsembleModel) and mlflow_model is model and len(model.members) == 2
    assert "ensemble" not in single_summary and "member" not in single_history.columns  # ensemble 1 = as before
    # member 0 is the single model of the same seed, member 1 another one
    state, first, second = single.state_dict(), model.members[0].state_dict(), model.members[1].state_dict()
    assert all(torch.equal(state[k], first[k]) for k in state) and not all(torch.equal(state[k], second[k]) for k in state)
    assert summary["ensemble"] == 2 and [m["seed"] for m in summary["members"]] == [3, 4]
    assert history["member"].tolist() == [0, 0, 0, 1, 1, 1] and list(history.columns[:2]) == ["member", "epoch"]
    timing = ["epoch_seconds", "data_wait_fraction", "windows_per_second"]  # wall clock
    pd.testing.assert_frame_equal(history[history["member"] == 0].drop(columns=["member", *timing]), single_history.drop(columns=timing))
    assert curves["member_0.train_loss"] == history_to_curves(single_history)["train_loss"]
    assert [p["step"] for p in curves["member_1.val_loss"]] == [1, 2, 3]
    assert model.members[0].preprocessing == model.preprocessing == single.preprocessing


def test_ensemble_size_is_checked():
    assert ensemble_size({}) == 1
    for bad in (0, 1.5, True, "2"):
        with pytest.raises(ValueError, match=re.escape(f"ensemble must be a positive integer (models trained and averaged), got {bad!r}")):
            ensemble_size({"ensemble": bad})
    message = "ensemble=3 trains 3 models, resume: true continues one training: set one of them back"
    with pytest.raises(ValueError, match=re.escape(message)):
        ensemble_size({"ensemble": 3, "resume": True})


class _Store:
    """A checkpoint store that records what the node does with it."""

    def __init__(self) -> None:
        self.saved, self.cleared = [], 0

    def save(self, state, epoch):
        self.saved.append(epoch)

    def latest(self):
        return None

    def clear(self) -> int:
        self.cleared += 1
        return 2


def test_an_ensemble_writes_no_checkpoints_and_empties_the_store():
    windows, labels = _data()
    no_plots = np.zeros((0, len(CHANNELS), 32, 4), np.uint8)
    args = (no_plots, windows, labels, no_plots, windows, labels, CHANNELS, TASKS, MODEL, {"method": "uniform"})
    single, ensemble = _Store(), _Store()
    train_multitask_model(*args, TRAINING, {"percentage": 10, "resolution": None}, checkpoints=single)
    train_multitask_model(*args, {**TRAINING, "ensemble": 2}, {"percentage": 10, "resolution": None}, checkpoints=ensemble)
    assert single.saved == [1, 2, 3]
    assert ensemble.saved == [] and ensemble.cleared == 1


def test_a_force_prior_is_fitted_on_the_training_windows_and_gives_the_weight():
    windows, labels = _data()
    windows = np.abs(windows) + 1.0  # forces: positive
    no_plots = np.zeros((0, len(CHANNELS), 32, 4), np.uint8)
    config = {**MODEL, "force_prior": {"task": "weight", "channels": ["c1"]}}
    model, _, _, _, summary = train_multitask_model(
        no_plots, windows, labels, no_plots, windows, labels, CHANNELS, TASKS, config, {"method": "uniform"},
        TRAINING, {"percentage": 10, "resolution": None},
    )  # fmt: skip
    # the same 4 weight-labelled windows passed as the training and the validation split: both are fitted on
    assert model.force_prior.channels == [1] and summary["force_prior"]["windows"] == 8
    assert summary["force_prior"]["subjects"] == 4 and summary["force_prior"] == model.force_prior.fit_summary
    with torch.no_grad():
        torch.testing.assert_close(model.predict(torch.from_numpy(windows))["weight"], model.force_prior(torch.from_numpy(windows)))


def test_force_prior_settings_are_checked():
    assert force_prior({"channels": "all"}, CHANNELS).channels == [0, 1]
    assert force_prior({"task": "weight", "channels": ["c1"]}, CHANNELS).task == "weight"
    for bad, message in (
        ({"channels": ["c9"]}, "model.force_prior.channels ['c9'] are not among the model's channels ['c0', 'c1']"),
        ({"channel": "all"}, "model.force_prior: unknown key(s) ['channel']; allowed: ['channels', 'task']"),
        ({"channels": "c1"}, "model.force_prior.channels must be 'all' or a list of channel names, got 'c1'"),
        (["c1"], "model.force_prior must be a mapping with 'task' and 'channels' (or null), got ['c1']"),
    ):
        with pytest.raises(ValueError, match=re.escape(message)):
            force_prior(bad, CHANNELS)
