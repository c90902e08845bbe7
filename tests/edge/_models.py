"""Shared tiny multitask model for the edge tests."""

import pytest
import torch

from insole_mtl.models.registry import TaskSpec, build_model

TASKS = [TaskSpec("activity", "classification", 3), TaskSpec("speed", "regression", 1), TaskSpec("weight", "regression", 1)]


def tiny_model(seed: int = 0) -> torch.nn.Module:
    """A 2-channel MobileNetV2 with one small bottleneck, non-trivial BN statistics and target scaling."""
    torch.manual_seed(seed)
    model = build_model(
        "mobilenetv2", 2, TASKS, bottlenecks=[(2, 8, 1, 1)], stem_channels=8, last_channels=16, embedding_dim=8
    )
    for module in model.modules():  # make BatchNorm and heads matter (defaults are identity / ~0)
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, 0.0, 0.5)
    model.set_target_scaling("speed", 4.0, 2.0)
    model.set_target_scaling("weight", 70.0, 12.0)
    return model.eval()


def binary_inputs(n: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((n, 2, 16, 16), generator=generator) < 0.3).float()


@pytest.fixture(scope="module")
def model():
    return tiny_model()
