import re

import numpy as np
import pytest
import torch

from insole_mtl.benchmarks.inference import (
    BenchmarkConfig,
    evenly_spaced,
    mobilenet_options,
    model_inputs,
    single_task_models,
)
from insole_mtl.models.complexity import count_parameters
from insole_mtl.models.registry import TaskSpec, build_model


def test_evenly_spaced_is_exact():
    assert evenly_spaced(10, 3).tolist() == [0, 4, 9]  # linspace(0, 9, 3) = 0, 4.5, 9 -> rounds half to even
    assert evenly_spaced(4, None).tolist() == [0, 1, 2, 3]
    assert evenly_spaced(2, 5).tolist() == [0, 1]


def test_config_defaults_and_errors():
    assert BenchmarkConfig.from_params({"threads": None, "repeats": 5}) == BenchmarkConfig(repeats=5)
    with pytest.raises(ValueError, match=re.escape("benchmark.int8 needs benchmark.onnx")):
        BenchmarkConfig(onnx=False)
    with pytest.raises(ValueError, match=re.escape("benchmark.warmup must be >= 0 and benchmark.repeats >= 1, got 10, 0")):
        BenchmarkConfig(repeats=0)


def test_model_inputs_pass_float_plots_through():
    x = np.ones((4, 2, 8, 8), dtype=np.float32)
    out = model_inputs(x, [1, 3])
    assert out.shape == (2, 2, 8, 8) and out.dtype == torch.float32


def test_single_task_models_share_the_mtl_architecture():
    tasks = [TaskSpec("activity", "classification", 7), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]
    mtl = build_model("mobilenetv2", 14, tasks, stem_kernel=3, bottlenecks=3)
    singles = single_task_models(mtl)
    assert [m.task_names for m in singles] == [("activity",), ("speed",), ("weight",)]
    assert all(mobilenet_options(m) == mobilenet_options(mtl) for m in singles)
    heads = sum(p.numel() for p in mtl.heads.parameters())
    backbone = count_parameters(mtl) - heads
    assert sum(count_parameters(m) for m in singles) == 3 * backbone + heads
