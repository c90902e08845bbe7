"""Batch-1 latency and accuracy of the self-contained raw-window edge model, every path in ONE run.

``python -m insole_mtl.edge.raw_benchmark --data-dir data/test [--model-uri <uri>] [--export-dir <dir>]``

Paths, all timed on the same test windows in two regimes (:func:`time_paths`): ``latency``, calls back to back
(a backlog), and ``latency_streaming``, every call after ``stream_idle_s`` of idleness (a device that gets one
window per stride):

* ``pipeline``: what ``insole_infer`` does per window (Python recurrence encoder + PyTorch eager);
* ``stock_fp32``: ONNX Runtime with default session options on the fp32 raw-window graph as exported, the plot
  block written as its definition (``formulation="direct"``, :class:`insole_mtl.edge.raw_window.RecurrenceCounts`)
  and no convolution widened (``channel_padding=None``) — the reference;
* ``stock_fp32_1thread``: the same with one intra-op thread (ORT's default is one per core): what the graph and
  int8 give, apart from threading;
* ``stock_fp32_float32_plots_1thread`` (models that read plots): the same graph with its plot block in float32
  (one thread): what the int8 graph's float32 plot arithmetic alone would give stock ORT;
* ``stock_fp32_edge_graph``: stock ONNX Runtime on the edge's fp32 graph (the plot block in the formulation ORT
  runs fastest, same plots bit for bit; narrow convolutions zero-padded, :mod:`insole_mtl.edge.conv_channels`):
  what the rewrite alone gives;
* ``edge_fp32`` / ``edge_int8``: :func:`insole_mtl.edge.raw_window.edge_session` (all graph optimisations, ORT's
  default threading) on the edge's fp32 graph (plots in float64, exact) and on its int8 graph (feature maps
  quantised, plots in float32: ``int8_plot_counts`` counts the cells where they differ from the encoder's);
* ``edge_int8_1thread``: the int8 graph on one thread without spinning (for CPUs shared with other work);
* ``int8_breakdown``: the int8 path's plot computation and quantised network, each alone (:func:`int8_breakdown`);
* ``int8_scopes``: agreement and one-thread latency of the int8 graph per quantisation scope (:func:`int8_scopes`).

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
import onnx
import pandas as pd

from insole_mtl import inference
from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.quantization import DEFAULT_SCOPE, SCOPES
from insole_mtl.models import MultitaskModel
from insole_mtl.signals.windows import evenly_spaced

#: the stock paths every path's ``speedup_vs_<path>`` is computed against
REFERENCES: tuple[str, ...] = ("stock_fp32", "stock_fp32_1thread", "stock_fp32_float32_plots_1thread")
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


def time_paths(
    paths: Mapping[str, Callable[[np.ndarray], object]],
    windows: np.ndarray,
    warmup: int,
    repeats: int,
    block: int = 25,
    idle_s: float = 0.0,
) -> dict[str, dict[str, float]]:
    """Median / p90 / mean latency (ms) at batch 1 of each path over ``repeats`` timed calls.

    Timed in rounds: each round gives every path a block of ``block`` timed calls, in an order rotated from round
    to round, so a noisy neighbour slows every path alike. Two regimes:

    * ``idle_s == 0`` (back to back): each block starts with one untimed call (the path's weights back in
      cache), then consecutive calls — a backlog of windows. Blocks, not one call per path in turn: with six
      sessions taking turns call by call, each run found the caches full of the others' data and its thread
      pool parked, which is neither regime;
    * ``idle_s > 0`` (a stream): every timed call follows ``idle_s`` seconds of idleness, as on a device that
      gets one window per stride: thread pools parked, caches and clocks as the idle CPU left them.
    """
    names = list(paths)
    for name in names:
        for i in range(warmup):
            paths[name](windows[i % len(windows)][None])
    block = max(1, min(int(block), int(repeats)))
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(-(-int(repeats) // block)):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            if idle_s <= 0:
                paths[name](windows[(r * block) % len(windows)][None])
            for i in range(min(block, int(repeats) - r * block)):
                x = windows[(r * block + i) % len(windows)][None]
                if idle_s > 0:
                    time.sleep(idle_s)
                start = time.perf_counter()
                paths[name](x)
                times[name].append(time.perf_counter() - start)
    return {
        name: {"median_ms": 1e3 * float(np.median(t)), "p90_ms": 1e3 * float(np.percentile(t, 90)), "mean_ms": 1e3 * float(np.mean(t))}
        for name, t in times.items()
    }


def int8_breakdown(
    model: MultitaskModel,
    windows: np.ndarray,
    inputs: tuple[np.ndarray, ...],
    parts: tuple[onnx.ModelProto, onnx.ModelProto],
    warmup: int,
    repeats: int,
) -> dict[str, dict[str, float]]:
    """Back-to-back latency of the int8 path's two parts alone (``parts``: :func:`insole_mtl.edge.raw_window.int8_parts`)
    on one thread without spinning (the steadiest attribution): ``plot_inputs`` (raw windows -> the network's
    inputs, the int8 graph's plot arithmetic) and ``int8_network`` (``inputs``, the network's inputs of ``windows``
    precomputed by :func:`insole_mtl.edge.raw_window.model_ready_inputs` -> outputs): where the int8 path's time goes."""
    pre, network = (rw.edge_session(graph.SerializeToString(), threads=1, spinning=False) for graph in parts)
    feeds = [{name: x[i : i + 1] for name, x in zip(model.input_names, inputs)} for i in range(len(windows))]
    index = np.arange(len(windows), dtype=np.float32).reshape(-1, 1, 1)  # time_paths hands each path a window; here its index
    plot = time_paths({"plot_inputs": lambda x: pre.run(None, {rw.INPUT: x})}, windows, warmup, repeats)
    net = time_paths({"int8_network": lambda i: network.run(None, feeds[int(i[0, 0, 0])])}, index, warmup, repeats)
    return {**plot, **net}


