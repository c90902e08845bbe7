"""Per-run efficiency figures of a protocol model."""

import re

import numpy as np
import pytest
import torch

from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models.complexity import count_parameters
from insole_mtl.models import TaskSpec, build_model
from insole_mtl.protocol.efficiency import example_window, model_efficiency, saved_activation_bytes

TASKS = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1)]


def test_example_window_unpacks_plots_and_keeps_raw_windows():
    windows = np.random.default_rng(0).normal(size=(3, 14, 16)).astype(np.float32)
    packed = encode_recurrence_plots(windows, percentage=10.0, chunk_size=8)
    plots = example_window(packed)
    assert plots.shape == (1, 14, 16, 16) and plots.dtype == torch.float32
    assert set(plots.unique().tolist()) <= {0.0, 1.0}
    assert example_window(windows).shape == (1, 14, 16)
    with pytest.raises(ValueError, match="expected packed plots"):
        example_window(np.zeros((2, 3), np.float32))


def test_saved_activations_scale_with_the_input_and_leave_the_model_untouched():
    torch.manual_seed(0)
    model = build_model("mobilenetv2", 14, TASKS).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    small = saved_activation_bytes(model, torch.ones(1, 14, 16, 16))
    large = saved_activation_bytes(model, torch.ones(1, 14, 32, 32))
    assert 0 < small < large
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # BN statistics untouched


def test_model_efficiency_reports_counts_latency_and_memory():
    torch.manual_seed(0)
    model = build_model("gru", 14, TASKS, hidden_size=8, num_layers=1)
    figures = model_efficiency(model, torch.zeros(1, 14, 20), {"warmup": 0, "repeats": 2, "cuda": False, "memory_batch_size": 4})
    assert figures["params"] == count_parameters(model)
    assert figures["macs"] > 0 and figures["size_mb"] > 0 and figures["latency_cpu_ms"] > 0
    param_mb = 4 * 4 * count_parameters(model) / 2**20
    assert figures["train_memory_mb"] == pytest.approx(param_mb + 4 * figures["activation_mb_per_window"])
    assert figures["latency_cuda_ms"] is None or torch.cuda.is_available()
    with pytest.raises(ValueError, match=re.escape("protocol.efficiency: unknown key(s) ['repeat']")):
        model_efficiency(model, torch.zeros(1, 14, 20), {"repeat": 2})
