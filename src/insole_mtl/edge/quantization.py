"""Int8 quantisation of an exported model with ONNX Runtime, and its accuracy cost (issue #5).

Recipe (default of :func:`quantize_int8`)
----------------------------------------
0. Convolutions whose input channels are not a multiple of 4 read zero-padded inputs
   (:mod:`insole_mtl.edge.conv_channels`): ORT's u8 x s8 kernels reduce over groups of 4, and the default run's
   14-channel stem took 47 µs at batch 1 against 25 µs with two zero channels; exact.
1. ``quant_pre_process``: ONNX shape inference plus ORT's basic graph optimisation, which folds
   any BatchNorm left in the graph into the preceding convolution (the TorchScript exporter
   already folds them) and removes identities, so that every convolution gets one scale.
2. ``quantize_static`` in **QDQ** format with **per-channel** symmetric int8 weights and
   asymmetric uint8 activations (``U8S8``), min-max calibration on a few hundred training
   windows. QDQ is what ORT's x86 kernels fuse best (``QLinearConv`` with the ReLU6 ``Clip``
   folded into the requantisation); ``S8S8`` in QOperator format is slow on x64 (ORT warns),
   and dynamic quantisation (``ConvInteger``) re-quantises activations at run time and was
   ~10x slower than fp32 here. Activations of this network are post-ReLU6 (>= 0), so uint8
   loses no range.
3. Only the convolutional feature maps (``scope="feature_maps"``): on the default run's model quantising
   everything else too (amplitude statistics, fusion, heads, de-standardisation) moved single weight
   predictions by up to 8.1 kg and cost +0.54 kg weight MAE at no speed gain; the feature maps alone: 0.80 kg,
   -0.003 kg.
4. ``reduce_range`` (7-bit weights) is offered for CPUs without VNNI, where the AVX2 u8*s8
   kernel (``vpmaddubsw``) can saturate int16 partial sums; check the accuracy cost either way.

The accuracy cost (:func:`accuracy_cost`) compares int8 and fp32 predictions on the same
labelled windows: activity accuracy in percentage points, speed and weight MAE in physical units.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Union

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from insole_mtl.edge.conv_channels import INT8_PADDING, ChannelPadding, pad_conv_input_channels_bytes

logger = logging.getLogger(__name__)

_FORMATS = {"qdq": QuantFormat.QDQ, "qoperator": QuantFormat.QOperator}
_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
_METHODS = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}


#: One calibration batch: ``{graph input name: array}``, a tuple of arrays in the graph's input order
#: (``model.input_names``), or a single array for a one-input graph.
CalibrationBatch = Union[np.ndarray, Sequence[np.ndarray], Mapping[str, np.ndarray]]


class WindowCalibrationReader(CalibrationDataReader):
    """Feeds calibration batches to ``quantize_static``, one ``{input name: float32 array}`` dict per batch.

    Parameters
    ----------
    batches:
        Model-ready input batches (e.g. unpacked training recurrence plots and the raw training
        windows), each a mapping by graph input name, a tuple in ``input_names`` order or, for a
        one-input graph, a single array. Consumed once.
    input_names:
        Names of the graph inputs, in order (a single name for a one-input graph).
    """

    def __init__(self, batches: Iterable[CalibrationBatch], input_names: Sequence[str] | str = ("x",)) -> None:
        self._batches: Iterator[CalibrationBatch] = iter(batches)
        self._input_names: tuple[str, ...] = (input_names,) if isinstance(input_names, str) else tuple(input_names)
        if not self._input_names:
            raise ValueError("input_names must name at least one graph input")
        self.n_windows = 0

    def _feed(self, batch: CalibrationBatch) -> dict[str, np.ndarray]:
        names = self._input_names
        if isinstance(batch, Mapping):
            missing = [name for name in names if name not in batch]
            if missing:
                raise ValueError(f"calibration batch lacks input(s) {missing}; the model reads {list(names)}, got {sorted(batch)}")
            arrays = [batch[name] for name in names]
        else:
            arrays = [batch] if isinstance(batch, np.ndarray) or not isinstance(batch, (tuple, list)) else list(batch)
            if len(arrays) != len(names):
                raise ValueError(f"calibration batch has {len(arrays)} array(s) but the model reads {len(names)} input(s) {list(names)}")
        feed = {name: np.ascontiguousarray(np.asarray(array), dtype=np.float32) for name, array in zip(names, arrays)}
        sizes = {value.shape[0] for value in feed.values()}
        if len(sizes) != 1:
            raise ValueError(f"calibration batch inputs have different batch sizes: {({k: v.shape for k, v in feed.items()})}")
        return feed

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        if batch is None:
            return None
        feed = self._feed(batch)
        self.n_windows += int(next(iter(feed.values())).shape[0])
        return feed


def graph_input_names(model_bytes: bytes) -> tuple[str, ...]:
    """Names of an ONNX model's graph inputs (initialisers excluded), in graph order."""
    graph = onnx.load_from_string(model_bytes).graph
    initialisers = {init.name for init in graph.initializer}
    names = tuple(value.name for value in graph.input if value.name not in initialisers)
    if not names:
        raise ValueError("the ONNX model has no graph input")
    return names