def plot_counts_differing(
    model: MultitaskModel, windows: np.ndarray, inputs: tuple[np.ndarray, ...], pre: onnx.ModelProto
) -> dict[str, object]:
    """Where the int8 path's plot computation (``pre``, :func:`insole_mtl.edge.raw_window.int8_parts`' first graph)
    differs from the encoder's float64 counts (``inputs``: :func:`insole_mtl.edge.raw_window.model_ready_inputs` of
    ``windows (n, C, L)``): the number of differing cells and of windows with one, and the largest difference (in
    counts)."""
    got = rw.run_raw(rw.edge_session(pre.SerializeToString(), threads=1, spinning=False), windows)
    expected = dict(zip((f"{name}_in" for name in model.input_names), inputs))
    differing = sum((got[name] != value).reshape(len(windows), -1).sum(axis=1) for name, value in expected.items())
    largest = max(float(np.abs(got[name] - value).max(initial=0.0)) for name, value in expected.items())
    return {"cells_differing": int(differing.sum()), "windows_differing": int((differing > 0).sum()), "max_abs_diff": largest}


def int8_scopes(
    windows: np.ndarray,
    labels: pd.DataFrame | None,
    reference: Mapping[str, np.ndarray],
    graphs: Mapping[str, bytes],
    warmup: int,
    repeats: int,
) -> dict[str, dict[str, float]]:
    """Agreement with ``insole_infer`` and one-thread back-to-back latency of the int8 graph of each quantisation
    scope (``graphs``: ``{scope: bytes}``, :func:`insole_mtl.edge.quantization.quantize_int8`'s scopes): why the
    default quantises the feature maps only."""
    sessions = {scope: rw.edge_session(graph, threads=1, spinning=False) for scope, graph in graphs.items()}
    latency = time_paths({scope: (lambda x, s=s: s.run(None, {rw.INPUT: x})) for scope, s in sessions.items()}, windows, warmup, repeats)
    return {scope: {**agreement(reference, rw.run_raw(s, windows), labels), **latency[scope]} for scope, s in sessions.items()}


