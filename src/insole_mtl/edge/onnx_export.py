"""ONNX export of a multitask model and ONNX Runtime (CPU) inference (issue #5, edge deployment).

Exporter choice
---------------
``torch.onnx.export`` in torch >= 2.9 defaults to ``dynamo=True`` (``torch.export`` + onnxscript).
For this network both exporters produce equivalent graphs that agree with PyTorch to ~1e-6, but:

* the TorchScript exporter (``dynamo=False``) takes ~1-4 s here against ~25 s for dynamo (the
  benchmark stage must stay well under a minute), folds every eval-mode BatchNorm into its
  convolution at export time (``do_constant_folding``), and names dynamic axes directly;
* it is deprecated upstream. :func:`export_onnx` therefore uses it by default and falls back to
  the dynamo exporter when the TorchScript one raises (e.g. once it is removed), or uses dynamo
  when asked (``dynamo=True``). Either way the graph has one input per model input, named after
  ``model.input_names`` (``"recurrence_plots"`` ``(batch, C, H, W)`` and/or ``"windows"``
  ``(batch, C, L)``, float32, in that order), and one output per task, named after the task, each
  with a dynamic batch axis.

Inputs and batches
------------------
Every function here takes a model's inputs as a TUPLE of model-ready tensors/arrays in
``model.input_names`` order (a single tensor is accepted for one-input models); sessions are fed by
input name (:func:`session_feed`).

ONNX Runtime sessions use the CPU execution provider at ``ORT_ENABLE_ALL`` (constant folding,
Conv+BN/Conv+Clip fusion, NCHWc layout transformation on AVX2/AVX-512 CPUs).
"""

from __future__ import annotations

import copy
import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np
import onnxruntime as ort
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval

from insole_mtl.models import ExportWrapper, MultitaskModel, TaskSpec

logger = logging.getLogger(__name__)

#: Default opset: 17 is the newest the TorchScript exporter supports for these ops and runs on any ORT >= 1.14.
DEFAULT_OPSET = 17

#: Default agreement tolerances of :func:`compare_onnx_to_torch` (see its docstring for the reasoning).
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3


#: One model's inputs: a tuple in ``input_names`` order (a bare tensor/array for a one-input model).
Inputs = Union[torch.Tensor, np.ndarray, Sequence[Union[torch.Tensor, np.ndarray]]]


def as_input_tuple(inputs: Inputs) -> tuple:
    """A tensor/array -> a 1-tuple; a tuple/list of them -> a tuple (anything else is an error)."""
    if isinstance(inputs, (torch.Tensor, np.ndarray)):
        return (inputs,)
    if isinstance(inputs, (tuple, list)) and inputs and all(isinstance(x, (torch.Tensor, np.ndarray)) for x in inputs):
        return tuple(inputs)
    raise TypeError(
        "model inputs must be a tensor/array or a non-empty tuple of them (one per model input), "
        f"got {type(inputs).__name__}"
    )


def _check_example(model: MultitaskModel, example: Inputs) -> tuple[torch.Tensor, ...]:
    inputs = as_input_tuple(example)
    names = model.input_names
    if len(inputs) != len(names):
        raise ValueError(f"{type(model).__name__} reads {len(names)} input(s) {list(names)}, got {len(inputs)} example tensor(s)")
    tensors = []
    for name, x in zip(names, inputs):
        x = torch.as_tensor(x) if isinstance(x, np.ndarray) else x
        if x.ndim < 2:
            raise ValueError(f"example input {name!r} must be batched (b, ...), got shape {tuple(x.shape)}")
        tensors.append(x.detach().to("cpu", torch.float32))
    return tuple(tensors)


