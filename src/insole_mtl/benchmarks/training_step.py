"""Training-step speed of the Table II network on this machine (issue #5), and the accuracy cost.

``python -m insole_mtl.benchmarks training_step --batch-size 64 --steps 3 --variants fp32 cl+bf16``

A variant is a ``+``-joined set of switches applied to one forward/backward/AdamW step:

``fp32``     eager, NCHW, float32 (the naive baseline every ratio is relative to)
``cl``       channels_last memory format for the input and the model
``bf16``     ``torch.autocast(device, dtype=torch.bfloat16)`` (on CUDA ``fp16`` also works, with a GradScaler)
``compile``  ``torch.compile`` (inductor; needs a C++ compiler on CPU)
``t<N>``     ``torch.set_num_threads(N)`` for that variant

All variants are timed back-to-back in one process on the same batch from the same initial weights,
so the ratios are meaningful even when the absolute timings are noisy (shared cores). The loss-curve
check trains fp32 and ``--curve-variant`` for ``--curve-steps`` steps on the same synthetic
recurrence-plot data and reports the largest absolute difference between the two loss sequences.

The network is :class:`insole_mtl.models.mobilenet.MultitaskMobileNetV2` (Table II, three heads).
bf16 is only fast on CPUs with native bf16 kernels (AVX-512-BF16/AMX); elsewhere oneDNN emulates it
and ``bf16`` variants are slower than ``fp32`` — the report says which the CPU has.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from insole_mtl.models.mobilenet import MultitaskMobileNetV2
from insole_mtl.models import TaskSpec
from insole_mtl.training.engine import cpu_supports_bf16
from insole_mtl.training.losses import masked_task_losses
from insole_mtl.training.optim import build_optimizer

logger = logging.getLogger(__name__)

DEFAULT_VARIANTS: tuple[str, ...] = ("fp32", "cl", "bf16", "cl+bf16", "compile+cl+bf16")


@dataclass(frozen=True)
class _Task:
    name: str
    kind: str
    n_outputs: int


TASKS: tuple[_Task, ...] = (
    _Task("activity", "classification", 7),
    _Task("speed", "regression", 1),
    _Task("weight", "regression", 1),
)


def build_table2_model(in_channels: int = 14) -> tuple[nn.Module, str]:
    """The project's Table II multitask network; returns ``(model, source)``."""
    tasks = [TaskSpec(t.name, t.kind, t.n_outputs) for t in TASKS]
    return MultitaskMobileNetV2(in_channels=in_channels, tasks=tasks), "insole_mtl.models.mobilenet"


# --------------------------------------------------------------------------------------------------
# Synthetic, learnable recurrence-plot batches
# --------------------------------------------------------------------------------------------------
def synthetic_batch(n: int, channels: int = 14, length: int = 160, seed: int = 0) -> tuple[Tensor, dict[str, Tensor]]:
    """Binary recurrence plots of class-dependent sinusoids plus labels with missing values.

    Returns:
        ``x`` float32 ``(n, channels, length, length)`` in {0, 1} and targets: ``activity`` int64
        ``(n,)`` in 0..6, ``speed``/``weight`` float32 ``(n,)`` standardised-ish, NaN on about half.
    """
    g = torch.Generator().manual_seed(seed)
    activity = torch.randint(0, 7, (n,), generator=g)
    t = torch.arange(length, dtype=torch.float32) / 40.0
    freq = (0.5 + 0.4 * activity.float())[:, None, None] * (1.0 + 0.1 * torch.rand(n, channels, 1, generator=g))
    phase = 6.283 * torch.rand(n, channels, 1, generator=g)
    signal = torch.sin(6.283 * freq * t + phase) + 0.2 * torch.randn(n, channels, length, generator=g)
    dist = (signal[..., :, None] - signal[..., None, :]).abs()
    eps = 0.1 * dist.amax(dim=(-2, -1), keepdim=True)
    x = (dist < eps).float()
    speed = (activity.float() - 3.0) / 2.0
    speed[activity > 2] = float("nan")
    weight = torch.randn(n, generator=g)
    weight[activity != 2] = float("nan")
    return x, {"activity": activity, "speed": speed, "weight": weight}


# --------------------------------------------------------------------------------------------------
# One variant
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    name: str
    channels_last: bool
    dtype: torch.dtype | None  # autocast dtype, None = fp32
    compile: bool
    threads: int | None


