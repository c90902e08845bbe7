"""Batch-1 latency and accuracy of the self-contained raw-window edge model, every path in ONE run.

``python -m insole_mtl.edge.raw_benchmark --data-dir data/test [--model-uri <uri>] [--export-dir <dir>]``

Paths, all timed on the same test windows, interleaved round by round (so a noisy neighbour slows every path
alike; each round times every path once in a rotating order):

* ``pipeline``: what ``insole_infer`` does per window (Python recurrence encoder + PyTorch eager);
* ``stock_fp32``: ONNX Runtime with default session options on the fp32 raw-window graph — the reference;
* ``edge_fp32`` / ``edge_int8``: :func:`insole_mtl.edge.raw_window.edge_session` (all graph optimisations, one
  intra-op thread, no spinning) on the fp32 graph and on the int8 graph (network quantised, plots in float64);
* ``stock_int8`` and ``edge_int8_2threads`` for the record.

Agreement with ``insole_infer`` (:func:`insole_mtl.inference.predict_windows`) on the same windows: class agreement,
max |Δ| of probabilities, speed, weight; accuracy cost of int8 in points and MAE. Writes JSON to stdout (and
``--out``); with ``--export-dir`` also ``edge_fp32.onnx``, ``edge_int8.onnx`` and ``edge_model.json`` (the
default variant for this CPU, the input/output contract and the measured figures).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl import inference
from insole_mtl.edge import raw_window as rw
from insole_mtl.models import MultitaskModel

#: the tolerances the tests hold the fp32 graph to (vs insole_infer, fp32 PyTorch)
FP32_TOLERANCE = {"activity_probability": 1e-5, "speed": 1e-4, "weight": 1e-3}


def agreement(reference: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray], labels: pd.DataFrame | None) -> dict[str, float]:
    """Class agreement and max |Δ| of an edge path vs ``insole_infer``'s outputs; accuracy/MAE when labelled."""
    classes = np.asarray(outputs["activity"]).argmax(axis=1)
    result = {
        "class_agreement": float(np.mean(classes == reference["activity"])),
        "max_abs_diff_probability": float(np.abs(outputs[rw.PROBABILITY] - reference["activity_proba"]).max()),
        "max_abs_diff_speed": float(np.abs(outputs["speed"] - reference["speed"]).max()),
        "max_abs_diff_weight": float(np.abs(outputs["weight"] - reference["weight"]).max()),
    }
    if labels is not None:
        result["activity_accuracy"] = float(np.mean(classes == labels["activity"].to_numpy()))
        for task in ("speed", "weight"):
            truth = labels[task].to_numpy(np.float64)
            known = ~np.isnan(truth)
            result[f"{task}_mae"] = float(np.abs(outputs[task][known] - truth[known]).mean()) if known.any() else float("nan")
    return result


def time_paths(paths: Mapping[str, Callable[[np.ndarray], object]], windows: np.ndarray, warmup: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median / p90 / mean latency (ms) at batch 1 of each path, interleaved round by round."""
    names = list(paths)
    for name in names:
        for i in range(warmup):
            paths[name](windows[i % len(windows)][None])
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        x = windows[r % len(windows)][None]
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            start = time.perf_counter()
            paths[name](x)
            times[name].append(time.perf_counter() - start)
    return {
        name: {"median_ms": 1e3 * float(np.median(t)), "p90_ms": 1e3 * float(np.percentile(t, 90)), "mean_ms": 1e3 * float(np.mean(t))}
        for name, t in times.items()
    }


def benchmark_raw_window(
    model: MultitaskModel,
    windows: np.ndarray,
    labels: pd.DataFrame | None,
    calibration_windows: np.ndarray,
    rate_hz: float = 40.0,
    warmup: int = 20,
    repeats: int = 300,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Run every path (module docstring) on ``windows (n, C, L)``; returns the report and the graphs."""
    pre = inference.model_preprocessing(model, rate_hz)
    reference = inference.predict_windows(model, windows, pre)
    graphs = rw.build_edge_variants(model, calibration_windows)
    sessions = {
        "stock_fp32": rw.stock_session(graphs["fp32"]), "edge_fp32": rw.edge_session(graphs["fp32"]),
        "stock_int8": rw.stock_session(graphs["int8"]), "edge_int8": rw.edge_session(graphs["int8"]),
        "edge_int8_2threads": rw.edge_session(graphs["int8"], threads=2),
    }  # fmt: skip
    accuracy = {name: agreement(reference, rw.run_raw(s, windows), labels) for name, s in sessions.items() if name in ("edge_fp32", "edge_int8")}
    paths: dict[str, Callable[[np.ndarray], object]] = {
        "pipeline": lambda x: inference.predict_windows(model, x, pre, batch_size=1),
        **{name: (lambda x, s=s: s.run(None, {rw.INPUT: x})) for name, s in sessions.items()},
    }
    latency = time_paths(paths, np.ascontiguousarray(windows, dtype=np.float32), warmup, repeats)
    stock = latency["stock_fp32"]["median_ms"]
    for row in latency.values():
        row["speedup_vs_stock_fp32"] = stock / row["median_ms"]
    chosen = rw.default_variant()
    report: dict[str, Any] = {
        "machine": rw.machine(),
        "windows": int(len(windows)),
        "repeats": int(repeats),
        "latency": latency,
        "agreement_vs_insole_infer": accuracy,
        "fp32_tolerance": FP32_TOLERANCE,
        "default_variant": chosen,
        "default_speedup_vs_stock_fp32": latency[f"edge_{chosen}"]["speedup_vs_stock_fp32"],
        "size_bytes": {name: len(data) for name, data in graphs.items()},
    }
    if labels is not None:
        report["int8_accuracy_cost_points"] = 100 * (accuracy["edge_fp32"]["activity_accuracy"] - accuracy["edge_int8"]["activity_accuracy"])
    return report, graphs


def _newest_model(data_dir: Path, model_uri: str | None) -> MultitaskModel:
    from insole_mtl.serving.loading import load_trained_model

    return load_trained_model(model_uri, data_dir / "06_models" / "trained_model.pkl").model


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="the environment's data folder (data/test, ...)")
    parser.add_argument("--model-uri", default=None, help="model path or MLflow URI (default: newest trained_model)")
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--calibration", type=int, default=256, help="training windows for int8 calibration")
    parser.add_argument("--rate-hz", type=float, default=40.0)
    parser.add_argument("--export-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    model = _newest_model(args.data_dir, args.model_uri)
    windows = np.load(args.data_dir / "04_feature" / "test" / "windows.npy")
    labels = pd.read_parquet(args.data_dir / "04_feature" / "test" / "window_labels.parquet")
    calibration = np.load(args.data_dir / "04_feature" / "train" / "windows.npy", mmap_mode="r")[: args.calibration]
    report, graphs = benchmark_raw_window(model, windows, labels, np.asarray(calibration), args.rate_hz, args.warmup, args.repeats)
    if args.export_dir is not None:
        args.export_dir.mkdir(parents=True, exist_ok=True)
        for name, data in graphs.items():
            (args.export_dir / f"edge_{name}.onnx").write_bytes(data)
        contract = {"input": {rw.INPUT: ["batch", len(model.preprocessing["channels"]), model.preprocessing["window_length"]]},
                    "channels": model.preprocessing["channels"], "outputs": [*model.task_names, rw.PROBABILITY]}  # fmt: skip
        (args.export_dir / "edge_model.json").write_text(json.dumps({**contract, **report}, indent=2))
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return report


if __name__ == "__main__":
    main()
