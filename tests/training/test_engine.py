"""Training engine: config, optimizers, EMA teacher, early stopping, history, determinism, predict, lr schedule,
model-owned input statistics, two-input models and weighted draws."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from insole_mtl.training import engine
from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models import TaskSpec, build_model, channel_statistics
from insole_mtl.models.amplitude import amplitude_statistics_numpy
from insole_mtl.training.data import TaskArrays, group_balanced_weights, to_float
from insole_mtl.training.engine import (
    EmaTeacher,
    TrainConfig,
    fit_target_scaling,
    lr_factor,
    predict,
    resolve_precision,
    target_scaling,
    train_model,
)
from insole_mtl.training.optim import Lion, build_optimizer


@dataclass(frozen=True)
class Task:
    name: str
    kind: str
    n_outputs: int


TASKS = (Task("activity", "classification", 3), Task("speed", "regression", 1))


class TinyModel(nn.Module):
    """Flatten -> Linear -> BatchNorm -> ReLU -> heads; the multitask model contract in miniature."""

    def __init__(self, in_features: int, tasks=TASKS, width: int = 8) -> None:
        super().__init__()
        self.tasks = tuple(tasks)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU())
        self.heads = nn.ModuleDict({t.name: nn.Linear(width, t.n_outputs) for t in self.tasks})
        for t in self.tasks:
            if t.kind == "regression":
                self.register_buffer(f"loc_{t.name}", torch.zeros(()))
                self.register_buffer(f"scale_{t.name}", torch.ones(()))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.embed(x)
        return {t.name: self.heads[t.name](z).squeeze(-1) if t.kind == "regression" else self.heads[t.name](z) for t in self.tasks}

    def predict(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.forward(x)
        for t in self.tasks:
            if t.kind == "regression":
                out[t.name] = out[t.name] * getattr(self, f"scale_{t.name}") + getattr(self, f"loc_{t.name}")
        return out

    def set_target_scaling(self, task: str, loc: float, scale: float) -> None:
        getattr(self, f"loc_{task}").fill_(loc)
        getattr(self, f"scale_{task}").fill_(scale)


class SumWeighting(nn.Module):
    """Uniform weighting with one learnable (unused-by-decay) scale, to exercise parameter groups."""

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.epoch_losses: list[dict[str, float]] = []

    def forward(self, losses):
        return torch.stack(list(losses.values())).sum() * self.log_scale.exp()

    def weights(self) -> dict[str, float]:
        w = float(self.log_scale.detach().exp())
        return {"activity": w, "speed": w}

    def on_epoch_end(self, epoch_task_losses) -> None:
        self.epoch_losses.append(dict(epoch_task_losses))


def _split(n: int, seed: int) -> TaskArrays:
    """Raw (n, 3, 16) windows whose class is the dominant channel; speed (km/h) from the amplitude."""
    rng = np.random.default_rng(seed)
    activity = rng.integers(0, 3, n)
    amp = rng.uniform(1, 3, n)
    x = rng.normal(0, 0.3, (n, 3, 16)).astype(np.float32)
    x[np.arange(n), activity] += amp[:, None].astype(np.float32)
    speed = 2.0 * amp + 3.0
    speed[activity == 2] = np.nan  # speed is not used for class 2
    return TaskArrays(x, {"activity": activity.astype(np.int64), "speed": speed})


def _config(**kw) -> TrainConfig:
    base = dict(max_epochs=4, batch_size=16, lr=1e-2, patience=10, device="cpu", precision="fp32", channels_last=False, log_every_s=0.0)
    base.update(kw)
    return TrainConfig(**base)


def _train(seed: int = 0, **kw):
    torch.manual_seed(seed)
    model = TinyModel(48)
    result = train_model(model, SumWeighting(), _split(64, 1), _split(32, 2), TASKS, _config(seed=seed, **kw))
    return model, result


# ------------------------------------------------------------------------------------------------
def test_from_params_rejects_unknown_keys() -> None:
    cfg = TrainConfig.from_params({"max_epochs": 5, "lr": 1e-3, "ema_teacher": {"decay": 0.99}})
    assert cfg.max_epochs == 5 and cfg.lr == 1e-3
    assert cfg.ema_teacher == {"decay": 0.99, "lambda": 0.5, "tau": 3.0}
    with pytest.raises(ValueError, match=re.escape("unknown TrainConfig parameter(s) ['batchsize', 'epochs']")):
        TrainConfig.from_params({"epochs": 3, "batchsize": 2, "lr": 0.1})
    with pytest.raises(ValueError, match=re.escape("unknown ema_teacher key(s) ['alpha']")):
        TrainConfig.from_params({"ema_teacher": {"alpha": 0.5}})
    with pytest.raises(ValueError, match=re.escape("TrainConfig.precision must be one of ['auto', 'fp32', 'bf16', 'fp16'], got 'fp8'")):
        TrainConfig(precision="fp8")
    with pytest.raises(ValueError, match=re.escape("TrainConfig.patience must be an int >= 1, got 0")):
        TrainConfig(patience=0)
    with pytest.raises(ValueError, match=re.escape("TrainConfig.optimizer must be one of ['adamw', 'adam', 'lion'], got 'sgd'")):
        TrainConfig(optimizer="sgd")


def test_resolve_precision() -> None:
    assert resolve_precision("fp32", torch.device("cpu")) == "fp32"
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    with pytest.raises(ValueError, match=re.escape("precision must be one of")):
        resolve_precision("half", torch.device("cpu"))


def test_lion_step_matches_hand_computed_update() -> None:
    p = nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = Lion([p], lr=0.1, betas=(0.9, 0.99), weight_decay=0.5)
    p.grad = torch.tensor([0.2, -0.3, 0.0])
    opt.step()
    # m0 = 0: c = 0.1 * g -> sign = (1, -1, 0); theta = theta * (1 - 0.1 * 0.5) - 0.1 * sign
    expected = torch.tensor([1.0 * 0.95 - 0.1, -2.0 * 0.95 + 0.1, 0.5 * 0.95])
    torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-7)
    torch.testing.assert_close(opt.state[p]["exp_avg"], 0.01 * torch.tensor([0.2, -0.3, 0.0]), rtol=0, atol=1e-8)
    # second step: c = 0.9 * m + 0.1 * g2 with g2 = (-1, -1, 1): (0.0018 - 0.1, -0.0027 - 0.1, 0.1) -> (-1, -1, 1)
    before = p.detach().clone()
    p.grad = torch.tensor([-1.0, -1.0, 1.0])
    opt.step()
    torch.testing.assert_close(p.detach(), before * 0.95 - 0.1 * torch.tensor([-1.0, -1.0, 1.0]), rtol=0, atol=1e-7)


def test_build_optimizer() -> None:
    params = [nn.Parameter(torch.zeros(2))]
    assert isinstance(build_optimizer("AdamW", params, 1e-3, 0.01), torch.optim.AdamW)
    assert isinstance(build_optimizer("adam", params, 1e-3, 0.0), torch.optim.Adam)
    assert build_optimizer("lion", params, 1e-4, 0.1).defaults["betas"] == (0.9, 0.99)
    with pytest.raises(ValueError, match=re.escape("optimizer must be one of ['adamw', 'adam', 'lion'], got 'sgd'")):
        build_optimizer("sgd", params, 1e-3, 0.0)


def test_ema_teacher_update_rule_exact() -> None:
    student = TinyModel(4)
    teacher = EmaTeacher(student, decay=0.75)
    with torch.no_grad():
        for p in teacher.model.parameters():
            p.fill_(1.0)
        for p in student.parameters():
            p.fill_(3.0)
        student.body[2].running_mean.fill_(2.0)
        student.body[2].num_batches_tracked.fill_(7)
    teacher.update(student)
    for p in teacher.model.parameters():
        assert torch.all(p == 0.75 * 1.0 + 0.25 * 3.0)  # 1.5, exact in binary
        assert not p.requires_grad
    bn = teacher.model.body[2]
    assert torch.all(bn.running_mean == 0.25 * 2.0)  # teacher's running_mean was 0
    assert int(bn.num_batches_tracked) == 7  # integer buffers are copied
    assert not teacher.model.training


def test_ema_distillation_terms() -> None:
    teacher = EmaTeacher(TinyModel(4), decay=0.5, lam=0.5, tau=2.0)
    s = {"activity": torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), "speed": torch.tensor([1.0, 5.0])}
    t = {"activity": torch.tensor([[0.0, 1.0, 0.0], [9.0, 9.0, 9.0]]), "speed": torch.tensor([3.0, 0.0])}
    targets = {"activity": torch.tensor([1, -1]), "speed": torch.tensor([0.0, float("nan")])}
    terms = teacher.distillation_losses(s, t, targets, TASKS)
    ps = torch.softmax(s["activity"][0] / 2.0, -1)
    pt = torch.softmax(t["activity"][0] / 2.0, -1)
    kl = float((pt * (pt.log() - ps.log())).sum())
    assert terms["activity"].item() == pytest.approx(0.5 * 4.0 * kl, rel=1e-5)  # window 1 unlabelled
    assert terms["speed"].item() == pytest.approx(0.5 * 4.0)  # (1 - 3)^2 on the labelled window only


def test_target_scaling_from_training_labels() -> None:
    arrays = _split(64, 1)
    scaling = target_scaling(TASKS, arrays.targets)
    speed = arrays.targets["speed"]
    assert scaling["speed"] == (pytest.approx(np.nanmean(speed)), pytest.approx(np.nanstd(speed)))
    model = TinyModel(48)
    fit_target_scaling(model, TASKS, arrays.targets)
    assert float(model.loc_speed) == pytest.approx(np.nanmean(speed))
    with pytest.raises(ValueError, match=re.escape("training targets of task 'speed' have no labelled (non-NaN) window")):
        target_scaling(TASKS, {"speed": np.full(3, np.nan)})


def test_history_columns_and_training_improves() -> None:
    model, result = _train(max_epochs=6)
    h = result.history
    expected = [
        "epoch", "train_loss", "val_loss", "train_activity_loss", "train_speed_loss", "val_activity_loss",
        "val_activity_accuracy", "val_speed_loss", "val_speed_mae", "weight_activity", "weight_speed", "lr",
        "epoch_seconds", "data_wait_fraction", "windows_per_second",
    ]  # fmt: skip
    assert list(h.columns) == expected
    assert h["epoch"].tolist() == [1, 2, 3, 4, 5, 6]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]
    np.testing.assert_allclose(h["val_loss"], h["val_activity_loss"] + h["val_speed_loss"])
    assert ((h["data_wait_fraction"] >= 0) & (h["data_wait_fraction"] <= 1)).all()
    assert result.device == "cpu" and result.precision == "fp32"
    assert result.best_epoch == int(h["val_loss"].idxmin()) + 1
    assert result.input_transform is to_float  # raw windows: the model standardises them itself
    assert set(result.best_state) == set(model.state_dict())
    assert all(v.device.type == "cpu" for v in result.best_state.values())


def test_same_seed_same_history() -> None:
    timing = ["epoch_seconds", "data_wait_fraction", "windows_per_second"]
    _, a = _train(seed=3, max_epochs=3)
    _, b = _train(seed=3, max_epochs=3)
    _, c = _train(seed=4, max_epochs=3)
    np.testing.assert_array_equal(a.history.drop(columns=timing).to_numpy(), b.history.drop(columns=timing).to_numpy())
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


def _script_validation(monkeypatch: pytest.MonkeyPatch, losses: list[float]) -> list[dict[str, torch.Tensor]]:
    """Replace the validation pass by the given losses; returns the model's state at each validation."""
    scripted = iter(losses)
    snapshots: list[dict[str, torch.Tensor]] = []

    def fake_evaluate(model, loader, tasks, scaling, device, precision):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        loss = next(scripted)
        return {"val_activity_loss": loss, "val_activity_accuracy": 0.0, "val_speed_loss": 0.0, "val_speed_mae": 0.0, "val_loss": loss}

    monkeypatch.setattr(engine, "_evaluate", fake_evaluate)
    return snapshots


