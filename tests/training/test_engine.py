"""Training engine: config, optimizers, EMA teacher, early stopping, history, determinism, predict."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from insole_mtl.training import engine
from insole_mtl.training.data import StandardiseChannels, TaskArrays
from insole_mtl.training.engine import (
    EmaTeacher,
    TrainConfig,
    fit_target_scaling,
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
    assert isinstance(result.input_transform, StandardiseChannels)
    assert set(result.best_state) == set(model.state_dict())
    assert all(v.device.type == "cpu" for v in result.best_state.values())


def test_same_seed_same_history() -> None:
    timing = ["epoch_seconds", "data_wait_fraction", "windows_per_second"]
    _, a = _train(seed=3, max_epochs=3)
    _, b = _train(seed=3, max_epochs=3)
    _, c = _train(seed=4, max_epochs=3)
    np.testing.assert_array_equal(a.history.drop(columns=timing).to_numpy(), b.history.drop(columns=timing).to_numpy())
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


def test_early_stopping_restores_best_state(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = iter([3.0, 2.0, 2.5, 2.1, 2.2, 1.0, 0.5])
    snapshots: list[dict[str, torch.Tensor]] = []

    def fake_evaluate(model, loader, tasks, scaling, device, precision):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        loss = next(scripted)
        return {"val_activity_loss": loss, "val_activity_accuracy": 0.0, "val_speed_loss": 0.0, "val_speed_mae": 0.0, "val_loss": loss}

    monkeypatch.setattr(engine, "_evaluate", fake_evaluate)
    model, result = _train(max_epochs=7, patience=3)
    assert result.best_epoch == 2
    assert result.stopped_epoch == 5 and result.stopped_early
    assert len(result.history) == 5
    for name, value in model.state_dict().items():
        torch.testing.assert_close(value, snapshots[1][name], rtol=0, atol=0)
        torch.testing.assert_close(result.best_state[name], snapshots[1][name], rtol=0, atol=0)
    assert not torch.equal(snapshots[4]["body.1.weight"], snapshots[1]["body.1.weight"])
    assert not model.training


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
