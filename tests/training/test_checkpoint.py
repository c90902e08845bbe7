"""Checkpoint / resume of the training engine (in process, CPU fp32): a run interrupted after an epoch and
resumed from its checkpoint ends with exactly the weights and history of an uninterrupted run."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from insole_mtl.datasets.checkpoint import CheckpointDataset, CheckpointStore
from insole_mtl.models import build_model
from insole_mtl.tasks import task_specs
from insole_mtl.training.data import TaskArrays
from insole_mtl.training.engine import TrainConfig, rng_state, set_rng_state, train_model
from insole_mtl.training.weighting import build_weighting

TASKS = {
    "activity": {"kind": "classification", "classes": ["a", "b", "c"]},
    "speed": {"kind": "regression"},
    "weight": {"kind": "regression"},
}
TIMING = ["epoch_seconds", "data_wait_fraction", "windows_per_second"]


class Killed(Exception):
    """Stands for the SIGKILL of a training process (the subprocess test kills a real one)."""


class KillAfter(CheckpointStore):
    """A store that 'dies' right after writing the checkpoint of epoch ``kill_at``."""

    def __init__(self, path, kill_at: int) -> None:
        super().__init__(path)
        self.kill_at = kill_at

    def save(self, state, epoch):
        path = super().save(state, epoch)
        if epoch == self.kill_at:
            raise Killed(epoch)
        return path


def _split(n: int, seed: int) -> TaskArrays:
    rng = np.random.default_rng(seed)
    windows = rng.normal(size=(n, 3, 32)).astype(np.float32)
    activity = rng.integers(0, 3, n)
    windows[:, 0] += activity[:, None]  # something to learn
    speed = np.where(rng.random(n) < 0.3, np.nan, 3.0 + activity + rng.normal(0, 0.1, n))
    weight = 60.0 + 10 * rng.random(n)
    return TaskArrays(windows, {"activity": activity.astype(np.int64), "speed": speed, "weight": weight})


def _run(weighting_name: str, store=None, **overrides):
    specs = task_specs(TASKS)
    torch.manual_seed(5)
    model = build_model("cnn1d", in_channels=3, tasks=specs, width=8, dropout=0.3)
    weighting = build_weighting(weighting_name, specs)
    params = {"max_epochs": 5, "batch_size": 16, "lr": 3e-3, "patience": 10, "seed": 3, "device": "cpu",
              "precision": "fp32", "lr_schedule": "cosine", "warmup_epochs": 1.0, "eval_batch_size": 32, "log_every_s": 0.0}
    params.update(overrides)
    result = train_model(model, weighting, _split(96, 1), _split(40, 2), specs, TrainConfig(**params), checkpoints=store)
    return model, weighting, result


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.drop(columns=TIMING), b.drop(columns=TIMING), check_exact=True)


@pytest.mark.parametrize("weighting_name", ["uncertainty", "rlw", "dwa"])
def test_resume_after_a_kill_ends_exactly_like_an_uninterrupted_run(tmp_path, weighting_name):
    full_model, full_weighting, full = _run(weighting_name, CheckpointStore(tmp_path / "full"))

    with pytest.raises(Killed):
        _run(weighting_name, KillAfter(tmp_path / "killed", kill_at=2))
    assert CheckpointStore(tmp_path / "killed").epochs() == [1, 2]
    torch.manual_seed(999)  # the global RNG of the new process is not the one of the killed run
    np.random.seed(999)
    model, weighting, resumed = _run(weighting_name, CheckpointStore(tmp_path / "killed"), resume=True)

    _same(full.history, resumed.history)
    assert resumed.best_epoch == full.best_epoch and resumed.stopped_epoch == full.stopped_epoch == 5
    for key, value in full_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    for key, value in full_weighting.state_dict().items():
        assert torch.equal(value, weighting.state_dict()[key]), key
    assert CheckpointStore(tmp_path / "killed").epochs() == [4, 5]  # the newest two are kept


def test_resuming_a_finished_run_returns_it_without_training(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    _, _, first = _run("uniform", store, max_epochs=2)
    _, _, again = _run("uniform", store, max_epochs=2, resume=True)
    pd.testing.assert_frame_equal(first.history, again.history)  # the same rows, timings included: nothing re-ran


def test_a_fresh_run_clears_old_checkpoints(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    _run("uniform", store, max_epochs=3)
    assert store.epochs() == [2, 3]
    with pytest.raises(Killed):
        _run("uniform", KillAfter(tmp_path / "ck", kill_at=1), max_epochs=3)
    assert store.epochs() == [1]  # epochs 2 and 3 of the earlier run are gone: they cannot be resumed by mistake


def test_resume_refuses_a_checkpoint_of_another_configuration(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    with pytest.raises(Killed):
        _run("uniform", KillAfter(tmp_path / "ck", kill_at=1))
    message = (
        f"training.resume: the checkpoint of epoch 1 in {store!r} was written by another run (training.lr: "
        "checkpoint 0.003, now 0.01); resume with the configuration and data it was written with, or run without "
        "training.resume to start afresh"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        _run("uniform", store, lr=0.01, resume=True)


def test_resume_without_a_checkpoint_starts_at_epoch_one(tmp_path, caplog):
    _, _, result = _run("uniform", CheckpointStore(tmp_path / "empty"), max_epochs=2, resume=True)
    assert result.history["epoch"].tolist() == [1, 2]
    assert "training.resume: no checkpoint in" in caplog.text


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, caplog):
    store = CheckpointStore(tmp_path / "ck")
    store.save({"epoch": 1, "x": torch.ones(2)}, 1)
    store.save({"epoch": 2, "x": torch.ones(2)}, 2)
    store.file(2).write_bytes(store.file(2).read_bytes()[:20])  # truncated (not by us: our writes are atomic)
    assert store.latest()["epoch"] == 1
    assert "epoch-0002.pt cannot be read" in caplog.text


def test_a_write_that_fails_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path):
    store = CheckpointStore(tmp_path / "ck")
    store.save({"epoch": 1}, 1)

    class Unpicklable:
        pass

    with pytest.raises(Exception):
        store.save({"epoch": 2, "bad": Unpicklable()}, 2)  # dies inside torch.save, mid-write
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["epoch-0001.pt"]
    assert store.latest() == {"epoch": 1}


def test_checkpoint_dataset_loads_a_store_and_refuses_saves(tmp_path):
    dataset = CheckpointDataset(path=str(tmp_path / "ck"), keep=3)
    store = dataset.load()
    assert isinstance(store, CheckpointStore) and store.keep == 3 and store.path == tmp_path / "ck"
    with pytest.raises(Exception, match=re.escape("is not saved by a node")):
        dataset.save(1)


def test_rng_state_round_trip_covers_torch_numpy_and_python():
    import random

    state = rng_state()
    first = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    second = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], second[0]) and np.array_equal(first[1], second[1]) and first[2] == second[2]


def test_same_seed_twice_gives_identical_training(tmp_path):
    model_a, _, a = _run("rlw")
    model_b, _, b = _run("rlw")
    _same(a.history, b.history)
    assert all(torch.equal(v, model_b.state_dict()[k]) for k, v in model_a.state_dict().items())