def test_early_stopping_restores_best_state(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshots = _script_validation(monkeypatch, [3.0, 2.0, 2.5, 2.1, 2.2, 1.0, 0.5])
    model, result = _train(max_epochs=7, patience=3)
    assert result.best_epoch == 2
    assert result.stopped_epoch == 5 and result.stopped_early
    assert len(result.history) == 5
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][name], rtol=0, atol=0)
        torch.testing.assert_close(result.best_state[name], snapshots[1][name], rtol=0, atol=0)
    assert not torch.equal(snapshots[4]["body.1.weight"], snapshots[1]["body.1.weight"])
    assert not model.training


def test_restore_best_false_keeps_the_last_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    # best epoch 2, then worse: a fixed budget keeps epoch 4 anyway
    snapshots = _script_validation(monkeypatch, [3.0, 1.0, 2.5, 2.6])
    model, result = _train(max_epochs=4, patience=10, restore_best=False)
    assert result.best_epoch == 2 and result.stopped_epoch == 4 and not result.stopped_early
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, snapshots[3][name], rtol=0, atol=0)
        torch.testing.assert_close(result.best_state[name], snapshots[3][name], rtol=0, atol=0)
    assert not torch.equal(snapshots[3]["body.1.weight"], snapshots[1]["body.1.weight"])


