"""Knowledge distillation for the edge (paper 002; issue #11): a smaller student learns from the trained multitask
teacher's soft class targets and its regression outputs, and goes through the same self-contained edge export.

Student (default): the same MobileNetV2 family with 3 bottleneck stages (Appendix A ablation), 16 stem channels,
64 last channels and recurrence plots reduced to 20 x 20 (8 x 8 cells) instead of 40 x 40, plus the amplitude
branch. Loss per batch (targets standardised with the TEACHER's target scaling, copied into the student):

    alpha * T² * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, label)
    + sum over regression tasks: alpha * MSE(student_z, teacher_z) + (1 - alpha) * masked MSE(student_z, target_z)

``alpha = 0`` is the same student trained without the teacher (the control of the table). Everything runs on
CPU in fp32 with a fixed seed; :func:`distillation_table` returns parameters, raw-window ONNX size, batch-1
latency (tuned fp32 session) and the three task scores on the same test windows for teacher, student and control.

``python -m insole_mtl.edge.distillation --data-dir data/test --epochs 8``
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from insole_mtl import inference
from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.raw_benchmark import time_paths
from insole_mtl.evaluation.metrics import evaluate_predictions
from insole_mtl.models import MultitaskModel, build_model

#: constructor options of the default student (see the module docstring)
STUDENT_OPTIONS: dict[str, Any] = {"bottlenecks": 3, "stem_channels": 16, "last_channels": 64, "amplitude_features": True}
STUDENT_RESOLUTION = 20


def make_student(teacher: MultitaskModel, resolution: int = STUDENT_RESOLUTION, seed: int = 0, **options: Any) -> MultitaskModel:
    """An untrained student with the teacher's tasks, channels, window length and target scaling; its initial
    weights depend on ``seed`` only (not on the caller's RNG state), so the distilled student and its control
    start from the same weights and a rerun gives the same table."""
    pre = teacher.preprocessing
    length = int(pre["window_length"])
    opts = {**STUDENT_OPTIONS, **options, "recurrence_cell": length // int(resolution)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        student = build_model("mobilenetv2", in_channels=len(pre["channels"]), tasks=teacher.tasks, **opts)
    student.build_spec = {"name": "mobilenetv2", "in_channels": len(pre["channels"]), "options": opts}
    percentage = (pre.get("recurrence") or {}).get("percentage", 10.0)
    student.preprocessing = {**pre, "input_names": list(student.input_names), "recurrence": {"percentage": percentage, "resolution": int(resolution)}}
    for task in teacher.target_scaling:
        student.set_target_scaling(task, *teacher.target_scaling_of(task))
    return student


def _inputs(model: MultitaskModel, windows: np.ndarray) -> tuple[torch.Tensor, ...]:
    pre = inference.model_preprocessing(model, 40.0)
    return tuple(torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in inference.model_inputs(windows, pre))


def train_student(
    teacher: MultitaskModel,
    student: MultitaskModel,
    windows: np.ndarray,
    labels: pd.DataFrame,
    alpha: float = 0.7,
    temperature: float = 2.0,
    epochs: int = 8,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> MultitaskModel:
    """Train ``student`` on raw training windows ``(n, C, L)`` and their labels (see the module docstring)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    windows = np.asarray(windows, dtype=np.float32)
    s_inputs = _inputs(student, windows)
    student.fit_input_statistics(*[x.numpy() for x in s_inputs])
    teacher.eval()
    with torch.no_grad():
        t_out = teacher(*_inputs(teacher, windows))
    targets = {"activity": torch.as_tensor(np.array(labels["activity"], dtype=np.int64))}
    for task in student.target_scaling:
        y = torch.as_tensor(np.array(labels[task], dtype=np.float32))
        targets[task] = student.standardise_target(task, y)
    optimiser = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.01)
    kl = nn.KLDivLoss(reduction="batchmean")
    for _ in range(int(epochs)):
        student.train()
        order = torch.as_tensor(rng.permutation(len(windows)))
        for start in range(0, len(windows), batch_size):
            idx = order[start : start + batch_size]
            out = student(*[x[idx] for x in s_inputs])
            loss = (1 - alpha) * nn.functional.cross_entropy(out["activity"], targets["activity"][idx])
            if alpha > 0:
                soft = torch.log_softmax(out["activity"] / temperature, dim=-1)
                loss = loss + alpha * temperature**2 * kl(soft, torch.softmax(t_out["activity"][idx] / temperature, dim=-1))
            for task in student.target_scaling:
                z, y = out[task], targets[task][idx]
                known = ~torch.isnan(y)
                if known.any():
                    loss = loss + (1 - alpha) * nn.functional.mse_loss(z[known], y[known])
                if alpha > 0:
                    loss = loss + alpha * nn.functional.mse_loss(z, t_out[task][idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return student.eval()


def _latency_ms(model: MultitaskModel, windows: np.ndarray, repeats: int) -> float:
    """Median batch-1 latency (ms) of the model's raw-window edge graph over ``windows``."""
    # one thread without spinning: the table compares the models' compute, not a thread pool's luck on shared cores
    session = rw.edge_session(rw.export_raw_window_onnx(model), threads=1, spinning=False)
    path = {"edge": lambda x: session.run(None, {rw.INPUT: x})}
    return time_paths(path, np.ascontiguousarray(windows, dtype=np.float32), warmup=10, repeats=repeats)["edge"]["median_ms"]


def distillation_table(
    models: Mapping[str, MultitaskModel], test_windows: np.ndarray, test_labels: pd.DataFrame, class_names: list[str], repeats: int = 200
) -> pd.DataFrame:
    """One row per model: parameters, raw-window ONNX bytes, batch-1 latency (ms, tuned fp32 ORT session),
    recurrence resolution, and activity accuracy / macro-F1, speed MAE, weight MAE on the same test windows."""
    rows = []
    for name, model in models.items():
        pre = inference.model_preprocessing(model, 40.0)
        out = inference.predict_windows(model, test_windows, pre)
        scores = evaluate_predictions(test_labels, {k: out[k] for k in ("activity", "speed", "weight") if k in out}, class_names)
        rows.append({
            "model": name, "parameters": int(sum(p.numel() for p in model.parameters())),
            "onnx_bytes": len(rw.export_raw_window_onnx(model)), "resolution": pre.resolution,
            "latency_ms_bs1": _latency_ms(model, test_windows, repeats),
            **{k: scores[k] for k in ("activity_accuracy", "activity_macro_f1", "speed_mae", "weight_mae") if k in scores},
        })  # fmt: skip
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description="Distil the newest trained model into an edge student and compare.")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--model-uri", default=None)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=0.7)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--classes", nargs="*", default=None, help="activity class names (default: 0..K-1)")
    parser.add_argument("--out", type=Path, default=None, help="CSV of the table")
    args = parser.parse_args(argv)
    from insole_mtl.serving.loading import load_trained_model

    teacher = load_trained_model(args.model_uri, args.data_dir / "06_models" / "trained_model.pkl").model
    feature = args.data_dir / "04_feature"
    train_w = np.load(feature / "train" / "windows.npy")
    train_l = pd.read_parquet(feature / "train" / "window_labels.parquet")
    test_w = np.load(feature / "test" / "windows.npy")
    test_l = pd.read_parquet(feature / "test" / "window_labels.parquet")
    k = next(t.n_outputs for t in teacher.tasks if t.name == "activity")
    classes = args.classes or [str(i) for i in range(k)]
    student = train_student(teacher, make_student(teacher), train_w, train_l, args.alpha, args.temperature, args.epochs)
    control = train_student(teacher, make_student(teacher), train_w, train_l, 0.0, args.temperature, args.epochs)
    table = distillation_table({"teacher": teacher, "student (distilled)": student, "student (no teacher)": control}, test_w, test_l, classes)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(json.dumps({"epochs": args.epochs, "alpha": args.alpha, "temperature": args.temperature, "student": STUDENT_OPTIONS,
                      "student_resolution": STUDENT_RESOLUTION, "machine": rw.machine()}))  # fmt: skip
    if args.out is not None:
        table.to_csv(args.out, index=False)
    return table


if __name__ == "__main__":
    main()
