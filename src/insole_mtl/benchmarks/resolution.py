"""What each model / recurrence-plot resolution costs: size, MACs, stored bytes, CPU training speed.

``python -m insole_mtl.benchmarks resolution [--channels 14] [--classes 7] [--batch-size 32]
[--steps 3] [--warmup 1] [--threads N] [--resolutions 160 80 40] [--cnn-width 16 32]
[--with-recurrent] [--precisions fp32 bf16] [--max-seconds 30] [--length 160] [--seed 0]``

Configurations (tasks: activity with ``--classes`` classes, speed and weight regression):

* ``mobilenetv2@R`` — the paper's Table II MobileNetV2 reading ``R x R`` recurrence plots, for each
  ``R`` of ``--resolutions`` (default ``L, L/2, L/4`` = 160, 80, 40): ``R = L`` reads the binary plot,
  ``R < L`` reads ``(L/R) x (L/R)``-cell recurrence counts (``recurrence_cell = L/R``);
  ``mobilenetv2@R+amplitude`` the same with ``amplitude_features=True`` (also reads the raw window);
* ``cnn1d`` — the residual 1-D ConvNet on raw windows with its default options, and
  ``cnn1d(width=w)`` for each other ``--cnn-width``;
* ``lstm`` — with ``--with-recurrent``.

Per configuration:

``parameters``          :func:`~insole_mtl.efficiency.complexity.count_parameters`
``macs``                convolutions + linear (+ recurrent gate) layers only, what the paper's MAC
                        column counts (``count_macs(..., include_elementwise=False)``), one window
``macs_with_elementwise``  ptflops' own total, with BatchNorm/ReLU/pooling element-wise ops
``stored_bytes``        bytes per window of what the pipeline stores for the model: bit-packed plots
                        ``C * L * ceil(L/8)`` at ``R = L``, uint8 counts ``C * R * R`` below, float32
                        raw windows ``4 * C * L`` (the sum when a model reads both)
``fp32`` / ``bf16``     CPU training throughput: one step = the engine's input transform of the stored
                        batch (unpacking the packed plots, casting counts/windows), channels_last for
                        the 2-D models, forward under ``torch.autocast("cpu", torch.bfloat16)`` for
                        bf16, the masked task losses, backward and an AdamW step. ``--warmup``
                        untimed steps, then the MEDIAN of ``--steps`` timed ones:
                        ``seconds_per_step``, ``windows_per_second = batch / median``
                        (``--max-seconds``, default 30, stops the timed steps early after at
                        least one, so a slow configuration on loaded cores stays bounded; the
                        number taken is ``timed_steps``)
``speedup_fp32`` /      throughput over the baseline's fp32 throughput (the baseline is the paper's
``speedup_bf16``        configuration, ``mobilenetv2@L`` in fp32), in each precision

The returned dict (:data:`RESULT_KEYS`): ``benchmark``, ``cpu`` (``model_name``, ``flags`` for avx2 /
avx512f / avx512_bf16 / avx512_vnni / amx, ``amx_flags``, ``native_bf16``, ``onednn_bf16_supported``,
``cpu_capability``, ``bf16_note``), ``torch_version``, ``threads``, ``contention``, ``channels``,
``length``, ``tasks``, ``batch_size``, ``steps``, ``warmup``, ``max_seconds``, ``precisions``,
``baseline``, ``configurations`` (name -> the :data:`CONFIGURATION_KEYS` above; a timing is None
when not run, ``error`` is added when one failed) and ``table`` (the logged text table).

Inputs are realistic in format and shape (random-walk raw windows, encoded into recurrence plots
and counts by :func:`insole_mtl.encoding.recurrence.encode_recurrence_plots`); the values only
matter for timing. bf16 is fast only on CPUs with native bf16 kernels (AVX512_BF16 / AMX); elsewhere
oneDNN emulates it and bf16 is usually slower than fp32 — the result records the CPU's flags and
says which. Timings on shared cores are noisy: compare the ratios, and rerun before trusting 10 %.
When other processes keep the cores busy, multi-threaded steps wait for descheduled workers at every
parallel region and slow down by 10x or more; ``contention`` in the result measures this (a tiny
convolution at ``--threads`` and at 1 thread, and the load average) and a warning suggests ``--threads 1``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import inspect
import logging
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from insole_mtl.encoding.recurrence import encode_recurrence_plots, packed_width, recurrence_cell
from insole_mtl.models import TaskSpec, build_model
from insole_mtl.models.base import RECURRENCE_PLOTS, WINDOWS, MultitaskModel
from insole_mtl.models.cnn1d import ResidualCNN1d
from insole_mtl.efficiency.complexity import count_macs, count_parameters
from insole_mtl.training.data import default_input_transform
from insole_mtl.training.engine import TrainConfig, autocast_context, cpu_supports_bf16
from insole_mtl.training.losses import masked_task_losses
from insole_mtl.training.optim import build_optimizer
from insole_mtl.cpu import cpu_info

logger = logging.getLogger(__name__)

#: window length of the paper (4 s at 40 Hz) and of gaitpdb after resampling
DEFAULT_LENGTH = 160
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
#: CPU flags reported (``amx`` = any ``amx_*`` flag)
CPU_FLAGS: tuple[str, ...] = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx")

#: the keys :func:`main` returns, and those of each configuration
RESULT_KEYS: tuple[str, ...] = (
    "benchmark", "cpu", "torch_version", "threads", "contention", "channels", "length", "tasks", "batch_size", "steps",
    "warmup", "max_seconds", "precisions", "baseline", "configurations", "table",
)  # fmt: skip
CONFIGURATION_KEYS: tuple[str, ...] = (
    "model", "options", "resolution", "inputs", "parameters", "macs", "macs_with_elementwise", "stored_bytes",
    "stored_bytes_by_input", "fp32", "bf16", "speedup_fp32", "speedup_bf16",
)  # fmt: skip


def tasks_for(n_classes: int = 7) -> list[TaskSpec]:
    """activity (``n_classes``) + speed + weight, the paper's three tasks."""
    return [
        TaskSpec("activity", "classification", int(n_classes)),
        TaskSpec("speed", "regression", 1),
        TaskSpec("weight", "regression", 1),
    ]