def test_patience_not_reached_is_not_early() -> None:
    _, result = _train(max_epochs=2, patience=5)
    assert result.stopped_epoch == 2 and not result.stopped_early


def test_predict_returns_physical_units() -> None:
    model, result = _train(max_epochs=2)
    val = _split(32, 2)
    out = predict(model, val, batch_size=10, device="cpu", input_transform=result.input_transform, return_embedding=True)
    assert set(out) == {"activity", "activity_proba", "speed", "embedding"}
    assert out["activity"].dtype == np.int64 and out["activity"].shape == (32,)
    np.testing.assert_allclose(out["activity_proba"].sum(1), 1.0, rtol=1e-6)
    assert out["embedding"].shape == (32, 8)
    x = result.input_transform(torch.from_numpy(val.inputs))
    with torch.no_grad():
        z = model(x)["speed"].numpy()
    loc, scale = result.target_scaling["speed"]
    np.testing.assert_allclose(out["speed"], z * scale + loc, rtol=1e-5)
    # physical units: the training labels are 5..9 km/h, so predictions sit in that range, not around 0
    assert 3.0 < out["speed"].mean() < 11.0


def test_ema_teacher_training_runs() -> None:
    _, result = _train(max_epochs=2, ema_teacher={"decay": 0.9, "lambda": 0.5, "tau": 3.0})
    assert len(result.history) == 2
    assert np.isfinite(result.history["train_loss"]).all()


def test_weighting_gets_epoch_losses_and_no_weight_decay() -> None:
    torch.manual_seed(0)
    weighting = SumWeighting()
    train_model(TinyModel(48), weighting, _split(64, 1), _split(32, 2), TASKS, _config(max_epochs=2, weight_decay=0.5))
    assert len(weighting.epoch_losses) == 2 and set(weighting.epoch_losses[0]) == {"activity", "speed"}


def test_missing_task_labels_error() -> None:
    train = _split(16, 1)
    val = TaskArrays(train.inputs, {"activity": train.targets["activity"]})
    with pytest.raises(ValueError, match=re.escape("val targets lack task(s) ['speed']")):
        train_model(TinyModel(48), SumWeighting(), train, val, TASKS, _config())