def benchmark_raw_window(
    model: MultitaskModel,
    windows: np.ndarray,
    labels: pd.DataFrame | None,
    calibration_windows: np.ndarray,
    rate_hz: float = 40.0,
    warmup: int = 20,
    repeats: int = 300,
    stream_idle_s: float = 0.01,
) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Run every path (module docstring) on ``windows (n, C, L)``; returns the report and the graphs."""
    pre = inference.model_preprocessing(model, rate_hz)
    reference = inference.predict_windows(model, windows, pre)
    # the int8 graph's parts are quantised once: for the graph, its breakdown and its scope row
    parts = rw.int8_parts(model, calibration_windows)
    graphs = {"fp32": rw.export_raw_window_onnx(model), "int8": rw.merge_int8_parts(model, *parts)}
    encoder = rw.PlotInputs(model).encoder
    formulation = "none" if encoder is None else encoder.formulation  # what the edge graphs' plot block is
    # the reference graph is the model as exported, with the plot block as its definition
    literal = rw.export_raw_window_onnx(model, formulation="direct", channel_padding=None)
    sessions = {
        "stock_fp32": rw.stock_session(literal), "stock_fp32_1thread": rw.stock_session(literal, threads=1),
        "stock_fp32_edge_graph": rw.stock_session(graphs["fp32"]),
        "edge_fp32": rw.edge_session(graphs["fp32"]), "edge_int8": rw.edge_session(graphs["int8"]),
        "edge_int8_1thread": rw.edge_session(graphs["int8"], threads=1, spinning=False),
    }  # fmt: skip
    if encoder is not None:
        literal_float32 = rw.export_raw_window_onnx(model, formulation="direct", channel_padding=None, plot_precision="float32")
        sessions["stock_fp32_float32_plots_1thread"] = rw.stock_session(literal_float32, threads=1)
    scored = ("stock_fp32", "edge_fp32", "edge_int8")
    accuracy = {name: agreement(reference, rw.run_raw(sessions[name], windows), labels) for name in scored}
    paths: dict[str, Callable[[np.ndarray], object]] = {
        "pipeline": lambda x: inference.predict_windows(model, x, pre, batch_size=1),
        **{name: (lambda x, s=s: s.run(None, {rw.INPUT: x})) for name, s in sessions.items()},
    }
    contiguous = np.ascontiguousarray(windows, dtype=np.float32)
    latency = time_paths(paths, contiguous, warmup, repeats)
    streaming = time_paths(paths, contiguous, warmup, max(1, repeats // 3), idle_s=stream_idle_s)
    for table in (latency, streaming):
        # every path against each stock reference the run timed (the float32-plot one only for models with plots)
        stocks = {name: table[name]["median_ms"] for name in REFERENCES if name in table}
        for row in table.values():
            for name, stock in stocks.items():
                row[f"speedup_vs_{name}"] = stock / row["median_ms"]
    chosen = rw.default_variant()
    # the network's inputs in float64 (the encoder's counts), once: the breakdown's feeds and the plot comparison's truth
    inputs = rw.model_ready_inputs(model, contiguous)
    breakdown = int8_breakdown(model, contiguous, inputs, parts, warmup, repeats)
    scope_graphs = {
        scope: graphs["int8"] if scope == DEFAULT_SCOPE else rw.export_int8_raw_window_onnx(model, calibration_windows, scope=scope)
        for scope in SCOPES
    }
    scopes = int8_scopes(contiguous, labels, reference, scope_graphs, warmup, max(1, repeats // 3))
    report: dict[str, Any] = {
        "machine": rw.machine(),
        "windows": int(len(windows)),
        "plot_formulation": formulation,
        "int8_plot_precision": "none" if encoder is None else rw.INT8_PLOT_PRECISION,
        "repeats": int(repeats),
        "latency": latency,
        "latency_streaming": streaming,
        "stream_idle_s": stream_idle_s,
        "agreement_vs_insole_infer": accuracy,
        "fp32_tolerance": FP32_TOLERANCE,
        "default_variant": chosen,
        "default_speedup_vs_stock_fp32": latency[f"edge_{chosen}"]["speedup_vs_stock_fp32"],
        "default_speedup_vs_stock_fp32_1thread": latency[f"edge_{chosen}"]["speedup_vs_stock_fp32_1thread"],
        "default_speedup_vs_stock_fp32_streaming": streaming[f"edge_{chosen}"]["speedup_vs_stock_fp32"],
        "size_bytes": {name: len(data) for name, data in graphs.items()},
        "int8_breakdown": breakdown,
        "int8_plot_counts": plot_counts_differing(model, contiguous, inputs, parts[0]),
        "int8_scopes": scopes,
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
    parser.add_argument("--stream-idle-s", type=float, default=0.01, help="idle seconds before each streaming call")
    parser.add_argument("--calibration", type=int, default=256, help="training windows for int8 calibration (evenly spaced)")
    parser.add_argument("--rate-hz", type=float, default=40.0)
    parser.add_argument("--export-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    model = _newest_model(args.data_dir, args.model_uri)
    windows = np.load(args.data_dir / "04_feature" / "test" / "windows.npy")
    labels = pd.read_parquet(args.data_dir / "04_feature" / "test" / "window_labels.parquet")
    train = np.load(args.data_dir / "04_feature" / "train" / "windows.npy", mmap_mode="r")
    # evenly spaced over the training set, like the benchmark stage: the first N windows are a few recordings only
    calibration = np.asarray(train[evenly_spaced(len(train), args.calibration)])
    report, graphs = benchmark_raw_window(model, windows, labels, calibration, args.rate_hz, args.warmup, args.repeats, args.stream_idle_s)
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
