"""Shared tiny multitask models for the edge tests: one per kind of model input.

* ``tiny_model`` / ``binary_inputs``: a 2-channel MobileNetV2 fed a single float tensor (the one-input
  shorthand of the edge API);
* ``CASES``: ``paper`` (MobileNetV2 on bit-packed 32 x 32 plots), ``counts_amplitude`` (MobileNetV2 on
  40 x 40 recurrence counts with ``amplitude_features=True``: two inputs) and ``cnn1d`` (raw windows),
  each with its stored split arrays as the encoding stage writes them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from insole_mtl.efficiency.inference import model_inputs
from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models import TaskSpec, build_model

TASKS = [TaskSpec("activity", "classification", 3), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
CHANNELS = 4


def _perturb(model: torch.nn.Module) -> torch.nn.Module:
    """Make BatchNorm, heads and target scaling matter (defaults are identity / ~0)."""
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, 0.0, 0.5)
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 12.0)
    return model.eval()


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """A 2-channel MobileNetV2 with one small bottleneck, non-trivial BN statistics and target scaling."""
    torch.manual_seed(seed)
    model = build_model(
        "mobilenetv2", 2, TASKS, bottlenecks=[(2, 8, 1, 1)], stem_channels=8, last_channels=16, embedding_dim=8
    )
    return _perturb(model)


def binary_inputs(n: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 2, 16, 16), generator=generator) < 0.3).float()


@pytest.fixture(scope="module")
def model():
    return tiny_model()


# ------------------------------------------------------------------------------------------------
# One model per kind of input, with stored split arrays
# ------------------------------------------------------------------------------------------------
_SMALL_MOBILENET = {"bottlenecks": [(2, 8, 1, 1)], "stem_channels": 8, "last_channels": 16, "embedding_dim": 8}

#: case -> (registry name, options, window length, recurrence-plot resolution: None = packed full plots)
CASE_SPECS = {
    "paper": ("mobilenetv2", _SMALL_MOBILENET, 32, None),
    "counts_amplitude": ("mobilenetv2", {**_SMALL_MOBILENET, "recurrence_cell": 4, "amplitude_features": True}, 160, 40),
    "cnn1d": ("cnn1d", {"width": 8}, 32, None),
}
CASES = tuple(CASE_SPECS)


def raw_windows(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Random raw windows ``(n, CHANNELS, length)`` float32 in sensor-like units (offset and scale)."""
    rng = np.random.default_rng(seed)
    return (50.0 + 20.0 * rng.standard_normal((n, CHANNELS, length))).astype(np.float32)


def stored_arrays(case: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``{"recurrence_plots", "windows"}`` of one split as stored: packed plots or counts, raw windows.

    A raw-signal model's run stores NO plots (0 windows), as the encoding stage skips them.
    """
    name, _, length, resolution = CASE_SPECS[case]
    windows = raw_windows(n, length, seed)
    if name == "mobilenetv2":
        plots = encode_recurrence_plots(windows, percentage=20.0, resolution=resolution)
    else:
        plots = np.zeros((0, CHANNELS, length, (length + 7) // 8), dtype=np.uint8)
    return {"recurrence_plots": plots, "windows": windows}


def build_case_model(case: str, seed: int = 0) -> torch.nn.Module:
    """The case's model, with non-trivial statistics, fitted input statistics and (the registry records ``build_spec``)."""
    name, options, _, _ = CASE_SPECS[case]
    torch.manual_seed(seed)
    model = build_model(name, CHANNELS, TASKS, **options)
    train = stored_arrays(case, 16, seed=seed + 100)
    model.fit_input_statistics(*(train[input_name] for input_name in model.input_names))
    return _perturb(model)


def case_inputs(model: torch.nn.Module, case: str, n: int, seed: int = 1) -> tuple[torch.Tensor, ...]:
    """Model-ready inputs ``(n, ...)`` of the case (a tuple in ``input_names`` order)."""
    return model_inputs(model, stored_arrays(case, n, seed))