def parse_variant(name: str) -> Variant:
    """Parse ``"compile+cl+bf16+t2"`` style names (see the module docstring)."""
    parts = [p for p in name.lower().split("+") if p]
    cl = dtype = comp = threads = None
    for p in parts:
        if p == "fp32":
            continue
        if p == "cl":
            cl = True
        elif p == "bf16":
            dtype = torch.bfloat16
        elif p == "fp16":
            dtype = torch.float16
        elif p == "compile":
            comp = True
        elif p.startswith("t") and p[1:].isdigit():
            threads = int(p[1:])
        else:
            raise ValueError(f"unknown switch {p!r} in variant {name!r}; use fp32, cl, bf16, fp16, compile, t<N>")
    return Variant(name, bool(cl), dtype, bool(comp), threads)


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class _Stepper:
    """Model + AdamW + one training step for a variant."""

    def __init__(self, base: nn.Module, variant: Variant, device: torch.device, lr: float = 2e-3) -> None:
        self.variant = variant
        self.device = device
        self.model = copy.deepcopy(base).to(device)
        if variant.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = build_optimizer("adamw", self.model.parameters(), lr=lr, weight_decay=1e-2)
        self.forward = torch.compile(self.model) if variant.compile else self.model
        use_scaler = variant.dtype == torch.float16 and device.type == "cuda"
        self.scaler = torch.amp.GradScaler(device.type, enabled=use_scaler)

    def step(self, x: Tensor, targets: dict[str, Tensor]) -> Tensor:
        if self.variant.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(self.device, self.variant.dtype):
            outputs = self.forward(x)
        losses = masked_task_losses(outputs, targets, TASKS)
        loss = torch.stack(list(losses.values())).sum()
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss.detach()


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_variant(
    base: nn.Module, variant: Variant, x: Tensor, targets: dict[str, Tensor], steps: int, warmup: int, device: torch.device
) -> dict[str, float]:
    """Seconds of the first (warm-up/compile) step and the mean of ``steps`` timed steps."""
    with _threads(variant.threads):
        stepper = _Stepper(base, variant, device)
        t0 = time.perf_counter()
        for _ in range(max(warmup, 1)):
            stepper.step(x, targets)
        _sync(device)
        first = time.perf_counter() - t0
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            loss = stepper.step(x, targets)
            _sync(device)
            times.append(time.perf_counter() - t0)
    mean = sum(times) / len(times)
    return {
        "warmup_seconds": first,
        "seconds_per_step": mean,
        "min_seconds_per_step": min(times),
        "seconds_per_window": mean / x.shape[0],
        "last_loss": float(loss),
    }


def loss_curve(
    base: nn.Module, variant: Variant, steps: int, batch: int, device: torch.device, seed: int = 0, size: int = 160
) -> list[float]:
    """Losses of ``steps`` training steps on fresh synthetic batches (same data for every variant)."""
    with _threads(variant.threads):
        stepper = _Stepper(base, variant, device)
        out = []
        for i in range(steps):
            x, y = synthetic_batch(batch, length=size, seed=seed + 1000 + i)
            out.append(float(stepper.step(x.to(device), {k: v.to(device) for k, v in y.items()})))
    return out


def _unpack_bits(packed: Tensor, length: int) -> Tensor:
    """``np.packbits(..., axis=-1)`` (big bit order) inverse on the device: uint8 (b,C,L,P) -> float (b,C,L,length)."""
    shifts = torch.arange(7, -1, -1, device=packed.device, dtype=torch.uint8)
    bits = (packed.unsqueeze(-1) >> shifts) & 1
    return bits.flatten(-2)[..., :length].float()


