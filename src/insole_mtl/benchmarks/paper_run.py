"""Wall time of one paper-protocol run, stage by stage, on this machine.

``python -m insole_mtl.benchmarks paper_run [--env paper] [--max-epochs N] [--runs-in-protocol 25]``

Runs the registered ``insole_mtl`` pipeline of the environment stage by stage, as slices with Kedro's
runner on the environment's catalog (a scratch copy: nothing of the user's is overwritten): synthetic
cohort, windows, subject split, Borderline-SMOTE, recurrence-plot encoding of train/val/test, training
with early stopping, test predictions and metrics. ``--max-epochs`` and ``--device`` are runtime
parameters (``training.max_epochs``, ``training.device``), as ``kedro run --params`` would give them.

Reported: seconds per stage, epochs run, seconds per epoch, training windows/s, the fraction of step
time spent waiting for data, test metrics, and the projected wall time of the whole protocol
(``runs_in_protocol`` x one run's training + evaluation, plus the shared data preparation once).
``--max-epochs`` caps training to fit a time limit; the projection then uses the measured seconds per
epoch x ``--expected-epochs`` (the paper reports 114 ± 13 epochs to early stopping).
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from insole_mtl.benchmarks._kedro import PipelineSlices, scratch_conf

logger = logging.getLogger(__name__)

#: Epochs to early stopping in the paper (Appendix B: 114 ± 13).
PAPER_EPOCHS = 114


#: the stages of one run: node names of the ``insole_mtl`` pipeline (``configure_run`` gives each its settings)
STAGES: dict[str, tuple[str, ...]] = {
    "cohort": ("acquire_raw_cohort", "prepare_recordings"),
    "windowing": ("window_recordings",),
    "split": ("split_subjects",),
    "oversampling": ("configure_run", "partition_by_split", "oversample_training_windows"),
    "encoding": ("configure_run", "encode_train_recurrence_plots", "encode_val_recurrence_plots", "encode_test_recurrence_plots"),
    "training": ("configure_run", "train_multitask_model"),
    "evaluation": ("configure_run", "predict_test_windows", "compute_test_metrics"),
}
_PREPARATION = ("cohort", "windowing", "split", "oversampling", "encoding")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks paper_run", description=__doc__.split("\n")[0])
    parser.add_argument("--project", type=Path, default=Path.cwd(), help="the Kedro project (default: the working directory)")
    parser.add_argument("--env", default="paper", help="Kedro environment")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap on epochs (default: the env's max_epochs)")
    parser.add_argument("--expected-epochs", type=int, default=PAPER_EPOCHS, help="epochs per run for the projection")
    parser.add_argument("--runs-in-protocol", type=int, default=25, help="5 folds x 5 seeds")
    parser.add_argument("--device", default=None, help="override training.device (auto | cpu | cuda)")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """One run at the env's scale; returns stage timings, training speed, metrics and the protocol projection."""
    args = _parser().parse_args(list(argv or []))
    params: dict[str, Any] = {}
    if args.max_epochs is not None:
        params["training.max_epochs"] = args.max_epochs
    if args.device is not None:
        params["training.device"] = args.device
    stages: dict[str, float] = {}
    with scratch_conf(args.project, args.env) as conf:
        slices = PipelineSlices(args.project, conf, args.env, "insole_mtl", params)
        try:
            for stage, nodes in STAGES.items():
                stages[stage] = round(slices.run(nodes), 3)
                logger.info("stage %-12s %8.1f s", stage, stages[stage])
            history = slices.load("training_history")
            summary = slices.load("training_summary")
            metrics = slices.load("metrics")
            windows = {split: int(len(slices.load(f"{split}.window_labels"))) for split in ("train", "val", "test")}
        finally:
            slices.close()
    epochs = int(len(history))
    epoch_s = float(history["epoch_seconds"].mean())
    prep = sum(stages[stage] for stage in _PREPARATION)
    per_run_projected = epoch_s * args.expected_epochs + stages["evaluation"]
    out = {
        "env": args.env,
        "device": summary.get("device"),
        "precision": summary.get("precision"),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "windows": windows,
        "stages_s": stages,
        "epochs_run": epochs,
        "best_epoch": summary.get("best_epoch"),
        "seconds_per_epoch": round(epoch_s, 3),
        "train_windows_per_s": round(float(history["windows_per_second"].mean()), 1),
        "data_wait_fraction": round(float(history["data_wait_fraction"].mean()), 4),
        "test_metrics": {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
        "one_run_s": round(sum(stages.values()), 1),
        "projected_run_s_at_expected_epochs": round(prep + per_run_projected, 1),
        "projected_protocol_s": round(prep + args.runs_in_protocol * per_run_projected, 1),
        "expected_epochs": args.expected_epochs,
        "runs_in_protocol": args.runs_in_protocol,
    }
    logger.info(
        "one run: %d epochs (%.2f s/epoch, %.0f windows/s, data wait %.1f %%) in %.0f s on %s/%s; projected protocol "
        "(%d runs x %d epochs) %.1f min", epochs, epoch_s, out["train_windows_per_s"], 100 * out["data_wait_fraction"],
        out["one_run_s"], out["device"], out["precision"], args.runs_in_protocol, args.expected_epochs,
        out["projected_protocol_s"] / 60,
    )  # fmt: skip
    return out