def _export_torchscript(wrapper: ExportWrapper, example: tuple[torch.Tensor, ...], input_names: Sequence[str], opset: int) -> bytes:
    names = list(wrapper.output_names)
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in (*input_names, *names)}
    with warnings.catch_warnings():
        # DeprecationWarning: the exporter itself; TracerWarning: the input-shape checks in
        # ``embed`` (Python bools on static shapes, correctly absent from the graph).
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper,
            example,
            buffer,
            dynamo=False,
            input_names=list(input_names),
            output_names=names,
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _export_dynamo(wrapper: ExportWrapper, example: tuple[torch.Tensor, ...], input_names: Sequence[str], opset: int) -> bytes:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        wrapper,
        example,
        None,
        dynamo=True,
        input_names=list(input_names),
        output_names=list(wrapper.output_names),
        dynamic_shapes=(tuple({0: batch} for _ in example),),  # one entry: the wrapper's *inputs
        opset_version=max(opset, 18),  # the dynamo exporter emits opset >= 18
        verbose=False,
    )
    return program.model_proto.SerializeToString()


def export_onnx(
    model: MultitaskModel, example: Inputs, opset: int = DEFAULT_OPSET, dynamo: bool = False
) -> bytes:
    """Serialise ``ExportWrapper(model)`` to ONNX.

    Parameters
    ----------
    model:
        A multitask model; exported in eval mode on CPU (its mode and device are restored).
    example:
        Example inputs, a tuple of model-ready float32 tensors in ``model.input_names`` order (a
        single tensor for a one-input model): unpacked plots or recurrence counts ``(b, C, H, W)``,
        raw windows ``(b, C, L)``. Any batch size (the batch axis is dynamic).
    opset:
        ONNX opset (the dynamo exporter uses at least 18).
    dynamo:
        Use the ``torch.export``-based exporter instead of the TorchScript one.

    Returns
    -------
    bytes
        The ONNX ``ModelProto``: one float32 input per model input, named after ``model.input_names``
        (in that order, dynamic batch axis ``"batch"``); outputs named after ``model.task_names`` in
        task order: logits ``(batch, n_classes)`` float32 for classification, ``(batch,)`` float32 in
        physical units (km/h, kg) for regression.
    """
    if not isinstance(model, MultitaskModel):
        raise TypeError(f"export_onnx expects a MultitaskModel, got {type(model).__name__}")
    inputs = _check_example(model, example)
    names = model.input_names
    was_training = model.training
    device = next(model.parameters()).device
    wrapper = ExportWrapper(model.to("cpu").eval()).eval()
    try:
        if dynamo:
            return _export_dynamo(wrapper, inputs, names, opset)
        try:
            return _export_torchscript(wrapper, inputs, names, opset)
        except Exception as error:  # noqa: BLE001 - any failure of the legacy path -> try dynamo
            logger.warning("TorchScript ONNX export failed (%s); falling back to the dynamo exporter", error)
            return _export_dynamo(wrapper, inputs, names, opset)
    finally:
        model.to(device).train(was_training)


#: ``optimization`` names of :func:`onnx_session` -> ORT graph optimisation levels.
OPTIMIZATION_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,  # constant folding, redundant-node removal
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,  # + Conv/BN/activation fusions
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,  # + NCHWc layout transformation
}