def test_lion_and_bf16_on_cpu_run() -> None:
    _, result = _train(max_epochs=1, optimizer="lion", lr=1e-3, precision="bf16")
    assert result.precision == "bf16" and math.isfinite(result.history["val_loss"].iloc[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_train_on_cuda(precision: str) -> None:
    model, result = _train(max_epochs=3, device="cuda", precision=precision, channels_last=True, ema_teacher={})
    assert result.device.startswith("cuda")
    assert result.precision == ("bf16" if precision == "auto" and torch.cuda.is_bf16_supported() else precision if precision != "auto" else "fp16")
    assert np.isfinite(result.history["val_loss"]).all()
    assert all(v.device.type == "cpu" for v in result.best_state.values())
    out = predict(model, _split(8, 3), device="cuda", input_transform=result.input_transform)
    assert out["speed"].shape == (8,) and np.isfinite(out["speed"]).all()


# ------------------------------------------------------------------------------------ lr schedule
def test_lr_factor_warmup_ramp() -> None:
    assert [lr_factor(step, 10, 4, "constant") for step in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [lr_factor(step, 10, 2, "cosine") for step in range(2)] == [0.5, 1.0]


def test_lr_factor_cosine_start_middle_end() -> None:
    # no warm-up: 1 at step 0, 0.5 half-way, 0 at total_steps (and beyond)
    assert lr_factor(0, 10, 0, "cosine") == 1.0
    assert lr_factor(5, 10, 0, "cosine") == pytest.approx(0.5, abs=1e-15)
    assert lr_factor(10, 10, 0, "cosine") == 0.0
    assert lr_factor(15, 10, 0, "cosine") == 0.0
    assert lr_factor(2, 10, 0, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.2)), abs=1e-15)
    # warm-up of 2: the cosine starts after it, t = (step - 2) / 8
    assert lr_factor(2, 10, 2, "cosine") == 1.0
    assert lr_factor(4, 10, 2, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)), abs=1e-15)
    assert lr_factor(6, 10, 2, "cosine") == pytest.approx(0.5, abs=1e-15)
    assert lr_factor(10, 10, 2, "cosine") == 0.0
    # monotone non-increasing after the warm-up
    values = [lr_factor(step, 20, 3, "cosine") for step in range(3, 21)]
    assert all(a >= b for a, b in zip(values, values[1:]))


def test_lr_factor_constant_and_errors() -> None:
    assert [lr_factor(step, 10, 0, "constant") for step in (0, 5, 10, 100)] == [1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=re.escape("lr schedule must be one of ['constant', 'cosine'], got 'step'")):
        lr_factor(0, 10, 0, "step")
    with pytest.raises(ValueError, match=re.escape("TrainConfig.lr_schedule must be one of ['constant', 'cosine'], got 'step'")):
        TrainConfig(lr_schedule="step")
    with pytest.raises(ValueError, match=re.escape("TrainConfig.warmup_epochs must be a number in [0, max_epochs=4], got 5")):
        TrainConfig(max_epochs=4, warmup_epochs=5)
    with pytest.raises(ValueError, match=re.escape("TrainConfig.warmup_epochs must be a number in [0, max_epochs=4], got -1")):
        TrainConfig(max_epochs=4, warmup_epochs=-1)
    assert TrainConfig.from_params({"lr_schedule": "cosine", "warmup_epochs": 0.5}).lr_schedule == "cosine"


@pytest.mark.parametrize(
    ("schedule", "warmup", "expected"),
    [
        # 64 windows / batch 16 = 4 steps per epoch, 3 epochs = 12 steps; the row's lr is the one of the epoch's
        # first step (steps 0, 4, 8)
        ("cosine", 1, [0.25, 1.0, 0.5]),  # warm-up 4 steps: 1/4 at step 0, the cosine starts at 1 at step 4
        ("cosine", 1.5, [1 / 6, 5 / 6, 0.75]),  # warm-up 6: (0 + 1) / 6, (4 + 1) / 6, t = 2 / 6 -> (1 + cos(pi/3)) / 2
        ("constant", 1.5, [1 / 6, 5 / 6, 1.0]),
        ("constant", 0, [1.0, 1.0, 1.0]),
    ],
)
def test_train_model_lr_column_follows_lr_factor(schedule: str, warmup: float, expected: list[float]) -> None:
    _, result = _train(max_epochs=3, lr_schedule=schedule, warmup_epochs=warmup)
    lr = result.history["lr"].to_numpy()
    np.testing.assert_allclose(lr, 1e-2 * np.asarray(expected), rtol=1e-9, atol=1e-15)
    steps = int(round(warmup * 4))
    np.testing.assert_allclose(lr, [1e-2 * lr_factor(4 * e, 12, steps, schedule) for e in (0, 1, 2)], rtol=1e-9, atol=1e-15)


# ------------------------------------------------------------------- model-owned input statistics
SPEC_TASKS = (TaskSpec("activity", "classification", 3), TaskSpec("speed", "regression", 1))


