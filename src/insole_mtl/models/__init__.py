"""Multitask models (MobileNetV2 on recurrence plots; 1-D CNN, LSTM/GRU on raw windows; ensembles of them; an optional
closed-form force prior for body weight)."""

from insole_mtl.models.amplitude import AMPLITUDE_STATISTICS, AmplitudeBranch, amplitude_statistics
from insole_mtl.models.base import (
    CLASSIFICATION,
    RECURRENCE_PLOTS,
    REGRESSION,
    WINDOWS,
    ExportWrapper,
    MultitaskModel,
    TaskSpec,
    channel_statistics,
)
from insole_mtl.models.cnn1d import ResidualCNN1d
from insole_mtl.models.ensemble import EnsembleModel
from insole_mtl.models.force_prior import ForcePrior
from insole_mtl.models.mobilenet import (
    FIVE_BOTTLENECKS,
    TABLE_II_BOTTLENECKS,
    InvertedResidual,
    MultitaskMobileNetV2,
    bottleneck_rows,
)
from insole_mtl.models.recurrent import RecurrentMultitaskNet
from insole_mtl.models.registry import MODEL_INPUT_KINDS, build_model, model_input_kind, rebuild_model

__all__ = [
    "AMPLITUDE_STATISTICS",
    "CLASSIFICATION",
    "FIVE_BOTTLENECKS",
    "MODEL_INPUT_KINDS",
    "RECURRENCE_PLOTS",
    "REGRESSION",
    "TABLE_II_BOTTLENECKS",
    "WINDOWS",
    "AmplitudeBranch",
    "EnsembleModel",
    "ExportWrapper",
    "ForcePrior",
    "InvertedResidual",
    "MultitaskMobileNetV2",
    "MultitaskModel",
    "RecurrentMultitaskNet",
    "ResidualCNN1d",
    "TaskSpec",
    "amplitude_statistics",
    "bottleneck_rows",
    "build_model",
    "rebuild_model",
    "channel_statistics",
    "model_input_kind",
]