def onnx_session(
    model_bytes: bytes, threads: int | None = None, optimization: str = "all", spinning: bool = True
) -> ort.InferenceSession:
    """ONNX Runtime CPU session (graph optimisation level ALL by default).

    Parameters
    ----------
    model_bytes:
        A serialised ONNX model.
    threads:
        Intra-op threads (``None`` or 0: ORT's default, one per physical core). Inter-op
        parallelism stays sequential: the graph is a chain.
    optimization:
        ``"all"`` (default), ``"extended"``, ``"basic"`` or ``"disabled"`` (for comparisons).
    spinning:
        False: ORT's threads do not spin-wait for work between runs (batch-1 edge latency, a shared CPU).
    """
    if not isinstance(model_bytes, (bytes, bytearray)) or not model_bytes:
        raise TypeError(f"model_bytes must be non-empty bytes, got {type(model_bytes).__name__}")
    if threads is not None and int(threads) < 0:
        raise ValueError(f"threads must be None or >= 0, got {threads}")
    if optimization not in OPTIMIZATION_LEVELS:
        raise ValueError(f"optimization must be one of {sorted(OPTIMIZATION_LEVELS)}, got {optimization!r}")
    options = ort.SessionOptions()
    options.graph_optimization_level = OPTIMIZATION_LEVELS[optimization]
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = int(threads or 0)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: keep the "unused initializer" chatter out of the run log
    if not spinning:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return ort.InferenceSession(bytes(model_bytes), options, providers=["CPUExecutionProvider"])


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Eval-mode copy of ``model`` with every ``Conv2d``/``Conv1d`` directly followed by a ``BatchNorm2d``/
    ``BatchNorm1d`` (in a ``Sequential``) replaced by one convolution with the BatchNorm folded in, the
    BatchNorm by ``Identity``.

    The predictions are those of ``model.eval()`` up to fp32 rounding; the original is not modified.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, torch.nn.Sequential):
            continue
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            pair_2d = isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d)
            pair_1d = isinstance(conv, torch.nn.Conv1d) and isinstance(bn, torch.nn.BatchNorm1d)
            if pair_2d or pair_1d:
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, torch.nn.Identity())
    return folded


def _as_float32_array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    array = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return np.ascontiguousarray(array, dtype=np.float32)


def session_feed(session: ort.InferenceSession, inputs: Inputs | Mapping[str, torch.Tensor | np.ndarray]) -> dict[str, np.ndarray]:
    """The ``{graph input name: float32 array}`` feed of a session.

    ``inputs`` is a mapping by input name, or a tuple in the graph's input order (which is
    ``model.input_names`` for :func:`export_onnx`; a single array for a one-input graph).
    """
    names = [value.name for value in session.get_inputs()]
    if isinstance(inputs, Mapping):
        missing = [name for name in names if name not in inputs]
        if missing:
            raise ValueError(f"the ONNX model reads inputs {names}; missing {missing} (got {sorted(inputs)})")
        return {name: _as_float32_array(inputs[name]) for name in names}
    arrays = as_input_tuple(inputs)
    if len(arrays) != len(names):
        raise ValueError(f"the ONNX model reads {len(names)} input(s) {names}, got {len(arrays)} array(s)")
    return {name: _as_float32_array(x) for name, x in zip(names, arrays)}


def run_session(
    session: ort.InferenceSession, inputs: Inputs | Mapping[str, torch.Tensor | np.ndarray]
) -> dict[str, np.ndarray]:
    """Run a session on one batch of inputs (see :func:`session_feed`); returns ``{output name: array}`` (float32)."""
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, session_feed(session, inputs))
    return dict(zip(names, values))


def run_session_batched(session: ort.InferenceSession, batches: Sequence[Inputs]) -> dict[str, np.ndarray]:
    """:func:`run_session` over several batches (each a tuple of inputs), outputs concatenated along the batch axis."""
    parts: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for name, value in run_session(session, batch).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def _batch_size_of(inputs: tuple) -> int:
    sizes = {int(x.shape[0]) for x in inputs}
    if len(sizes) != 1:
        raise ValueError(f"model inputs must have the same batch size, got {[tuple(x.shape) for x in inputs]}")
    return sizes.pop()


def split_batches(inputs: Inputs, batch_size: int) -> list[tuple]:
    """Cut inputs ``(n, ...)`` (a tuple of tensors/arrays) into tuples of at most ``batch_size`` windows."""
    arrays = as_input_tuple(inputs)
    n = _batch_size_of(arrays)
    return [tuple(x[start : start + batch_size] for x in arrays) for start in range(0, n, batch_size)]


