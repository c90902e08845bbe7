"""Peak resident memory (RSS) of the pipeline's steps and of inference (issue #5; target <= 4 GB).

``python -m insole_mtl.benchmarks memory [--n-subjects 72] [--duration-scale 1.0] [--max-train-batches 20]``

Each step runs in a FRESH Python subprocess so its peak RSS (``VmHWM`` of that child) is its own
and not the high-water mark of earlier steps: cohort generation + labelling, windowing, the subject
split + Borderline-SMOTE on the training windows, recurrence-plot encoding of the training windows,
and one training epoch (optionally capped at ``--max-train-batches`` steps). Steps hand their
results to the next through ``.npy``/``.parquet`` files in a temporary folder, as Kedro does
through the catalog (the encoded plots are memory-mapped on load, as in ``catalog.yml``).
Parameters (task definitions, split, oversampling, recurrence, model, training) are read from
``conf/base/parameters*.yml`` of the project the command runs in; ``--n-subjects`` and
``--duration-scale`` (1.0 = the paper's full durations) size the synthetic cohort.

:func:`insole_mtl.efficiency.memory.inference_peak_rss` measures batch-1 inference the same way (the benchmark stage).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from insole_mtl.efficiency.memory import run_child

logger = logging.getLogger(__name__)



# --------------------------------------------------------------------------------------------------
# Pipeline steps
# --------------------------------------------------------------------------------------------------
_STEP_PRELUDE = """
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
work = Path(WORK); params = json.loads((work / "params.json").read_text())
_result = {}
"""

STEPS: dict[str, str] = {
    "cohort": """
from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort
from insole_mtl.signals.labels import label_recordings
cohort = generate_cohort(SyntheticCohortConfig.from_params(params["synthetic"]))
labels, _ = label_recordings(cohort.recording_index, cohort.subjects, params["tasks"])
cohort.recordings.to_parquet(work / "recordings.parquet"); labels.to_parquet(work / "recording_labels.parquet")
cohort.subjects.to_parquet(work / "subjects.parquet")
_result.update(samples=len(cohort.recordings), recordings=len(labels), subjects=len(cohort.subjects))
""",
    "windowing": """
from insole_mtl.signals.windows import make_windows
recordings = pd.read_parquet(work / "recordings.parquet"); labels = pd.read_parquet(work / "recording_labels.parquet")
windows, window_labels, _ = make_windows(recordings, labels, params["channels"], **params["windowing"])
np.save(work / "windows.npy", windows); window_labels.to_parquet(work / "window_labels.parquet")
_result.update(windows=len(windows), windows_mb=windows.nbytes / 2**20)
""",
    "oversampling": """
from insole_mtl.signals.split import split_subjects
from insole_mtl.signals.windows import partition_windows
from insole_mtl.signals.oversample import oversample_windows
windows = np.load(work / "windows.npy"); labels = pd.read_parquet(work / "window_labels.parquet")
split = split_subjects(pd.read_parquet(work / "subjects.parquet"), **params["split"])
parts = partition_windows(windows, labels, split); del windows
train, train_labels = parts["train"]
o = params["oversampling"]
out, out_labels, _ = oversample_windows(train, train_labels, target_ratio=float(o["target_ratio"]),
    k_neighbors=int(o["k_neighbors"]), m_neighbors=int(o["m_neighbors"]), kind=str(o["kind"]), seed=int(o["seed"]))
np.save(work / "train_windows.npy", out); out_labels.to_parquet(work / "train_labels.parquet")
val, val_labels = parts["val"]; np.save(work / "val_windows.npy", val); val_labels.to_parquet(work / "val_labels.parquet")
_result.update(train_windows=len(train), oversampled_windows=len(out), val_windows=len(val))
""",
    "encoding": """
from insole_mtl.encoding.recurrence import encode_recurrence_plots
r = params["recurrence"]
for name in ("train", "val"):
    windows = np.load(work / f"{name}_windows.npy", mmap_mode="r")
    packed = encode_recurrence_plots(np.asarray(windows), percentage=float(r["percentage"]), chunk_size=int(r["chunk_size"]))
    np.save(work / f"{name}_plots.npy", packed)
    _result[f"{name}_plots_mb"] = packed.nbytes / 2**20
    del packed, windows
""",
    "training": """
import torch
from insole_mtl.models import build_model
from insole_mtl.tasks import task_specs
from insole_mtl.training.data import TaskArrays
from insole_mtl.training.engine import TrainConfig, fit_target_scaling, train_model
from insole_mtl.training.weighting import build_weighting
m, t = params["model"], dict(params["training"])
t.update(max_epochs=1, max_train_batches_per_epoch=params["max_train_batches"], device="cpu")
specs = task_specs(params["tasks"], m.get("tasks")); names = [s.name for s in specs]
def arrays(name):
    labels = pd.read_parquet(work / f"{name}_labels.parquet")
    targets = {k: labels[k].to_numpy(np.int64 if k == "activity" else np.float64) for k in names}
    return TaskArrays(np.load(work / f"{name}_plots.npy", mmap_mode="r"), targets)