def _offset_split(n: int, seed: int, offset: float) -> TaskArrays:
    """_split windows moved to another level, so train and val statistics differ."""
    arrays = _split(n, seed)
    return TaskArrays(arrays.inputs * np.float32(4.0) + np.float32(offset), arrays.targets)


def test_train_model_fits_input_statistics_on_training_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    train, val = _offset_split(32, 1, 10.0), _offset_split(16, 2, -30.0)
    torch.manual_seed(0)
    model = build_model("lstm", 3, SPEC_TASKS, hidden_size=4, amplitude_features=True)
    calls: list[tuple[np.ndarray, ...]] = []
    original = model.fit_input_statistics
    monkeypatch.setattr(model, "fit_input_statistics", lambda *inputs: (calls.append(inputs), original(*inputs))[1])
    train_model(model, SumWeighting(), train, val, SPEC_TASKS, _config(max_epochs=1))
    assert len(calls) == 1 and len(calls[0]) == 1 and calls[0][0] is train.inputs
    # the buffers after training (restored best state) are the TRAINING windows' statistics
    mean, std = channel_statistics(train.inputs)
    np.testing.assert_allclose(model.input_loc.numpy(), mean, rtol=1e-6)
    np.testing.assert_allclose(model.input_scale.numpy(), std, rtol=1e-6)
    x64 = train.inputs.astype(np.float64)
    np.testing.assert_allclose(model.input_loc.numpy(), x64.mean(axis=(0, 2)), rtol=1e-6)
    np.testing.assert_allclose(model.input_scale.numpy(), x64.std(axis=(0, 2)), rtol=1e-5)
    stats = amplitude_statistics_numpy(train.inputs)
    np.testing.assert_allclose(model.amplitude.loc.numpy(), stats.mean(0), rtol=1e-6)
    np.testing.assert_allclose(model.amplitude.scale.numpy(), stats.std(0), rtol=1e-6)
    val_mean, _ = channel_statistics(val.inputs)
    assert not np.allclose(model.input_loc.numpy(), val_mean, rtol=0.1)


def test_trained_lstm_predicts_without_outside_scaling() -> None:
    train, val = _offset_split(32, 1, 10.0), _offset_split(16, 2, 10.0)
    torch.manual_seed(0)
    model = build_model("gru", 3, SPEC_TASKS, hidden_size=4)
    result = train_model(model, SumWeighting(), train, val, SPEC_TASKS, _config(max_epochs=1))
    assert result.input_transform is to_float
    out = predict(model, val, batch_size=5, device="cpu")
    with torch.no_grad():
        expected = model.predict(torch.from_numpy(val.inputs))
    np.testing.assert_allclose(out["speed"], expected["speed"].numpy(), rtol=1e-5, atol=1e-6)
    # the same as predicting from the raw array without a transform
    np.testing.assert_allclose(predict(model, val.inputs, device="cpu")["speed"], out["speed"], rtol=0, atol=0)


# --------------------------------------------------------------------------------- two-input model
def _two_input_split(n: int, seed: int) -> TaskArrays:
    arrays = _split(n, seed)
    counts = encode_recurrence_plots(arrays.inputs, resolution=4)  # (n, 3, 4, 4) uint8 counts
    return TaskArrays((counts, arrays.inputs), arrays.targets)


def test_two_input_model_trains_and_predicts_on_the_tuple() -> None:
    train, val = _two_input_split(16, 1), _two_input_split(8, 2)
    torch.manual_seed(0)
    model = build_model("mobilenetv2", 3, SPEC_TASKS, amplitude_features=True, recurrence_cell=4)
    assert model.input_names == ("recurrence_plots", "windows")
    result = train_model(model, SumWeighting(), train, val, SPEC_TASKS, _config(max_epochs=1, batch_size=4))
    assert result.input_transform == (to_float, to_float)
    assert len(result.history) == 1 and np.isfinite(result.history["val_loss"]).all()
    stats = amplitude_statistics_numpy(train.input_arrays[1])
    np.testing.assert_allclose(model.amplitude.loc.numpy(), stats.mean(0), rtol=1e-6)
    out = predict(model, val.inputs, batch_size=3, device="cpu", return_embedding=True)
    assert set(out) == {"activity", "activity_proba", "speed", "embedding"}
    assert out["activity"].shape == (8,) and out["activity_proba"].shape == (8, 3) and out["speed"].shape == (8,)
    assert out["embedding"].shape == (8, 64)
    with torch.no_grad():
        expected = model.predict(*(torch.from_numpy(a).float() for a in val.input_arrays))
    np.testing.assert_allclose(out["speed"], expected["speed"].numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(predict(model, val, device="cpu")["speed"], out["speed"], rtol=1e-6, atol=1e-6)
    # the raw window matters: same plots, other amplitudes -> other predictions
    moved = (val.input_arrays[0], val.input_arrays[1] * np.float32(3.0))
    assert not np.allclose(predict(model, moved, device="cpu")["speed"], out["speed"])


# ----------------------------------------------------------------------------------- weighted draws
class RecordingModel(TinyModel):
    """TinyModel that records the first value of every training window it sees."""

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features)
        self.seen: list[float] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training:
            self.seen.extend(x[:, 0, 0].tolist())
        return super().forward(x)