@torch.inference_mode()
def torch_outputs(model: MultitaskModel, inputs: Inputs, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Eager PyTorch predictions in physical units, ``{task: (n, k) logits or (n,) values}`` float32.

    ``inputs``: model-ready inputs ``(n, ...)``, a tuple in ``model.input_names`` order (a single
    tensor for a one-input model).
    """
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for batch in split_batches(inputs, batch_size):
        tensors = tuple((torch.from_numpy(np.asarray(x)) if isinstance(x, np.ndarray) else x).float() for x in batch)
        outputs = model.predict(*tensors)
        for name, value in outputs.items():
            parts.setdefault(name, []).append(value.float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def compare_outputs(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    tasks: Sequence[TaskSpec],
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
) -> dict[str, float | bool]:
    """Elementwise agreement of two engines' outputs ``{task: (n, k) logits or (n,) values}``.

    Returns the dict described in :func:`compare_onnx_to_torch`.
    """
    missing = [task.name for task in tasks if task.name not in candidate or task.name not in reference]
    if missing:
        raise ValueError(f"no output for task(s) {missing}; outputs are {sorted(candidate)} and {sorted(reference)}")
    n = int(np.asarray(reference[tasks[0].name]).shape[0])
    result: dict[str, float | bool] = {"n_windows": n, "atol": float(atol), "rtol": float(rtol)}
    within = True
    for task in tasks:
        ref = np.asarray(reference[task.name], dtype=np.float64)
        got = np.asarray(candidate[task.name], dtype=np.float64)
        if ref.shape != got.shape:
            raise ValueError(f"task {task.name!r}: output shape {got.shape} != reference {ref.shape}")
        diff = np.abs(got - ref)
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        result[f"{task.name}_max_abs_diff"] = float(diff.max()) if diff.size else 0.0
        result[f"{task.name}_max_rel_diff"] = float(diff.max() / scale) if diff.size and scale > 0 else 0.0
        within = within and bool(np.all(diff <= atol + rtol * np.abs(ref)))
        if not task.is_regression:
            result[f"{task.name}_class_agreement"] = float(np.mean(ref.argmax(-1) == got.argmax(-1))) if ref.size else 1.0
    result["within_tolerance"] = within
    return result


def compare_onnx_to_torch(
    model: MultitaskModel,
    session: ort.InferenceSession,
    inputs: Inputs,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    batch_size: int = 64,
) -> dict[str, float | bool]:
    """Agreement of an ONNX Runtime session with the eager PyTorch model on the same inputs.

    Parameters
    ----------
    model, session:
        The PyTorch model and a session of its export (outputs named after the tasks).
    inputs:
        Model-ready inputs ``(n, ...)`` float32, a tuple in ``model.input_names`` order (a single tensor
        for a one-input model), e.g. unpacked test recurrence plots and the raw test windows.
    atol, rtol:
        ``|onnx - torch| <= atol + rtol * |torch|`` elementwise is "within tolerance". The defaults
        (1e-4, 1e-3) are fp32 reassociation noise with headroom: ORT's fused/NCHWc kernels sum in
        a different order than PyTorch's, which over ~20 layers gives relative errors of ~1e-6
        on logits and physical-unit regressions (weight ~ 80 kg, so absolute errors ~1e-4 kg);
        an actual export bug (a dropped BatchNorm, a wrong scaling) is orders of magnitude above.

    Returns
    -------
    dict
        Per task ``<task>_max_abs_diff``, ``<task>_max_rel_diff`` (relative to the largest
        ``|torch|`` of that task, so values near 0 do not blow it up); per classification task
        ``<task>_class_agreement`` (share of windows with the same argmax, 0..1);
        ``n_windows``, ``atol``, ``rtol`` and ``within_tolerance`` (all tasks, elementwise).
    """
    reference = torch_outputs(model, inputs, batch_size)
    batches = split_batches(inputs, batch_size)
    return compare_outputs(reference, run_session_batched(session, batches), model.tasks, atol, rtol)
