"""Multitask models (MobileNetV2 on recurrence plots, LSTM/GRU on raw windows) and complexity."""

from insole_mtl.models.complexity import count_macs, count_parameters, model_size_mb
from insole_mtl.models.mobilenet import (
    FIVE_BOTTLENECKS,
    TABLE_II_BOTTLENECKS,
    InvertedResidual,
    MultitaskMobileNetV2,
    bottleneck_rows,
)
from insole_mtl.models.recurrent import RecurrentMultitaskNet
from insole_mtl.models.registry import (
    ExportWrapper,
    MultitaskModel,
    TaskSpec,
    build_model,
    model_input_kind,
)

__all__ = [
    "FIVE_BOTTLENECKS",
    "TABLE_II_BOTTLENECKS",
    "ExportWrapper",
    "InvertedResidual",
    "MultitaskMobileNetV2",
    "MultitaskModel",
    "RecurrentMultitaskNet",
    "TaskSpec",
    "bottleneck_rows",
    "build_model",
    "count_macs",
    "count_parameters",
    "model_input_kind",
    "model_size_mb",
]
