"""Timing helpers: warm-up then timed calls, ms summaries, eager PyTorch latency."""

import re

import pytest
import torch

from insole_mtl.efficiency.latency import summarise_ms, time_calls, torch_latency


def test_time_calls_runs_warmup_untimed_then_repeats():
    calls = []
    seconds = time_calls(lambda: calls.append(1), warmup=3, repeats=4)
    assert len(calls) == 7 and len(seconds) == 4 and all(s >= 0 for s in seconds)


def test_summarise_ms_exact_values():
    assert summarise_ms([0.001, 0.003]) == {"mean": 2.0, "std": pytest.approx(2**0.5), "median": 2.0, "min": 1.0}


def test_time_calls_rejects_bad_counts():
    with pytest.raises(ValueError, match=re.escape("warmup must be >= 0 and repeats >= 1, got warmup=0, repeats=0")):
        time_calls(lambda: None, warmup=0, repeats=0)


def test_torch_latency_sets_eval_mode():
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.5))
    stats = torch_latency(model, torch.zeros(1, 3), warmup=1, repeats=2)
    assert not model.training and set(stats) == {"mean", "std", "median", "min"}
