"""The paper's published numbers (Kim et al. 2023, SPEC §4, §6, §8), as data for the adjacent columns.

Keys follow the metric names of :mod:`insole_mtl.protocol.aggregate` (``activity_accuracy_pct`` is a
percentage, ``activity_accuracy`` a fraction, ``params_k`` thousands of parameters, ``macs_g``
billions of MACs, latencies in milliseconds). Rows are keyed by the row ids of
``protocol_tables`` (``conf/base/parameters_protocol.yml``); complexity figures by variant name.
A number the paper does not give is simply absent.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

_T3_KEYS = ("activity_accuracy_pct", "speed_mae", "speed_rmse", "speed_mape", "weight_mae", "weight_rmse", "weight_mape")


def _row(keys: tuple[str, ...], values: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(keys, values, strict=True))


#: Table III: test set, mean over 25 runs.
TABLE_III: dict[str, dict[str, float]] = {
    "st_lstm": _row(_T3_KEYS, (94.6, 0.306, 0.381, 0.057, 9.05, 11.5, 0.137)),
    "st_gru": _row(_T3_KEYS, (93.0, 0.424, 0.491, 0.069, 8.77, 11.0, 0.135)),
    "st_mobilenetv2": _row(_T3_KEYS, (97.1, 0.258, 0.334, 0.049, 7.27, 9.04, 0.112)),
    "mtl_lstm": _row(_T3_KEYS, (95.4, 0.262, 0.358, 0.055, 8.48, 11.0, 0.135)),
    "mtl_gru": _row(_T3_KEYS, (95.3, 0.263, 0.331, 0.055, 8.92, 11.4, 0.142)),
    "mtl_mobilenetv2": _row(_T3_KEYS, (97.2, 0.268, 0.349, 0.052, 6.85, 8.36, 0.107)),
}

#: Table IV: MTL MobileNetV2 by loss weighting (DWA is ours: no paper number).
TABLE_IV: dict[str, dict[str, float]] = {
    "uniform": {"activity_accuracy_pct": 93.1, "speed_mae": 0.309, "weight_mae": 6.94},
    "rlw": {"activity_accuracy_pct": 92.9, "speed_mae": 0.316, "weight_mae": 6.93},
    "uncertainty": {"activity_accuracy_pct": 97.2, "speed_mae": 0.268, "weight_mae": 6.85},
}

#: Table V: efficiency. Latencies were measured on a Jetson Nano (GPU / CPU), ours on the run's machine.
TABLE_V: dict[str, dict[str, float]] = {
    "mtl": {"params_k": 97.3, "macs_g": 0.340, "size_mb": 0.39, "latency_cuda_ms": 38.0, "latency_cpu_ms": 2080.0},
    "single_task": {"latency_cuda_ms": 112.5, "latency_cpu_ms": 6390.0},
}

#: Table VI: Adam vs AdamW (accuracy as a fraction, epochs trained until early stopping).
TABLE_VI: dict[str, dict[str, float]] = {
    "adamw": {"activity_accuracy": 0.972, "speed_rmse": 0.349, "weight_rmse": 8.359, "epochs": 114.0},
    "adam": {"activity_accuracy": 0.971, "speed_rmse": 0.342, "weight_rmse": 8.995, "epochs": 131.6},
}

#: Appendix A: bottleneck-count ablation (only parameter counts are given as numbers).
TABLE_A: dict[str, dict[str, float]] = {
    "bottlenecks_4": {"params_k": 97.3},
    "bottlenecks_5": {"params_k": 350.6},
}

#: Counted complexity per variant (SPEC §4, §6): the paper's figures for the same architectures.
COMPLEXITY: dict[str, dict[str, float]] = {
    "mtl_mobilenetv2": {"params_k": 97.3, "macs_g": 0.340, "size_mb": 0.39},
    "mtl_mobilenetv2_b5": {"params_k": 350.6},
    "st_lstm_activity": {"params_k": 871.0},
    "st_lstm_speed": {"params_k": 871.0},
    "st_lstm_weight": {"params_k": 871.0},
    "st_gru_activity": {"params_k": 670.0},
    "st_gru_speed": {"params_k": 670.0},
    "st_gru_weight": {"params_k": 670.0},
}

#: Figures the paper gives only as a range, shown as a note next to the counted value.
COMPLEXITY_NOTES: dict[str, str] = {
    "st_mobilenetv2_activity": "paper: single-task 96.4-96.7 K params",
    "st_mobilenetv2_speed": "paper: single-task 96.4-96.7 K params",
    "st_mobilenetv2_weight": "paper: single-task 96.4-96.7 K params",
    "st_lstm_activity": "paper: single-task LSTM 871 K params",
    "st_gru_activity": "paper: single-task GRU 670 K params",
}

#: Paper numbers per protocol table id (the keys of ``protocol_tables``).
PAPER_TABLES: Mapping[str, Mapping[str, Mapping[str, float]]] = MappingProxyType(
    {"III": TABLE_III, "IV": TABLE_IV, "V": TABLE_V, "VI": TABLE_VI, "A": TABLE_A, "extras": {}}
)


def paper_value(table: str, row: str, metric: str) -> float:
    """The paper's number for ``metric`` in ``row`` of ``table``, or NaN when the paper gives none."""
    return float(PAPER_TABLES.get(table, {}).get(row, {}).get(metric, float("nan")))