def _option(table: Mapping[str, object], value: str, what: str) -> object:
    key = str(value).lower()
    if key not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {value!r}")
    return table[key]


def preprocess_for_quantization(model_bytes: bytes) -> bytes:
    """ORT's quantisation pre-processing (shape inference, BN folding, graph clean-up) of an fp32 model."""
    with tempfile.TemporaryDirectory(prefix="insole_quant_") as tmp:
        source, target = Path(tmp, "fp32.onnx"), Path(tmp, "pre.onnx")
        source.write_bytes(model_bytes)
        # The symbolic shape inference is for transformer graphs; plain ONNX inference suffices here.
        quant_pre_process(str(source), str(target), skip_symbolic_shape=True)
        return target.read_bytes()


#: operator types of a convolutional feature extractor (quantised by ``scope="feature_maps"``)
FEATURE_MAP_OPS: tuple[str, ...] = ("Conv", "Clip", "Relu", "Add", "MaxPool", "AveragePool", "GlobalAveragePool")
SCOPES: tuple[str, ...] = ("all", "feature_maps")
#: the scope :func:`quantize_int8` quantises by default
DEFAULT_SCOPE = "feature_maps"


def feature_map_nodes(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """``(quantised, excluded)`` node names of ``scope="feature_maps"``: nodes of :data:`FEATURE_MAP_OPS` whose
    first output has rank >= 3 (``(b, C, L)`` or ``(b, C, H, W)`` feature maps) are quantised; the same op types
    on ``(b, features)`` or ``(b,)`` tensors (residual adds of the heads' de-standardisation, say) are excluded.

    Raises:
        ValueError: an output rank is unknown (run shape inference first: :func:`preprocess_for_quantization`).
    """
    inferred = onnx.shape_inference.infer_shapes(model)
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in (*inferred.graph.value_info, *inferred.graph.output)}
    quantised, excluded = [], []
    for node in inferred.graph.node:
        if node.op_type not in FEATURE_MAP_OPS:
            continue
        if node.output[0] not in ranks:
            raise ValueError(f"feature_map_nodes: no shape for output {node.output[0]!r} of node {node.name!r} ({node.op_type})")
        (quantised if ranks[node.output[0]] >= 3 else excluded).append(node.name)
    return quantised, excluded


def _scope_options(scope: str, model_bytes: bytes) -> dict[str, object]:
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {list(SCOPES)}, got {scope!r}")
    if scope == "all":
        return {}
    quantised, excluded = feature_map_nodes(onnx.load_from_string(model_bytes))
    if not quantised:
        logger.warning(
            "int8 scope 'feature_maps': the graph has no convolutional feature maps (a recurrent model?), so nothing "
            "is quantised; scope='all' quantises every op ORT can"
        )
    return {"op_types_to_quantize": list(FEATURE_MAP_OPS), "nodes_to_exclude": excluded}