def engine_run(
    n_windows: int, epochs: int, batch_size: int, size: int, device: str, precision: str, seed: int, compile: bool = False
) -> dict:
    """End-to-end :func:`train_model` on synthetic packed recurrence plots: throughput and data wait."""
    import numpy as np

    from insole_mtl.training.data import TaskArrays
    from insole_mtl.training.engine import TrainConfig, train_model

    def split(n: int, offset: int) -> TaskArrays:
        xs, ys = [], {"activity": [], "speed": [], "weight": []}
        for start in range(0, n, 256):  # chunked: the float RPs are 1.4 MB per window
            x, y = synthetic_batch(min(256, n - start), length=size, seed=seed + offset + start)
            xs.append(np.packbits(x.numpy().astype(np.uint8), axis=-1))
            for k in ys:
                ys[k].append(y[k].numpy())
        targets = {k: np.concatenate(v) for k, v in ys.items()}
        targets["speed"] = targets["speed"].astype(np.float64) * 1.5 + 5.0  # physical-looking units
        targets["weight"] = targets["weight"].astype(np.float64) * 10.0 + 70.0
        return TaskArrays(np.concatenate(xs), targets)

    class _Uniform(nn.Module):
        def forward(self, losses):  # noqa: D401 - sum of the task losses
            return torch.stack(list(losses.values())).sum()

        def weights(self):
            return {t.name: 1.0 for t in TASKS}

        def on_epoch_end(self, losses):
            return None

    torch.manual_seed(seed)
    train, val = split(n_windows, 0), split(max(n_windows // 4, 1), 10**6)
    model, _ = build_table2_model()
    config = TrainConfig(
        max_epochs=epochs, batch_size=batch_size, device=device, precision=precision, seed=seed, log_every_s=30.0,
        compile=compile,
    )  # fmt: skip
    result = train_model(model, _Uniform(), train, val, list(TASKS), config, input_transform=lambda x: _unpack_bits(x, size))
    h = result.history
    return {
        "device": result.device,
        "precision": result.precision,
        "windows": n_windows,
        "batch_size": batch_size,
        "epoch_seconds": h["epoch_seconds"].tolist(),
        "windows_per_second": h["windows_per_second"].tolist(),
        "data_wait_fraction": h["data_wait_fraction"].tolist(),
        "val_loss": h["val_loss"].tolist(),
    }


def main(argv: Sequence[str] | None = None) -> dict:
    """Time the variants and compare the loss curves; returns the figures as a dict."""
    parser = argparse.ArgumentParser(prog="training_step", description=__doc__.split("\n")[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per variant (compile happens here)")
    parser.add_argument("--variants", nargs="*", default=list(DEFAULT_VARIANTS))
    parser.add_argument("--size", type=int, default=160, help="recurrence plot side L")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch-sizes", type=int, nargs="*", default=[], help="per-window cost of --sweep-variant")
    parser.add_argument("--sweep-variant", default="cl+bf16")
    parser.add_argument("--curve-steps", type=int, default=0, help="0 = skip the loss-curve comparison")
    parser.add_argument("--curve-batch", type=int, default=16)
    parser.add_argument("--curve-variant", default="cl+bf16")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine-windows", type=int, default=0, help="> 0: also run train_model end to end on this many synthetic windows")
    parser.add_argument("--engine-epochs", type=int, default=2)
    parser.add_argument("--engine-batch-size", type=int, default=512)
    parser.add_argument("--engine-precision", default="auto")
    parser.add_argument("--engine-compile", action="store_true")
    args = parser.parse_args(list(argv) if argv is not None else None)

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(args.seed)
    base, source = build_table2_model()
    n_params = sum(p.numel() for p in base.parameters())
    x, targets = synthetic_batch(args.batch_size, length=args.size, seed=args.seed)
    x, targets = x.to(device), {k: v.to(device) for k, v in targets.items()}
    result: dict = {
        "device": str(device),
        "model": source,
        "parameters": n_params,
        "batch_size": args.batch_size,
        "input": [args.batch_size, 14, args.size, args.size],
        "threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_native_bf16": cpu_supports_bf16(),
        "variants": {},
    }
    logger.info("model %s (%d parameters), device %s, %d threads", source, n_params, device, torch.get_num_threads())
    for name in args.variants:
        variant = parse_variant(name)
        try:
            figures = time_variant(base, variant, x, targets, args.steps, args.warmup, device)
        except Exception as exc:  # a variant that cannot run here (e.g. no compiler) is reported, not fatal
            logger.warning("variant %s failed: %s", name, exc)
            result["variants"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            continue
        result["variants"][name] = figures
        logger.info(
            "%-18s %.3f s/step (min %.3f) %.4f s/window, first step %.1f s",
            name, figures["seconds_per_step"], figures["min_seconds_per_step"],
            figures["seconds_per_window"], figures["warmup_seconds"],
        )  # fmt: skip
    baseline = result["variants"].get(args.variants[0], {}).get("seconds_per_step") if args.variants else None
    if baseline:
        for name, figures in result["variants"].items():
            if "seconds_per_step" in figures:
                figures["speedup_vs_" + args.variants[0]] = baseline / figures["seconds_per_step"]
    if args.batch_sizes:
        variant = parse_variant(args.sweep_variant)
        sweep = {}
        for bs in args.batch_sizes:
            xb, yb = synthetic_batch(bs, length=args.size, seed=args.seed)
            xb, yb = xb.to(device), {k: v.to(device) for k, v in yb.items()}
            sweep[bs] = time_variant(base, variant, xb, yb, args.steps, args.warmup, device)
            logger.info("batch %4d %s: %.4f s/window", bs, args.sweep_variant, sweep[bs]["seconds_per_window"])
        result["batch_size_sweep"] = {"variant": args.sweep_variant, "per_batch_size": sweep}
    if args.curve_steps > 0:
        ref = loss_curve(base, parse_variant("fp32"), args.curve_steps, args.curve_batch, device, args.seed, args.size)
        fast = loss_curve(base, parse_variant(args.curve_variant), args.curve_steps, args.curve_batch, device, args.seed, args.size)
        diffs = [abs(a - b) for a, b in zip(ref, fast, strict=True)]
        result["loss_curve"] = {
            "variant": args.curve_variant,
            "batch": args.curve_batch,
            "fp32": ref,
            args.curve_variant: fast,
            "max_abs_diff": max(diffs),
            "max_rel_diff": max(d / max(abs(a), 1e-12) for d, a in zip(diffs, ref, strict=True)),
        }
        logger.info("loss curve fp32 vs %s: max |diff| %.4g; fp32 %s; %s %s", args.curve_variant, max(diffs),
                    [round(v, 4) for v in ref], args.curve_variant, [round(v, 4) for v in fast])  # fmt: skip
    if args.engine_windows > 0:
        try:
            result["engine"] = engine_run(
                args.engine_windows, args.engine_epochs, args.engine_batch_size, args.size, str(device),
                args.engine_precision, args.seed, args.engine_compile,
            )  # fmt: skip
        except Exception as exc:  # report, keep the figures measured so far
            logger.exception("engine run failed")
            result["engine"] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        logger.info("engine: %s", result["engine"])
    return result
