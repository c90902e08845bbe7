"""A small untrained model with the training node's metadata, for fast in-process tests."""

from __future__ import annotations

import numpy as np
import torch

from insole_mtl.models import build_model
from insole_mtl.models.base import TaskSpec

CHANNELS = ["x_R", "y_R", "z_R", "x_L", "y_L", "z_L", "fsr1_R", "fsr2_R", "fsr3_R", "fsr4_R", "fsr1_L", "fsr2_L", "fsr3_L", "fsr4_L"]
CLASSES = ["Stand Still", "Treadmill Walk", "Treadmill Run", "Ground Walk", "Squat", "Lunge", "Jumping Jack"]
TASKS = {"activity": {"kind": "classification", "classes": CLASSES}, "speed": {"kind": "regression"}, "weight": {"kind": "regression"}}


def windows(n: int = 12, seed: int = 0, length: int = 160) -> np.ndarray:
    """Insole-like raw windows (n, 14, length) float32: accelerometer around +-10, FSR counts around 300."""
    rng = np.random.default_rng(seed)
    t = np.arange(length) / 40.0
    phase = rng.uniform(0, 2 * np.pi, (n, 14, 1))
    freq = rng.uniform(0.5, 2.5, (n, 1, 1))
    base = np.sin(2 * np.pi * freq * t + phase)
    scale = np.array([10.0] * 6 + [300.0] * 8)[None, :, None]
    offset = np.array([0.0, 9.8, 0.0, 0.0, 9.8, 0.0] + [300.0] * 8)[None, :, None]
    return (offset + scale * base + rng.normal(0, 0.5, base.shape)).astype(np.float32)


def small_model(name: str = "mobilenetv2", resolution: int | None = 40, seed: int = 0, **options):
    torch.manual_seed(seed)
    specs = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
    if name == "mobilenetv2":
        options = {"amplitude_features": True, "recurrence_cell": 160 // resolution if resolution else 1, **options}
    model = build_model(name, in_channels=14, tasks=specs, **options)
    w = windows(64, seed=seed + 1)
    inputs = tuple(w if n == "windows" else np.zeros((64, 14, 40, 40), np.uint8) for n in model.input_names)
    model.fit_input_statistics(*inputs)
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 10.0)
    model.preprocessing = {
        "channels": CHANNELS, "window_length": 160, "input_names": list(model.input_names),
        "recurrence": {"percentage": 10.0, "resolution": resolution} if "recurrence_plots" in model.input_names else None,
    }
    return model.eval()
