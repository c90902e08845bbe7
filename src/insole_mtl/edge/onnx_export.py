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
  when asked (``dynamo=True``). Either way the graph has one input ``x`` ``(batch, C, H, W)`` and
  one output per task, named after the task, with a dynamic batch axis.

ONNX Runtime sessions use the CPU execution provider at ``ORT_ENABLE_ALL`` (constant folding,
Conv+BN/Conv+Clip fusion, NCHWc layout transformation on AVX2/AVX-512 CPUs).
"""

from __future__ import annotations

import copy
import io
import logging
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import onnxruntime as ort
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval

from insole_mtl.models.registry import ExportWrapper, MultitaskModel, TaskSpec

logger = logging.getLogger(__name__)

#: Name of the graph input.
INPUT_NAME = "x"
#: Default opset: 17 is the newest the TorchScript exporter supports for these ops and runs on any ORT >= 1.14.
DEFAULT_OPSET = 17

#: Default agreement tolerances of :func:`compare_onnx_to_torch` (see its docstring for the reasoning).
DEFAULT_ATOL = 1e-4
DEFAULT_RTOL = 1e-3


def _export_torchscript(wrapper: ExportWrapper, example: torch.Tensor, opset: int) -> bytes:
    names = list(wrapper.output_names)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # DeprecationWarning: the exporter itself; TracerWarning: the input-shape check in
        # ``embed`` (a Python bool on a static shape, correctly absent from the graph).
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            wrapper,
            (example,),
            buffer,
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=names,
            dynamic_axes={INPUT_NAME: {0: "batch"}, **{name: {0: "batch"} for name in names}},
            opset_version=opset,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _export_dynamo(wrapper: ExportWrapper, example: torch.Tensor, opset: int) -> bytes:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(
        wrapper,
        (example,),
        None,
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=list(wrapper.output_names),
        dynamic_shapes=({0: batch},),
        opset_version=max(opset, 18),  # the dynamo exporter emits opset >= 18
        verbose=False,
    )
    return program.model_proto.SerializeToString()


def export_onnx(
    model: MultitaskModel, example: torch.Tensor, opset: int = DEFAULT_OPSET, dynamo: bool = False
) -> bytes:
    """Serialise ``ExportWrapper(model)`` to ONNX.

    Parameters
    ----------
    model:
        A multitask model; exported in eval mode on CPU (its mode and device are restored).
    example:
        An example input ``(b, C, H, W)`` float32 (any batch size; the batch axis is dynamic).
    opset:
        ONNX opset (the dynamo exporter uses at least 18).
    dynamo:
        Use the ``torch.export``-based exporter instead of the TorchScript one.

    Returns
    -------
    bytes
        The ONNX ``ModelProto``: input ``"x"``, outputs named after ``model.task_names`` in task
        order: logits ``(batch, n_classes)`` float32 for classification, ``(batch,)`` float32 in
        physical units (km/h, kg) for regression.
    """
    if not isinstance(model, MultitaskModel):
        raise TypeError(f"export_onnx expects a MultitaskModel, got {type(model).__name__}")
    if not isinstance(example, torch.Tensor) or example.ndim < 2:
        raise ValueError(f"example must be a batched input tensor (b, ...), got {getattr(example, 'shape', example)!r}")
    was_training = model.training
    device = next(model.parameters()).device
    wrapper = ExportWrapper(model.to("cpu").eval()).eval()
    example = example.detach().to("cpu", torch.float32)
    try:
        if dynamo:
            return _export_dynamo(wrapper, example, opset)
        try:
            return _export_torchscript(wrapper, example, opset)
        except Exception as error:  # noqa: BLE001 - any failure of the legacy path -> try dynamo
            logger.warning("TorchScript ONNX export failed (%s); falling back to the dynamo exporter", error)
            return _export_dynamo(wrapper, example, opset)
    finally:
        model.to(device).train(was_training)


#: ``optimization`` names of :func:`onnx_session` -> ORT graph optimisation levels.
OPTIMIZATION_LEVELS = {
    "disabled": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,  # constant folding, redundant-node removal
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,  # + Conv/BN/activation fusions
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,  # + NCHWc layout transformation
}


def onnx_session(model_bytes: bytes, threads: int | None = None, optimization: str = "all") -> ort.InferenceSession:
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
    return ort.InferenceSession(bytes(model_bytes), options, providers=["CPUExecutionProvider"])


def fold_batchnorm(model: torch.nn.Module) -> torch.nn.Module:
    """Eval-mode copy of ``model`` with every ``Conv2d`` directly followed by a ``BatchNorm2d`` (in a
    ``Sequential``) replaced by one convolution with the BatchNorm folded in, the BatchNorm by ``Identity``.

    The predictions are those of ``model.eval()`` up to fp32 rounding; the original is not modified.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if not isinstance(module, torch.nn.Sequential):
            continue
        children = list(module.named_children())
        for (conv_name, conv), (bn_name, bn) in zip(children, children[1:]):
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, torch.nn.Identity())
    return folded


def run_session(session: ort.InferenceSession, inputs: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """Run a session on ``inputs`` ``(b, C, H, W)``; returns ``{output name: array}`` (float32)."""
    array = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
    array = np.ascontiguousarray(array, dtype=np.float32)
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {session.get_inputs()[0].name: array})
    return dict(zip(names, values))


def run_session_batched(
    session: ort.InferenceSession, batches: Sequence[np.ndarray | torch.Tensor]
) -> dict[str, np.ndarray]:
    """:func:`run_session` over several batches, outputs concatenated along the batch axis."""
    parts: dict[str, list[np.ndarray]] = {}
    for batch in batches:
        for name, value in run_session(session, batch).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


@torch.inference_mode()
def torch_outputs(model: MultitaskModel, inputs: torch.Tensor, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Eager PyTorch predictions in physical units, ``{task: (n, k) logits or (n,) values}`` float32."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, inputs.shape[0], batch_size):
        outputs = model.predict(inputs[start : start + batch_size].float())
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
    inputs: torch.Tensor,
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
        Model inputs ``(n, C, H, W)`` float32 (e.g. unpacked test recurrence plots).
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
    batches = [inputs[start : start + batch_size] for start in range(0, inputs.shape[0], batch_size)]
    return compare_outputs(reference, run_session_batched(session, batches), model.tasks, atol, rtol)