# --------------------------------------------------------------------------------------------------
# Configurations
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Configuration:
    """One model to cost: registry name, build options, and the plot resolution it reads (None = raw only)."""

    name: str
    model: str
    options: dict[str, Any] = field(default_factory=dict)
    resolution: int | None = None

    def build(self, channels: int, tasks: Sequence[TaskSpec]) -> MultitaskModel:
        return build_model(self.model, channels, tasks, **self.options)


def default_cnn_width() -> int:
    """``ResidualCNN1d``'s default ``width`` (so ``--cnn-width`` equal to it is not timed twice)."""
    return int(inspect.signature(ResidualCNN1d.__init__).parameters["width"].default)


def build_configurations(
    length: int = DEFAULT_LENGTH,
    resolutions: Sequence[int] | None = None,
    cnn_widths: Sequence[int] = (),
    with_recurrent: bool = False,
) -> list[Configuration]:
    """The configurations in table order (see the module docstring)."""
    if resolutions is None:
        resolutions = [r for r in (length, length // 2, length // 4) if r >= 1 and length % r == 0]
    configs: list[Configuration] = []
    for r in resolutions:
        cell = recurrence_cell(length, int(r))  # validates: a divisor of L with uint8 counts
        base = {} if cell == 1 else {"recurrence_cell": cell}
        configs.append(Configuration(f"mobilenetv2@{r}", "mobilenetv2", dict(base), int(r)))
    for r in resolutions:
        cell = length // int(r)
        base = {} if cell == 1 else {"recurrence_cell": cell}
        configs.append(Configuration(f"mobilenetv2@{r}+amplitude", "mobilenetv2", {**base, "amplitude_features": True}, int(r)))
    configs.append(Configuration("cnn1d", "cnn1d"))
    default_width = default_cnn_width()
    for w in dict.fromkeys(int(w) for w in cnn_widths):  # ordered, no duplicates
        if w != default_width:
            configs.append(Configuration(f"cnn1d(width={w})", "cnn1d", {"width": w}))
    if with_recurrent:
        configs.append(Configuration("lstm", "lstm"))
    return configs


# --------------------------------------------------------------------------------------------------
# Inputs: stored format, model-ready shapes, bytes
# --------------------------------------------------------------------------------------------------
def model_input_shapes(model: MultitaskModel, channels: int, length: int, resolution: int | None) -> tuple[tuple[int, ...], ...]:
    """Model-ready shape of ONE window for each of ``model.input_names``: ``(C, R, R)`` / ``(C, L)``."""
    shapes = []
    for name in model.input_names:
        if name == RECURRENCE_PLOTS:
            if resolution is None:
                raise ValueError(f"{type(model).__name__} reads recurrence plots but the configuration has no resolution")
            shapes.append((channels, resolution, resolution))
        elif name == WINDOWS:
            shapes.append((channels, length))
        else:  # pragma: no cover - a new input kind
            raise ValueError(f"unknown model input {name!r}")
    return tuple(shapes)


def stored_bytes_per_window(input_name: str, channels: int, length: int, resolution: int | None = None) -> int:
    """Bytes of one window as the pipeline stores it (see the module docstring)."""
    if input_name == WINDOWS:
        return 4 * channels * length  # float32
    if input_name != RECURRENCE_PLOTS or resolution is None:
        raise ValueError(f"no stored format for input {input_name!r} at resolution {resolution!r}")
    if resolution == length:
        return channels * length * packed_width(length)  # bit-packed binary plots
    recurrence_cell(length, resolution)
    return channels * resolution * resolution  # uint8 recurrence counts


def random_windows(n: int, channels: int, length: int, seed: int = 0) -> np.ndarray:
    """Random-walk raw windows ``(n, C, L)`` float32, offset/scaled per channel like sensor counts."""
    rng = np.random.default_rng(seed)
    walk = rng.standard_normal((n, channels, length)).cumsum(axis=-1)
    scale = rng.uniform(5.0, 50.0, (1, channels, 1))
    offset = rng.uniform(0.0, 500.0, (1, channels, 1))
    return (walk * scale + offset).astype(np.float32)


def stored_inputs(model: MultitaskModel, windows: np.ndarray, resolution: int | None) -> tuple[np.ndarray, ...]:
    """The stored arrays the model's inputs come from: packed plots / uint8 counts / float32 windows."""
    length = windows.shape[-1]
    arrays = []
    for name in model.input_names:
        if name == RECURRENCE_PLOTS:
            res = None if resolution == length else resolution
            arrays.append(encode_recurrence_plots(windows, resolution=res, num_threads=1))
        else:
            arrays.append(np.ascontiguousarray(windows, dtype=np.float32))
    return tuple(arrays)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------------------------------
# Counting
# --------------------------------------------------------------------------------------------------
def configuration_costs(config: Configuration, channels: int, tasks: Sequence[TaskSpec], length: int = DEFAULT_LENGTH, seed: int = 0) -> dict[str, Any]:
    """Parameters, MACs (conv+linear and ptflops' total) and stored bytes of one configuration (deterministic)."""
    torch.manual_seed(seed)
    model = config.build(channels, tasks)
    shapes = model_input_shapes(model, channels, length, config.resolution)
    by_input = {name: stored_bytes_per_window(name, channels, length, config.resolution) for name in model.input_names}
    # one thread: the counts do not depend on it, and on busy shared cores every multi-threaded
    # parallel region of ptflops' batch-1 forward can wait milliseconds for a descheduled worker
    with _threads(1):
        macs = count_macs(model, shapes, include_elementwise=False)
        macs_total = count_macs(model, shapes, include_elementwise=True)
    return {
        "model": config.model,
        "options": dict(config.options),
        "resolution": config.resolution,
        "inputs": {name: list(shape) for name, shape in zip(model.input_names, shapes, strict=True)},
        "parameters": count_parameters(model),
        "macs": macs,
        "macs_with_elementwise": macs_total,
        "stored_bytes": int(sum(by_input.values())),
        "stored_bytes_by_input": by_input,
    }


# --------------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------------
def _targets(n: int, tasks: Sequence[TaskSpec], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for task in tasks:
        if task.is_regression:
            out[task.name] = torch.randn(n, generator=g)
        else:
            out[task.name] = torch.randint(0, task.n_outputs, (n,), generator=g)
    return out


def time_training(
    config: Configuration,
    channels: int,
    tasks: Sequence[TaskSpec],
    precision: str,
    batch_size: int,
    steps: int,
    warmup: int,
    length: int = DEFAULT_LENGTH,
    seed: int = 0,
    max_seconds: float | None = None,
) -> dict[str, Any]:
    """Median seconds of a CPU training step (see the module docstring) and windows/s.

    ``warmup`` untimed steps, then up to ``steps`` timed ones, stopping early (after at least one)
    once the timed steps have taken more than ``max_seconds``.
    """
    device = torch.device("cpu")
    torch.manual_seed(seed)
    model = config.build(channels, tasks)
    windows = random_windows(batch_size, channels, length, seed)
    arrays = stored_inputs(model, windows, config.resolution)
    model.fit_input_statistics(*arrays)
    transforms = default_input_transform(arrays if len(arrays) > 1 else arrays[0])
    transforms = transforms if isinstance(transforms, tuple) else (transforms,)
    stored = tuple(torch.from_numpy(a) for a in arrays)
    targets = _targets(batch_size, tasks, seed)
    two_d = any(a.ndim == 4 for a in arrays)
    if two_d:
        model = model.to(memory_format=torch.channels_last)
    model.train()
    defaults = TrainConfig()
    optimizer = build_optimizer(defaults.optimizer, model.parameters(), lr=defaults.lr, weight_decay=defaults.weight_decay)

    def step() -> float:
        xs = []
        for transform, s in zip(transforms, stored, strict=True):
            x = transform(s)
            xs.append(x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x)
        with autocast_context(device, precision):
            outputs = model(*xs)
        losses = masked_task_losses(outputs, targets, tasks, check_empty=False)
        loss = torch.stack([v.float() for v in losses.values()]).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    t0 = time.perf_counter()
    for _ in range(warmup):
        step()
    warmup_seconds = time.perf_counter() - t0
    times, loss = [], float("nan")
    started = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t0)
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break  # at least one timed step; a slow configuration on loaded cores stays bounded
    median = statistics.median(times)
    return {
        "seconds_per_step": median,
        "windows_per_second": batch_size / median,
        "step_seconds": times,
        "timed_steps": len(times),
        "warmup_seconds": warmup_seconds,
        "channels_last": two_d,
        "last_loss": loss,
    }


# --------------------------------------------------------------------------------------------------
# CPU description
# --------------------------------------------------------------------------------------------------
def cpu_description() -> dict[str, Any]:
    """CPU model name, the :data:`CPU_FLAGS` present, and whether bf16 is native or emulated."""
    name, flags = cpu_info()
    present = None
    if flags is not None:
        present = {flag: flag in flags for flag in CPU_FLAGS if flag != "amx"}
        present["amx"] = any(f.startswith("amx") for f in flags)
    native = None if present is None else bool(present["avx512_bf16"] or any(f == "amx_bf16" for f in flags or ()))
    if native is None:
        note = "CPU flags unknown (no /proc/cpuinfo): cannot tell whether bf16 is native"
    elif native:
        note = "native bf16 (AVX512_BF16/AMX): bf16 autocast runs on bf16 hardware kernels"
    else:
        note = "no native bf16 (neither AVX512_BF16 nor AMX): bf16 is EMULATED, expect it slower than fp32"
    return {
        "model_name": name,
        "flags": present,
        "amx_flags": sorted(f for f in (flags or ()) if f.startswith("amx")),
        "native_bf16": native,
        "onednn_bf16_supported": cpu_supports_bf16(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "bf16_note": note,
    }


def parallel_overhead(threads: int, repeats: int = 20) -> dict[str, Any]:
    """Median seconds of a tiny conv at ``threads`` and at 1 thread, and the 1-minute load average.

    On idle cores the two are microseconds apart. When other processes occupy the cores, every
    multi-threaded parallel region waits for a descheduled worker (milliseconds), which dominates
    small and mid-sized layers: then the multi-threaded timings measure the neighbours, not the model.
    """
    x, w = torch.zeros(1, 2, 32), torch.randn(8, 2, 3)

    def median_seconds(n: int) -> float:
        with _threads(n):
            torch.conv1d(x, w)  # primitive creation
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                torch.conv1d(x, w)
                times.append(time.perf_counter() - t0)
        return statistics.median(times)

    multi, single = median_seconds(threads), median_seconds(1)
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on Windows
        load = None
    return {
        "threads": threads,
        "tiny_conv_seconds": multi,
        "tiny_conv_seconds_1_thread": single,
        "load_average_1min": load,
        "logical_cpus": os.cpu_count(),
        # > 1 ms for a 1x2x32 convolution: the parallel region waited for a descheduled thread
        "contended": bool(threads > 1 and multi > 1e-3 and multi > 50 * single),
    }


# --------------------------------------------------------------------------------------------------
# Table and CLI
# --------------------------------------------------------------------------------------------------
def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(configurations: dict[str, dict[str, Any]], precisions: Sequence[str]) -> str:
    """Compact text table of the result's configurations."""
    header = f"{'configuration':<26} {'params':>8} {'MMACs':>8} {'MMACs-pt':>8} {'B/window':>9}"
    for p in precisions:
        header += f" {p + ' w/s':>10} {'x' + p:>7}"
    lines = [header, "-" * len(header)]
    for name, row in configurations.items():
        line = (
            f"{name:<26} {_fmt(row.get('parameters'), ',d'):>8} {_fmt(_mega(row.get('macs')), '.1f'):>8} "
            f"{_fmt(_mega(row.get('macs_with_elementwise')), '.1f'):>8} {_fmt(row.get('stored_bytes'), ',d'):>9}"
        )
        for p in precisions:
            timing = row.get(p) or {}
            line += f" {_fmt(timing.get('windows_per_second'), '.2f'):>10} {_fmt(row.get('speedup_' + p), '.2f'):>7}"
        if "error" in row:
            line += f"  ERROR {row['error'][:60]}"
        lines.append(line)
    return "\n".join(lines)


def _mega(v: int | None) -> float | None:
    return None if v is None else v / 1e6


def main(argv: Sequence[str] | None = None) -> dict:
    """Count and time every configuration; log a table and return the figures."""
    parser = argparse.ArgumentParser(prog="resolution", description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=14, help="input channels (14: the paper's insole, 16: gaitpdb)")
    parser.add_argument("--classes", type=int, default=7, help="activity classes")
    parser.add_argument("--length", type=int, default=DEFAULT_LENGTH, help="window length L (samples)")
    parser.add_argument("--resolutions", type=int, nargs="*", default=None, help="plot sides R (default L, L/2, L/4)")
    parser.add_argument("--cnn-width", type=int, nargs="*", default=[], help="extra cnn1d widths")
    parser.add_argument("--with-recurrent", action="store_true", help="also the LSTM baseline")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per configuration and precision (0: counts only)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument(
        "--max-seconds", type=float, default=30.0,
        help="stop timing a configuration/precision after this many seconds of timed steps (>= 1 step); 0 = no limit",
    )  # fmt: skip
    parser.add_argument("--precisions", nargs="*", default=list(PRECISIONS), choices=list(PRECISIONS))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's default)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.batch_size < 1 or args.steps < 0 or args.warmup < 0 or args.channels < 1:
        parser.error("--batch-size and --channels must be >= 1, --steps and --warmup >= 0")

    tasks = tasks_for(args.classes)
    configs = build_configurations(args.length, args.resolutions, args.cnn_width, args.with_recurrent)
    cpu = cpu_description()
    if cpu["native_bf16"] is False and "bf16" in args.precisions:
        logger.warning("%s", cpu["bf16_note"])
    precisions = list(dict.fromkeys(args.precisions))
    baseline = next((c.name for c in configs if c.resolution == args.length and not c.options), None)
    results: dict[str, dict[str, Any]] = {}
    with _threads(args.threads):
        threads = torch.get_num_threads()
        logger.info(
            "CPU %s, flags %s; %s; %d threads; %d channels, batch %d, %d+%d steps",
            cpu["model_name"], cpu["flags"], cpu["bf16_note"], threads, args.channels, args.batch_size,
            args.warmup, args.steps,
        )  # fmt: skip
        contention = parallel_overhead(threads)
        if contention["contended"]:
            logger.warning(
                "busy cores (load %s on %s CPUs): a tiny parallel region takes %.1f ms at %d threads vs %.3f ms "
                "at 1; multi-threaded timings will mostly measure the other processes, try --threads 1",
                contention["load_average_1min"], contention["logical_cpus"], 1e3 * contention["tiny_conv_seconds"],
                threads, 1e3 * contention["tiny_conv_seconds_1_thread"],
            )  # fmt: skip
        for config in configs:
            row: dict[str, Any] = configuration_costs(config, args.channels, tasks, args.length, args.seed)
            for p in PRECISIONS:
                row[p] = None
            if args.steps > 0:
                for p in precisions:
                    try:
                        row[p] = time_training(
                            config, args.channels, tasks, p, args.batch_size, args.steps, args.warmup, args.length, args.seed,
                            args.max_seconds or None,
                        )  # fmt: skip
                    except Exception as exc:  # e.g. out of memory: report, keep going
                        logger.warning("%s %s failed: %s", config.name, p, exc)
                        row["error"] = f"{p}: {type(exc).__name__}: {exc}"[:500]
                    gc.collect()
                    timing = row[p]
                    if timing is not None:
                        logger.info(
                            "%-26s %s %.3f s/step (median of %d), %.2f windows/s", config.name, p,
                            timing["seconds_per_step"], timing["timed_steps"], timing["windows_per_second"],
                        )  # fmt: skip
            results[config.name] = row
    base = (results.get(baseline) or {}).get("fp32") if baseline else None
    for row in results.values():
        for p in PRECISIONS:
            timing = row.get(p)
            row["speedup_" + p] = timing["windows_per_second"] / base["windows_per_second"] if base and timing else None
    table = format_table(results, precisions)
    logger.info(
        "cost per configuration (%d channels, %d threads, batch %d; MMACs = conv+linear, MMACs-pt = ptflops "
        "total; x = throughput over %s):\n%s", args.channels, threads, args.batch_size,
        f"{baseline} fp32" if base else "(no baseline timed)", table,
    )  # fmt: skip
    return {
        "benchmark": "resolution",
        "cpu": cpu,
        "torch_version": torch.__version__,
        "threads": threads,
        "contention": contention,
        "channels": args.channels,
        "length": args.length,
        "tasks": [{"name": t.name, "kind": t.kind, "n_outputs": t.n_outputs} for t in tasks],
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup": args.warmup,
        "max_seconds": args.max_seconds or None,
        "precisions": precisions,
        "baseline": baseline,
        "configurations": results,
        "table": table,
    }