train, val = arrays("train"), arrays("val")
net = build_model(m["name"], in_channels=len(params["channels"]), tasks=specs, **dict(m.get("options") or {}))
weighting = build_weighting(params["loss_weighting"]["method"], specs, **dict(params["loss_weighting"].get("options") or {}))
fit_target_scaling(net, specs, train.targets)
train_model(net, weighting, train, val, specs, TrainConfig.from_params(t))
_result.update(train_windows=len(train), val_windows=len(val), max_train_batches=params["max_train_batches"])
""",
}


def load_parameters(conf_dir: Path) -> dict[str, Any]:
    """Merge every ``parameters*.yml`` of a Kedro conf folder (top-level keys, later files win)."""
    import yaml

    files = sorted(conf_dir.glob("parameters*.yml"))
    if not files:
        raise ValueError(f"no parameters*.yml in {conf_dir}; run from the project root or pass --conf")
    params: dict[str, Any] = {}
    for path in files:
        params.update(yaml.safe_load(path.read_text()) or {})
    return params


def step_parameters(params: Mapping[str, Any], n_subjects: int, duration_scale: float, max_train_batches: int | None) -> dict[str, Any]:
    """The parameters the steps read, with the cohort size, durations and training cap applied."""
    synthetic = {**dict(params.get("synthetic") or {}), "n_subjects": int(n_subjects), "duration_scale": float(duration_scale)}
    keys = ("channels", "tasks", "windowing", "split", "oversampling", "recurrence", "model", "loss_weighting", "training")
    missing = [key for key in keys if key not in params]
    if missing:
        raise ValueError(f"parameters lack {missing}; expected the project's conf/base parameters")
    return {**{key: params[key] for key in keys}, "synthetic": synthetic, "max_train_batches": max_train_batches}


def measure_pipeline_memory(
    params: Mapping[str, Any], steps: Sequence[str] = tuple(STEPS), workdir: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Run the steps in order, each in a fresh subprocess; returns ``{step: {peak_rss_mb, wall_s, ...}}``."""
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; steps are {list(STEPS)}")
    with tempfile.TemporaryDirectory(prefix="insole_memory_", dir=workdir) as tmp:
        work = Path(tmp)
        (work / "params.json").write_text(json.dumps(params))
        results: dict[str, dict[str, Any]] = {}
        for step in steps:
            code = f"WORK = {str(work)!r}\n" + _STEP_PRELUDE + STEPS[step]
            results[step] = run_child(code)
            logger.info("step %-12s peak RSS %8.1f MiB  (%.1f s) %s", step, results[step]["peak_rss_mb"], results[step]["wall_s"],
                        {k: v for k, v in results[step].items() if k not in ("peak_rss_mb", "wall_s")})  # fmt: skip
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks memory", description=__doc__.split("\n")[0])
    parser.add_argument("--n-subjects", type=int, default=72, help="synthetic cohort size (paper: 72)")
    parser.add_argument("--duration-scale", type=float, default=1.0, help="experiment durations x this (paper: 1.0)")
    parser.add_argument("--max-train-batches", type=int, default=20, help="training steps in the one epoch (0 = all)")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--conf", type=Path, default=Path("conf/base"), help="folder with parameters*.yml")
    parser.add_argument("--target-gb", type=float, default=4.0)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Peak RSS of each pipeline step at the requested cohort size; returns the figures and the dominant step."""
    args = _parser().parse_args(list(argv or []))
    params = step_parameters(load_parameters(args.conf), args.n_subjects, args.duration_scale, args.max_train_batches or None)
    steps = measure_pipeline_memory(params, args.steps)
    dominant = max(steps, key=lambda step: steps[step]["peak_rss_mb"])
    peak = steps[dominant]["peak_rss_mb"]
    result = {
        "n_subjects": args.n_subjects,
        "duration_scale": args.duration_scale,
        "max_train_batches": args.max_train_batches,
        "steps": steps,
        "dominant_step": dominant,
        "peak_rss_mb": peak,
        "target_mb": args.target_gb * 1024,
        "within_target": peak <= args.target_gb * 1024,
    }
    logger.info("peak RSS %.1f MiB in step %r (target %.0f MiB): %s", peak, dominant, args.target_gb * 1024,
                "OK" if result["within_target"] else "OVER")  # fmt: skip
    return result
