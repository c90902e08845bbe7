"""Wall time of one paper-protocol run, stage by stage, on this machine (issues #4 and #5).

``python -m insole_mtl.benchmarks paper_run [--env paper] [--max-epochs N] [--runs-in-protocol 25]``

Runs the same domain functions as the ``insole_mtl`` pipeline — synthetic cohort, labels, windows,
subject split, (optional) Borderline-SMOTE, recurrence-plot encoding of train/val/test, training with
early stopping, test predictions and metrics — in one process without Kedro or MLflow, so it also
runs on a bare GPU machine. Parameters are ``conf/base/parameters*.yml`` overlaid with
``conf/<env>/parameters*.yml`` (top-level keys replaced, as Kedro's config loader does).

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

import numpy as np
import torch

from insole_mtl.benchmarks.memory import load_parameters

logger = logging.getLogger(__name__)

#: Epochs to early stopping in the paper (Appendix B: 114 ± 13).
PAPER_EPOCHS = 114


def run_parameters(conf: Path, env: str | None) -> dict[str, Any]:
    """conf/base parameters with conf/<env> top-level keys replacing them."""
    params = load_parameters(conf / "base")
    if env:
        params.update(load_parameters(conf / env))
    return params


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks paper_run", description=__doc__.split("\n")[0])
    parser.add_argument("--conf", type=Path, default=Path("conf"), help="the project's conf folder")
    parser.add_argument("--env", default="paper", help="conf environment laid over base ('' = base only)")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap on epochs (default: the env's max_epochs)")
    parser.add_argument("--expected-epochs", type=int, default=PAPER_EPOCHS, help="epochs per run for the projection")
    parser.add_argument("--runs-in-protocol", type=int, default=25, help="5 folds x 5 seeds")
    parser.add_argument("--device", default=None, help="override training.device (auto | cpu | cuda)")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """One run at the env's scale; returns stage timings, training speed, metrics and the protocol projection."""
    from insole_mtl.encoding.recurrence import encode_recurrence_plots
    from insole_mtl.evaluation.metrics import evaluate_predictions
    from insole_mtl.models import build_model
    from insole_mtl.signals.labels import label_recordings
    from insole_mtl.signals.oversample import oversample_windows
    from insole_mtl.signals.split import split_subjects
    from insole_mtl.signals.windows import make_windows, partition_windows
    from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort
    from insole_mtl.tasks import task_specs
    from insole_mtl.training.data import TaskArrays
    from insole_mtl.training.engine import TrainConfig, fit_target_scaling, predict, train_model
    from insole_mtl.training.weighting import build_weighting

    args = _parser().parse_args(list(argv or []))
    p = run_parameters(args.conf, args.env or None)
    stages: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        stages[name] = round(now - clock, 3)
        logger.info("stage %-10s %8.1f s", name, stages[name])
        clock = now

    cohort = generate_cohort(SyntheticCohortConfig.from_params(p["synthetic"]))
    labels, _ = label_recordings(cohort.recording_index, cohort.subjects, p["tasks"])
    lap("cohort")
    windows, window_labels, _ = make_windows(cohort.recordings, labels, p["channels"], **p["windowing"])
    split = split_subjects(cohort.subjects, **p["split"])
    parts = partition_windows(windows, window_labels, split)
    del windows
    lap("windowing")
    train_windows, train_labels = parts["train"]
    o = p["oversampling"]
    if o.get("enabled", True):
        train_windows, train_labels, _ = oversample_windows(
            train_windows, train_labels, target_ratio=float(o["target_ratio"]), k_neighbors=int(o["k_neighbors"]),
            m_neighbors=int(o["m_neighbors"]), kind=str(o["kind"]), seed=int(o["seed"]),
        )  # fmt: skip
    lap("oversampling")
    r = p["recurrence"]
    encoded = {
        name: encode_recurrence_plots(w, percentage=float(r["percentage"]), chunk_size=int(r["chunk_size"]))
        for name, w in (("train", train_windows), ("val", parts["val"][0]), ("test", parts["test"][0]))
    }
    lap("encoding")

    specs = task_specs(p["tasks"], p["model"].get("tasks"))
    names = [s.name for s in specs]

    def arrays(inputs: np.ndarray, frame: Any) -> TaskArrays:
        return TaskArrays(inputs, {k: frame[k].to_numpy(np.int64 if k == "activity" else np.float64) for k in names})

    training = dict(p["training"])
    if args.max_epochs is not None:
        training["max_epochs"] = args.max_epochs
    if args.device is not None:
        training["device"] = args.device
    config = TrainConfig.from_params(training)
    torch.manual_seed(config.seed)
    net = build_model(p["model"]["name"], in_channels=len(p["channels"]), tasks=specs, **dict(p["model"].get("options") or {}))
    weighting = build_weighting(p["loss_weighting"]["method"], specs, **dict(p["loss_weighting"].get("options") or {}))
    train, val = arrays(encoded["train"], train_labels), arrays(encoded["val"], parts["val"][1])
    fit_target_scaling(net, specs, train.targets)
    result = train_model(net, weighting, train, val, specs, config)
    net.load_state_dict(result.best_state)
    lap("training")
    test_labels = parts["test"][1].reset_index(drop=True)
    outputs = predict(net, encoded["test"], batch_size=int(p["evaluation"]["batch_size"]), device=str(p["evaluation"].get("device", "auto")))
    metrics = evaluate_predictions(test_labels, outputs, list(p["tasks"]["activity"]["classes"]))
    lap("evaluation")

    history = result.history
    epochs = int(len(history))
    epoch_s = float(history["epoch_seconds"].mean())
    prep = stages["cohort"] + stages["windowing"] + stages["oversampling"] + stages["encoding"]
    per_run_projected = epoch_s * args.expected_epochs + stages["evaluation"]
    out = {
        "env": args.env,
        "device": result.device,
        "precision": result.precision,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "threads": torch.get_num_threads(),
        "windows": {name: int(len(v)) for name, v in encoded.items()},
        "stages_s": stages,
        "epochs_run": epochs,
        "best_epoch": int(result.best_epoch),
        "stopped_early": bool(result.stopped_early),
        "seconds_per_epoch": round(epoch_s, 3),
        "train_windows_per_s": round(float(history["windows_per_second"].mean()), 1),
        "data_wait_fraction": round(float(history["data_wait_fraction"].mean()), 4),
        "test_metrics": {k: float(v) for k, v in metrics.items()},
        "one_run_s": round(sum(stages.values()), 1),
        "projected_run_s_at_expected_epochs": round(prep + per_run_projected, 1),
        "projected_protocol_s": round(prep + args.runs_in_protocol * per_run_projected, 1),
        "expected_epochs": args.expected_epochs,
        "runs_in_protocol": args.runs_in_protocol,
    }
    logger.info(
        "one run: %d epochs (%.2f s/epoch, %.0f windows/s, data wait %.1f %%) in %.0f s on %s/%s; projected protocol "
        "(%d runs x %d epochs) %.1f min", epochs, epoch_s, out["train_windows_per_s"], 100 * out["data_wait_fraction"],
        out["one_run_s"], result.device, result.precision, args.runs_in_protocol, args.expected_epochs,
        out["projected_protocol_s"] / 60,
    )  # fmt: skip
    return out