def quantize_int8(
    model_bytes: bytes,
    calibration_batches: Iterable[CalibrationBatch],
    *,
    quant_format: str = "qdq",
    per_channel: bool = True,
    activation_type: str = "uint8",
    weight_type: str = "int8",
    calibration_method: str = "minmax",
    reduce_range: bool = False,
    preprocess: bool = True,
    scope: str = DEFAULT_SCOPE,
    channel_padding: ChannelPadding | None = INT8_PADDING,
) -> bytes:
    """Static int8 quantisation of an fp32 ONNX model with ONNX Runtime.

    Parameters
    ----------
    model_bytes:
        fp32 ONNX model (e.g. :func:`insole_mtl.edge.onnx_export.export_onnx`).
    calibration_batches:
        Model-ready float32 batches with ALL the model's inputs: each a ``{input name: array}``
        mapping, a tuple of arrays in the graph's input order (``model.input_names`` for
        :func:`~insole_mtl.edge.onnx_export.export_onnx`), or one array for a one-input model;
        activation ranges are taken over all of them.
    quant_format:
        ``"qdq"`` (QuantizeLinear/DequantizeLinear pairs, fused by ORT) or ``"qoperator"``
        (QLinearConv etc. in the graph).
    per_channel:
        One weight scale per output channel (recommended for depthwise convolutions).
    activation_type, weight_type:
        ``"uint8"`` or ``"int8"``.
    calibration_method:
        ``"minmax"``, ``"entropy"`` or ``"percentile"``.
    reduce_range:
        Quantise weights to 7 bits (avoids int16 saturation on AVX2/AVX-512 CPUs without VNNI).
    preprocess:
        Run :func:`preprocess_for_quantization` first.
    scope:
        ``"feature_maps"`` (default): only the convolutional stack — the
        :data:`FEATURE_MAP_OPS` whose output has rank >= 3, where nearly all the MACs are; the amplitude
        statistics, the fusion, the heads and the target de-standardisation stay float32 (quantising a head's
        output in kg to 256 levels costs the regressions far more than the accuracy, :func:`feature_map_nodes`);
        as fast, since the convolutions are where int8 saves time. ``"all"``: every operator ORT can quantise.
    channel_padding:
        Convolutions whose input the int8 kernels handle slowly read zero-padded inputs first
        (:mod:`insole_mtl.edge.conv_channels`; default: input channels to a multiple of 4, the 14-channel stem
        47 -> 25 µs at batch 1; exact); None: the graph as given.

    Returns
    -------
    bytes
        The int8 model; same input and output names as the fp32 one.
    """
    fmt = _option(_FORMATS, quant_format, "quant_format")
    act = _option(_TYPES, activation_type, "activation_type")
    wgt = _option(_TYPES, weight_type, "weight_type")
    method = _option(_METHODS, calibration_method, "calibration_method")
    source_bytes = bytes(model_bytes)
    if channel_padding is not None:
        source_bytes = pad_conv_input_channels_bytes(source_bytes, channel_padding)
    source_bytes = preprocess_for_quantization(source_bytes) if preprocess else source_bytes
    reader = WindowCalibrationReader(calibration_batches, graph_input_names(source_bytes))
    with tempfile.TemporaryDirectory(prefix="insole_quant_") as tmp:
        source, target = Path(tmp, "fp32.onnx"), Path(tmp, "int8.onnx")
        source.write_bytes(source_bytes)
        quantize_static(
            str(source),
            str(target),
            reader,
            quant_format=fmt,
            per_channel=per_channel,
            activation_type=act,
            weight_type=wgt,
            calibrate_method=method,
            reduce_range=reduce_range,
            **_scope_options(scope, source_bytes),
            # int8 activations must be symmetric for ORT's S8S8 kernels; uint8 ones use a zero point.
            extra_options={"ActivationSymmetric": act == QuantType.QInt8, "WeightSymmetric": True},
        )
        if reader.n_windows == 0:
            raise ValueError("calibration_batches yielded no windows; int8 calibration needs at least one batch")
        quantised = target.read_bytes()
    logger.info(
        "Quantised to int8 (%s, per_channel=%s, %s activations, %s weights, %s on %d windows): %.1f KB -> %.1f KB",
        quant_format, per_channel, activation_type, weight_type, calibration_method, reader.n_windows,
        len(model_bytes) / 1024, len(quantised) / 1024,
    )  # fmt: skip
    return quantised


