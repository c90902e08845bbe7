"""Which process an MLflow run belongs to, and whether it still lives (KilledRunMlflowHook); run names and tags."""

from __future__ import annotations

import os
import subprocess
import sys

from insole_mtl.hooks import _process_alive, _process_start, run_description


def test_a_live_process_with_its_start_time_is_alive_and_a_finished_one_is_not():
    me = os.getpid()
    start = _process_start(me)
    assert start.isdigit()
    assert _process_alive(me, start) and _process_alive(me, "")
    assert not _process_alive(me, str(int(start) + 1))  # same pid, another process (a reused pid)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not _process_alive(child.pid, "")
    assert _process_start(child.pid) == ""


def test_a_run_is_tagged_with_the_amplitude_branch_its_model_builds_without_the_option():
    """``amplitude_features`` left out: the family's constructor default (on for cnn1d, off for MobileNetV2)."""
    base = {"loss_weighting": {"method": "uniform"}, "training": {"seed": 0}, "recurrence": {"resolution": 40}}
    name, tags = run_description("insole_mtl", "test", {**base, "model": {"name": "cnn1d", "options": {}, "tasks": ["activity"]}})
    assert name == "insole_mtl · cnn1d+amp · uniform · test · seed 0" and tags["insole.amplitude_features"] == "True"
    name, tags = run_description("insole_mtl", "test", {**base, "model": {"name": "mobilenetv2", "tasks": ["activity"]}})
    assert name == "insole_mtl · mobilenetv2@40 · uniform · test · seed 0" and tags["insole.amplitude_features"] == "False"


def test_a_run_is_named_after_what_it_trained_ensembles_with_their_size():
    params = {
        "model": {"name": "cnn1d", "options": {"amplitude_features": True}, "tasks": ["activity"]},
        "loss_weighting": {"method": "uncertainty"}, "training": {"seed": 42, "ensemble": 5}, "recurrence": {"resolution": 40},
    }  # fmt: skip
    name, tags = run_description("insole_mtl", "gaitpdb", params)
    assert name == "insole_mtl · cnn1d+amp×5 · uncertainty · gaitpdb · seed 42"
    assert tags["insole.ensemble"] == "5" and tags["insole.model_family"] == "cnn1d+amp×5"
    single = run_description("insole_mtl", "gaitpdb", {**params, "training": {"seed": 42}})
    assert single[0] == "insole_mtl · cnn1d+amp · uncertainty · gaitpdb · seed 42" and single[1]["insole.ensemble"] == "1"
