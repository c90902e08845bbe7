"""Peak resident memory (RSS) of the pipeline's steps (target <= 4 GB at paper scale).

``python -m insole_mtl.benchmarks memory [--n-subjects 72] [--duration-scale 1.0] [--max-train-batches 20]
[--env paper] [--params training.batch_size=32,model.options.checkpoint_activations=true]``

Each step is a slice of the registered ``insole_mtl`` pipeline (:data:`STEPS`: node names) run with
Kedro's runner in a FRESH Python subprocess, so its peak RSS (``VmHWM`` of that child) is its own and not
the high-water mark of earlier steps: cohort generation + labelling, windowing, the subject split +
Borderline-SMOTE on the training windows, recurrence-plot encoding of the training and validation windows,
and one training epoch (optionally capped at ``--max-train-batches`` steps). Steps hand their results to
the next through the environment's catalog (a scratch copy: the encoded plots are memory-mapped on load,
as ``catalog.yml`` says). ``--n-subjects`` and ``--duration-scale`` (1.0 = the paper's full durations)
are runtime parameters of the synthetic cohort (``synthetic.n_subjects``, ``synthetic.duration_scale``).

:func:`insole_mtl.efficiency.memory.inference_peak_rss` measures batch-1 inference the same way (the
benchmark stage).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from insole_mtl.benchmarks._kedro import scratch_conf
from insole_mtl.efficiency.memory import run_child

logger = logging.getLogger(__name__)

#: the measured steps: node names of the ``insole_mtl`` pipeline (``configure_run`` gives each its settings)
STEPS: dict[str, tuple[str, ...]] = {
    "cohort": ("acquire_raw_cohort", "prepare_recordings"),
    "windowing": ("window_recordings",),
    "oversampling": ("split_subjects", "configure_run", "partition_by_split", "oversample_training_windows"),
    "encoding": ("configure_run", "encode_train_recurrence_plots", "encode_val_recurrence_plots"),
    "training": ("configure_run", "train_multitask_model"),
}

_CHILD = """
from insole_mtl.benchmarks._kedro import PipelineSlices
slices = PipelineSlices(PROJECT, CONF, ENV, "insole_mtl", PARAMS)
_result = {"wall_slice_s": slices.run(NODES)}
slices.close()
"""


def step_parameters(n_subjects: int, duration_scale: float, max_train_batches: int | None) -> dict[str, Any]:
    """Runtime parameters of the steps: the cohort size and durations, one CPU training epoch (capped)."""
    params: dict[str, Any] = {
        "synthetic.n_subjects": int(n_subjects),
        "synthetic.duration_scale": float(duration_scale),
        "training.max_epochs": 1,
        "training.device": "cpu",
    }
    if max_train_batches:
        params["training.max_train_batches_per_epoch"] = int(max_train_batches)
    return params


def measure_pipeline_memory(
    project: Path, env: str, params: Mapping[str, Any], steps: Sequence[str] = tuple(STEPS)
) -> dict[str, dict[str, Any]]:
    """Run the steps in order, each in a fresh subprocess; returns ``{step: {peak_rss_mb, wall_s, ...}}``."""
    unknown = [step for step in steps if step not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; steps are {list(STEPS)}")
    results: dict[str, dict[str, Any]] = {}
    with scratch_conf(project, env) as conf:
        for step in steps:
            code = (
                f"PROJECT = {str(Path(project).resolve())!r}\nCONF = {str(conf)!r}\nENV = {env!r}\n"
                f"PARAMS = {dict(params)!r}\nNODES = {list(STEPS[step])!r}\n" + _CHILD
            )
            results[step] = run_child(code)
            logger.info("step %-12s peak RSS %8.1f MiB  (%.1f s)", step, results[step]["peak_rss_mb"], results[step]["wall_s"])
    return results


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks memory", description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the Kedro project (default: the working directory)")
    parser.add_argument("--env", default="local", help="Kedro environment (default: base + local)")
    parser.add_argument("--n-subjects", type=int, default=72, help="synthetic cohort size (paper: 72)")
    parser.add_argument("--duration-scale", type=float, default=1.0, help="experiment durations x this (paper: 1.0)")
    parser.add_argument("--max-train-batches", type=int, default=20, help="training steps in the one epoch (0 = all)")
    parser.add_argument("--steps", nargs="+", default=list(STEPS), choices=list(STEPS))
    parser.add_argument("--target-gb", type=float, default=4.0)
    parser.add_argument("--params", default="", help="more runtime parameters, as kedro run --params: key=value,key=value")
    return parser


def parse_params(text: str) -> dict[str, Any]:
    """``"a.b=1,c=true"`` -> ``{"a.b": 1, "c": True}`` (values read as YAML, like ``kedro run --params``)."""
    import yaml

    params: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--params: {item!r}; expected key=value")
        params[key.strip()] = yaml.safe_load(value)
    return params


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Peak RSS of each pipeline step at the requested cohort size; returns the figures and the dominant step."""
    args = _parser().parse_args(list(argv or []))
    params = {**step_parameters(args.n_subjects, args.duration_scale, args.max_train_batches or None), **parse_params(args.params)}
    steps = measure_pipeline_memory(args.project, args.env, params, args.steps)
    dominant = max(steps, key=lambda step: steps[step]["peak_rss_mb"])
    peak = steps[dominant]["peak_rss_mb"]
    result = {
        "n_subjects": args.n_subjects,
        "duration_scale": args.duration_scale,
        "max_train_batches": args.max_train_batches,
        "env": args.env,
        "params": params,
        "steps": steps,
        "dominant_step": dominant,
        "peak_rss_mb": peak,
        "target_mb": args.target_gb * 1024,
        "within_target": peak <= args.target_gb * 1024,
    }
    logger.info("peak RSS %.1f MiB in step %r (target %.0f MiB): %s", peak, dominant, args.target_gb * 1024,
                "OK" if result["within_target"] else "OVER")  # fmt: skip
    return result