def test_sample_weights_change_the_drawn_batches() -> None:
    train, val = _split(32, 1), _split(16, 2)
    weights = np.zeros(32)
    weights[[5, 9]] = 1.0  # only windows 5 and 9 may be drawn
    torch.manual_seed(0)
    weighted = RecordingModel(48)
    result = train_model(weighted, SumWeighting(), train, val, TASKS, _config(max_epochs=2, batch_size=8), sample_weights=weights)
    assert len(weighted.seen) == 2 * 32  # an epoch still draws len(train) windows
    assert set(weighted.seen) <= {float(train.inputs[5, 0, 0]), float(train.inputs[9, 0, 0])}
    assert len(set(weighted.seen)) == 2
    torch.manual_seed(0)
    plain = RecordingModel(48)
    plain_result = train_model(plain, SumWeighting(), train, val, TASKS, _config(max_epochs=2, batch_size=8))
    assert sorted(plain.seen[:32]) == sorted(train.inputs[:, 0, 0].tolist())  # every window once
    assert not np.array_equal(result.history["train_loss"], plain_result.history["train_loss"])
    # subject-balanced weights are accepted as they are
    groups = np.repeat(["a", "b"], [24, 8])
    balanced = train_model(
        TinyModel(48), SumWeighting(), train, val, TASKS, _config(max_epochs=1), sample_weights=group_balanced_weights(groups)
    )
    assert np.isfinite(balanced.history["train_loss"]).all()
    msg = "sample_weights must be 32 finite non-negative numbers with a positive sum, got shape (3,)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        train_model(TinyModel(48), SumWeighting(), train, val, TASKS, _config(max_epochs=1), sample_weights=np.ones(3))


def _bagged_split(n_recordings: int, per: int, seed: int) -> tuple[TaskArrays, np.ndarray]:
    """``_split`` with each recording's labels shared by its ``per`` windows; returns the split and the bags."""
    base = _split(n_recordings, seed)
    x = np.repeat(base.inputs, per, axis=0) + np.random.default_rng(seed).normal(0, 0.1, (n_recordings * per, 3, 16)).astype(np.float32)
    targets = {name: np.repeat(values, per) for name, values in base.targets.items()}
    return TaskArrays(x.astype(np.float32), targets), np.repeat([f"r{i}" for i in range(n_recordings)], per)


def test_pool_bags_averages_consecutive_windows() -> None:
    pooled = engine.pool_bags({"speed": torch.tensor([1.0, 3.0, 5.0, 9.0]), "activity": torch.arange(8.0).reshape(4, 2)}, 2)
    assert pooled["speed"].tolist() == [2.0, 7.0]
    assert pooled["activity"].tolist() == [[1.0, 2.0], [5.0, 6.0]]


def test_bag_training_sees_whole_bags_of_one_recording_and_learns() -> None:
    train, bags = _bagged_split(16, 4, 1)
    val, _ = _bagged_split(8, 2, 2)
    torch.manual_seed(0)
    model = RecordingModel(48)
    result = train_model(model, SumWeighting(), train, val, TASKS, _config(max_epochs=3, batch_size=8, bag_size=4), bags=bags)
    first = {float(v): b for v, b in zip(train.inputs[:, 0, 0], bags)}
    seen = [first[v] for v in model.seen]
    assert len(seen) == 3 * 64 and all(len(set(seen[i : i + 4])) == 1 for i in range(0, len(seen), 4))
    assert result.history["val_loss"].iloc[-1] < result.history["val_loss"].iloc[0]
    assert result.history["val_activity_accuracy"].iloc[-1] > 0.5


def test_bag_training_needs_bags_and_labels_shared_within_a_recording() -> None:
    train, bags = _bagged_split(8, 4, 1)
    val, _ = _bagged_split(4, 2, 2)
    with pytest.raises(ValueError, match=re.escape("training.bag_size=4 needs the recording of each of the 32 training windows")):
        train_model(TinyModel(48), SumWeighting(), train, val, TASKS, _config(max_epochs=1, bag_size=4))
    train.targets["speed"][1] = 99.0
    message = "training.bag_size > 1 pools the windows of one recording, but task 'speed' has 2 different labels within recording 'r0'"
    with pytest.raises(ValueError, match=re.escape(message)):
        train_model(TinyModel(48), SumWeighting(), train, val, TASKS, _config(max_epochs=1, bag_size=4), bags=bags)
    with pytest.raises(ValueError, match=re.escape("TrainConfig.bag_size must be <= batch_size=16, got 32")):
        _config(bag_size=32)


# --------------------------------------------------------------------------------- force scaling
def test_scale_forces_rescales_the_window_and_the_physical_labels_exactly() -> None:
    plots = torch.ones(2, 1, 2, 2)
    window = torch.tensor([[[1.0, 2.0]], [[4.0, 8.0]]])  # (2, 1, 2)
    targets = {"weight": torch.tensor([0.0, 1.0]), "speed": torch.tensor([0.5, float("nan")]), "activity": torch.tensor([1, 0])}
    (plots_out, window_out), out = engine.scale_forces(
        (plots, window), targets, torch.tensor([2.0, 0.5]), {"weight": (70.0, 10.0), "speed": (4.0, 2.0)}
    )
    assert plots_out is plots  # recurrence plots do not change with the force level
    assert window_out.tolist() == [[[2.0, 4.0]], [[2.0, 4.0]]]
    # weight 70 kg -> 140 kg (z 7), 80 kg -> 40 kg (z -3); speed 5 km/h -> 10 km/h (z 3), unlabelled stays NaN
    assert out["weight"].tolist() == [7.0, -3.0]
    assert out["speed"][0].item() == 3.0 and math.isnan(out["speed"][1].item())
    assert out["activity"] is targets["activity"]