def quantize_dynamic_int8(model_bytes: bytes, per_channel: bool = True) -> bytes:
    """Dynamic int8 quantisation (weights int8, activations quantised at run time; no calibration).

    Offered for comparison: ORT's ``ConvInteger`` path has no fused x86 kernel, so for this
    convolutional network it is slower than fp32.
    """
    with tempfile.TemporaryDirectory(prefix="insole_quant_") as tmp:
        source, target = Path(tmp, "fp32.onnx"), Path(tmp, "int8_dynamic.onnx")
        source.write_bytes(model_bytes)
        quantize_dynamic(str(source), str(target), per_channel=per_channel, weight_type=QuantType.QInt8)
        return target.read_bytes()


def _masked(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    true = np.asarray(true, dtype=np.float64).reshape(-1)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1)
    if true.shape != pred.shape:
        raise ValueError(f"labels have {true.shape[0]} windows but predictions have {pred.shape[0]}")
    keep = np.isfinite(true)
    return true[keep], pred[keep]


def task_scores(
    predictions: Mapping[str, np.ndarray], labels: Mapping[str, np.ndarray], classification: Iterable[str] = ("activity",)
) -> dict[str, float]:
    """Accuracy (%) of classification tasks and MAE of regression tasks on labelled windows.

    Parameters
    ----------
    predictions:
        ``{task: (n,) class ids or (n, k) logits}`` for classification, ``{task: (n,)}`` physical
        values for regression.
    labels:
        ``{task: (n,)}``: class ids (negative = unlabelled) or floats (NaN = unlabelled).
    classification:
        Names of the classification tasks.

    Returns
    -------
    dict
        ``<task>_accuracy`` in percent (0..100) / ``<task>_mae`` in the task's unit, NaN when the
        task has no labelled window; only tasks present in both mappings.
    """
    classification = set(classification)
    scores: dict[str, float] = {}
    for task, pred in predictions.items():
        if task not in labels:
            continue
        pred = np.asarray(pred)
        if task in classification:
            ids = pred.argmax(-1) if pred.ndim == 2 else pred
            true = np.asarray(labels[task], dtype=np.float64).reshape(-1)
            if true.shape[0] != ids.shape[0]:
                raise ValueError(f"task {task!r}: labels have {true.shape[0]} windows but predictions have {ids.shape[0]}")
            keep = np.isfinite(true) & (true >= 0)
            scores[f"{task}_accuracy"] = float(100.0 * np.mean(ids[keep] == true[keep])) if keep.any() else float("nan")
        else:
            true, value = _masked(labels[task], pred)
            scores[f"{task}_mae"] = float(np.mean(np.abs(value - true))) if true.size else float("nan")
    return scores


def accuracy_cost(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    labels: Mapping[str, np.ndarray],
    classification: Iterable[str] = ("activity",),
) -> dict[str, float]:
    """Accuracy cost of a candidate (e.g. int8) against a reference (fp32) on the same windows.

    Returns
    -------
    dict
        ``<metric>_fp32``, ``<metric>_int8`` and ``<metric>_delta`` (= int8 - fp32) for each metric of
        :func:`task_scores` (accuracy deltas in percentage points: negative = int8 worse; MAE deltas
        in the task's unit: positive = int8 worse), plus, per classification task,
        ``<task>_prediction_agreement`` (share of windows, 0..1, whose predicted class is the same).
    """
    classification = tuple(classification)
    ref_scores = task_scores(reference, labels, classification)
    cand_scores = task_scores(candidate, labels, classification)
    result: dict[str, float] = {}
    for metric, ref_value in ref_scores.items():
        cand_value = cand_scores.get(metric, float("nan"))
        result[f"{metric}_fp32"] = ref_value
        result[f"{metric}_int8"] = cand_value
        result[f"{metric}_delta"] = cand_value - ref_value
    for task in classification:
        if task in reference and task in candidate:
            ref, cand = np.asarray(reference[task]), np.asarray(candidate[task])
            ref_ids = ref.argmax(-1) if ref.ndim == 2 else ref
            cand_ids = cand.argmax(-1) if cand.ndim == 2 else cand
            result[f"{task}_prediction_agreement"] = float(np.mean(ref_ids == cand_ids)) if ref_ids.size else float("nan")
    return result
