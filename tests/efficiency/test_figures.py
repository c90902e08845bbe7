"""Per-run efficiency figures (the protocol's), for one-input and multi-input models."""

import re

import pytest
import torch

from insole_mtl.efficiency.complexity import count_parameters
from insole_mtl.models import TaskSpec, build_model
from insole_mtl.efficiency.complexity import count_macs
from insole_mtl.efficiency.figures import model_efficiency
from insole_mtl.efficiency.memory import saved_activation_bytes

TASKS = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1)]


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
    assert figures["macs"] == count_macs(model, (14, 20)) and figures["macs_with_elementwise"] >= figures["macs"]
    assert figures["model_size_mb"] > 0 and figures["latency_ms_cpu_bs1"] > 0
    param_mb = 4 * 4 * count_parameters(model) / 2**20
    assert figures["train_memory_mb"] == pytest.approx(param_mb + 4 * figures["activation_mb_per_window"])
    # cuda: false -> no CUDA figure, whether or not this machine has a GPU
    assert figures["latency_ms_cuda_bs1"] is None and figures["cuda_peak_train_mb"] is None
    with pytest.raises(ValueError, match=re.escape("protocol.efficiency: unknown key(s) ['repeat']")):
        model_efficiency(model, torch.zeros(1, 14, 20), {"repeat": 2})


def test_model_efficiency_of_a_plot_model_with_amplitude_features():
    # two inputs (recurrence counts 40 x 40 and the raw window): every figure is measured on both
    torch.manual_seed(0)
    model = build_model("mobilenetv2", 3, TASKS, amplitude_features=True, recurrence_cell=4)
    example = (torch.zeros(1, 3, 40, 40), torch.zeros(1, 3, 160))
    figures = model_efficiency(model, example, {"warmup": 0, "repeats": 1, "cuda": False, "memory_batch_size": 2})
    assert figures["macs"] == count_macs(model, ((3, 40, 40), (3, 160)))
    assert figures["macs_with_elementwise"] > figures["macs"] > 0
    assert figures["activation_mb_per_window"] > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_model_efficiency_on_cuda():
    model = build_model("gru", 14, TASKS, hidden_size=8, num_layers=1)
    figures = model_efficiency(model, torch.zeros(1, 14, 20), {"warmup": 1, "repeats": 2, "cuda": True, "memory_batch_size": 4})
    assert figures["latency_ms_cuda_bs1"] > 0 and figures["cuda_peak_train_mb"] > 0