def test_scale_forces_rescales_only_the_listed_channels_exactly() -> None:
    window = torch.tensor([[[1.0, 3.0], [0.1, 0.7], [5.0, 7.0]], [[2.0, 6.0], [0.3, 0.9], [1.0, 3.0]]])  # (2, 3, 2)
    factors = torch.tensor([1.1, 0.9])
    (window_out,), out = engine.scale_forces((window,), {"weight": torch.tensor([0.0, 1.0])}, factors, {"weight": (70.0, 10.0)}, [0, 2])
    expected = window.clone()
    expected[:, [0, 2]] *= factors[:, None, None]
    assert torch.equal(window_out, expected)
    assert torch.equal(window_out[:, 1], window[:, 1])  # an accelerometer reads no heavier wearer: bit for bit as given
    (every,), _ = engine.scale_forces((window,), {}, factors, {}, None)
    assert torch.equal(every, window * factors[:, None, None])
    assert out["weight"].tolist() == pytest.approx([0.7, 0.2], rel=1e-6)  # 70 kg x 1.1 = 77 (z 0.7), 80 kg x 0.9 = 72 (z 0.2)


def test_force_scaling_factors_are_one_per_bag_within_the_range_and_seeded() -> None:
    factors = engine.force_scaling_factors(50, 4, 0.2, torch.Generator().manual_seed(3))
    assert factors.shape == (200,) and factors.dtype == torch.float32
    per_bag = factors.reshape(50, 4)
    assert (per_bag == per_bag[:, :1]).all()
    assert factors.min() >= 0.8 and factors.max() <= 1.2 and per_bag[:, 0].unique().numel() == 50
    again = engine.force_scaling_factors(50, 4, 0.2, torch.Generator().manual_seed(3))
    assert torch.equal(factors, again)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ([0.1], TypeError, "TrainConfig.force_scaling must be a mapping or None, got list"),
        ({"half_width": 0.1}, ValueError, "TrainConfig.force_scaling needs the keys ['half_width', 'tasks'] and may have 'channels', got ['half_width']"),
        ({"half_width": 0.1, "tasks": ["weight"], "chanels": [0]}, ValueError, "TrainConfig.force_scaling needs the keys ['half_width', 'tasks'] and may have 'channels', got ['chanels', 'half_width', 'tasks']"),
        ({"half_width": 0.1, "tasks": ["weight"], "channels": "fsr1_R"}, ValueError, "TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got 'fsr1_R'"),
        ({"half_width": 0.1, "tasks": ["weight"], "channels": []}, ValueError, "TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got []"),
        ({"half_width": 0.1, "tasks": ["weight"], "channels": [1, 1]}, ValueError, "TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got [1, 1]"),
        ({"half_width": 0.1, "tasks": ["weight"], "channels": [-1]}, ValueError, "TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got [-1]"),
        ({"half_width": 0.1, "tasks": ["weight"], "channels": [True]}, ValueError, "TrainConfig.force_scaling.channels must be None (every channel) or distinct non-negative positions, got [True]"),
        ({"half_width": 1.0, "tasks": ["weight"]}, ValueError, "TrainConfig.force_scaling.half_width must be a number in (0, 1), got 1.0"),
        ({"half_width": True, "tasks": ["weight"]}, ValueError, "TrainConfig.force_scaling.half_width must be a number in (0, 1), got True"),
        ({"half_width": 0.1, "tasks": "weight"}, ValueError, "TrainConfig.force_scaling.tasks must be a non-empty list of task names, got 'weight'"),
        ({"half_width": 0.1, "tasks": []}, ValueError, "TrainConfig.force_scaling.tasks must be a non-empty list of task names, got []"),
    ],
)  # fmt: skip
def test_force_scaling_options_are_checked(options, error, message) -> None:
    with pytest.raises(error, match=re.escape(message)):
        _config(force_scaling=options)


class WindowRecordingModel(TinyModel):
    """TinyModel that reads the raw window (the contract ``force_scaling`` needs) and records the first two values
    of every training window it sees."""

    input_names = ("windows",)

    def __init__(self, in_features: int) -> None:
        super().__init__(in_features)
        self.seen: list[list[float]] = []

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.training:
            self.seen.extend(x[:, 0, :2].tolist())
        return super().forward(x)


