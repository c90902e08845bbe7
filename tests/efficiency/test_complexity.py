"""Tests of parameter, MAC and size counting."""

from __future__ import annotations

import io
import re

import pytest
import torch
from torch import nn

from insole_mtl.efficiency.complexity import count_macs, count_parameters, model_size_mb
from insole_mtl.models.mobilenet import MultitaskMobileNetV2
from insole_mtl.models.recurrent import RecurrentMultitaskNet
from insole_mtl.models import TaskSpec

TASKS = (
    TaskSpec("activity", "classification", 7),
    TaskSpec("speed", "regression", 1),
    TaskSpec("weight", "regression", 1),
)


def test_count_parameters_trainable_only() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))  # 8 + 4 params, BN buffers excluded
    assert count_parameters(model) == 12
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 6


def test_count_macs_exact_on_tiny_modules() -> None:
    # conv: 3x3 kernel * 2 in * 4 out per position on a 5x5 output = 1800, + bias 100
    conv = nn.Conv2d(2, 4, 3, padding=1)
    assert count_macs(conv, (2, 5, 5)) == 1800 + 100
    assert count_macs(nn.Linear(10, 3), (10,)) == 33
    # BN on 4 x 5 x 5: 2 per element, counted only with include_elementwise=True (not the paper's MACs)
    block = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU6())
    assert count_macs(block, (2, 5, 5)) == 1800
    assert count_macs(block, (2, 5, 5), include_elementwise=True) == 1800 + 200 + 100


def test_count_macs_dict_model_and_restores_mode() -> None:
    # Table II MobileNetV2 at 160 x 160, batch 1. Paper: 0.340 GMACs.
    model = MultitaskMobileNetV2(14, TASKS).train()
    assert count_macs(model, (14, 160, 160), include_elementwise=True) == 307_699_977  # with BN/ReLU6/pool element counts
    assert model.training


def test_count_macs_conv_linear_only_mobilenet() -> None:
    model = MultitaskMobileNetV2(14, TASKS)
    assert count_macs(model, (14, 160, 160)) == 275_306_185  # the paper's definition: conv + linear


def test_count_macs_recurrent() -> None:
    model = RecurrentMultitaskNet("gru", 14, TASKS)
    assert count_macs(model, (14, 160)) == 97_223_369  # gates' matrix products and ptflops' gate ops
    assert count_macs(model, (14, 160), include_elementwise=True) == 97_223_369 + 64  # + the shared layer's ReLU


def test_count_macs_rejects_batch_shape() -> None:
    with pytest.raises(ValueError, match=re.escape("input_shape must be a non-empty tuple of positive ints")):
        count_macs(nn.Linear(2, 2), ())


def test_model_size_mb_is_serialized_state_dict() -> None:
    model = nn.Linear(256, 256)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    assert model_size_mb(model) == buffer.getbuffer().nbytes / 2**20
    # fp32 payload 257 * 256 * 4 bytes plus a small container overhead
    assert 257 * 256 * 4 / 2**20 < model_size_mb(model) < 257 * 256 * 4 / 2**20 + 0.01