def test_force_scaling_trains_on_rescaled_bags_with_their_labels_rescaled(monkeypatch: pytest.MonkeyPatch) -> None:
    train, bags = _bagged_split(16, 4, 1)
    train.inputs[:, 0, 0] = np.arange(1, 65)  # window i reads i + 1 first, then 1: a seen window says i and s
    train.inputs[:, 0, 1] = 1.0
    val, _ = _bagged_split(8, 2, 2)
    seen_targets: list[torch.Tensor] = []
    original = engine.masked_task_losses
    monkeypatch.setattr(engine, "masked_task_losses", lambda outputs, targets, *a, **k: (seen_targets.append(targets.get("speed", torch.full_like(outputs["speed"], float("nan")))), original(outputs, targets, *a, **k))[1])  # fmt: skip
    torch.manual_seed(0)
    model = WindowRecordingModel(48)
    config = _config(max_epochs=2, batch_size=8, bag_size=4, force_scaling={"half_width": 0.25, "tasks": ["speed"]})
    result = train_model(model, SumWeighting(), train, val, TASKS, config, bags=bags)
    loc, scale = result.target_scaling["speed"]
    seen = np.asarray(model.seen).reshape(-1, 4, 2)  # (bags, windows of the bag, (value, factor)), in training order
    factors = seen[:, :, 1]
    windows = np.rint(seen[:, :, 0] / factors).astype(int) - 1
    targets = torch.cat(seen_targets).detach().numpy()  # the pooled bag targets: one per bag (NaN: a batch without)
    assert len(seen) == len(targets) == 2 * 16
    assert (factors == factors[:, :1]).all() and factors.min() >= 0.75 and factors.max() <= 1.25
    assert len(np.unique(factors[:, 0])) == len(factors)  # a fresh factor for every bag
    assert all(len(set(bags[w])) == 1 for w in windows)  # still whole bags of one recording
    labels = train.targets["speed"][windows[:, 0]]
    np.testing.assert_array_equal(np.isnan(targets), np.isnan(labels))
    known = ~np.isnan(labels)
    assert known.sum() > 10
    np.testing.assert_allclose(targets[known] * scale + loc, labels[known] * factors[known, 0], rtol=1e-5)
    # the same seed repeats the draws
    torch.manual_seed(0)
    again = WindowRecordingModel(48)
    train_model(again, SumWeighting(), train, val, TASKS, config, bags=bags)
    assert again.seen == model.seen


def test_force_scaling_leaves_the_unlisted_channels_of_every_training_window_as_given() -> None:
    train, bags = _bagged_split(16, 4, 1)
    val, _ = _bagged_split(8, 2, 2)
    config = _config(max_epochs=1, batch_size=8, bag_size=4, force_scaling={"half_width": 0.25, "tasks": ["speed"], "channels": [1, 2]})
    seen: list[torch.Tensor] = []

    class Recording(WindowRecordingModel):
        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            if self.training:
                seen.append(x.detach().clone())
            return super().forward(x)

    torch.manual_seed(0)
    train_model(Recording(48), SumWeighting(), train, val, TASKS, config, bags=bags)
    windows = torch.cat(seen)
    assert windows.shape == (64, 3, 16)
    originals = torch.as_tensor(train.inputs)
    # channel 0 of every window it trained on is one of the training windows' channel 0, untouched
    matches = (windows[:, None, 0, :] == originals[None, :, 0, :]).all(dim=-1)
    assert matches.any(dim=1).all()
    rows = matches.float().argmax(dim=1)
    ratio = windows[:, 1:, :] / originals[rows][:, 1:, :]
    assert not torch.allclose(ratio, torch.ones_like(ratio))  # channels 1 and 2 were rescaled
    torch.testing.assert_close(ratio, ratio[:, :1, :1].expand_as(ratio))  # by one factor per window


def test_force_scaling_channel_positions_beyond_the_window_are_refused() -> None:
    train, bags = _bagged_split(16, 4, 1)
    val, _ = _bagged_split(8, 2, 2)
    config = _config(max_epochs=1, batch_size=8, bag_size=4, force_scaling={"half_width": 0.25, "tasks": ["speed"], "channels": [2, 3, 5]})
    with pytest.raises(ValueError, match=re.escape("training.force_scaling.channels positions [3, 5] are beyond the raw window's 3 channels")):
        train_model(WindowRecordingModel(48), SumWeighting(), train, val, TASKS, config, bags=bags)


def test_force_scaling_needs_a_regression_task_and_a_model_that_reads_the_raw_window() -> None:
    train, val = _split(16, 1), _split(8, 2)
    config = _config(max_epochs=1, force_scaling={"half_width": 0.1, "tasks": ["weight"]})
    with pytest.raises(ValueError, match=re.escape("training.force_scaling.tasks ['weight'] are not regression tasks of this run (['speed'])")):
        train_model(WindowRecordingModel(48), SumWeighting(), train, val, TASKS, config)
    config = _config(max_epochs=1, force_scaling={"half_width": 0.1, "tasks": ["speed"]})
    message = ("training.force_scaling rescales the raw window, but TinyModel reads []: use a raw-signal model or "
               "model.options.amplitude_features: true")  # fmt: skip
    with pytest.raises(ValueError, match=re.escape(message)):
        train_model(TinyModel(48), SumWeighting(), train, val, TASKS, config)
    plots = build_model("mobilenetv2", 3, SPEC_TASKS, recurrence_cell=4)
    with pytest.raises(ValueError, match=re.escape("but MultitaskMobileNetV2 reads ['recurrence_plots']")):
        train_model(plots, SumWeighting(), _two_input_split(8, 1), _two_input_split(4, 2), SPEC_TASKS, config)
