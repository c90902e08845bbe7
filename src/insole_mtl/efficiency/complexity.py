"""Model complexity: trainable parameters, multiply-accumulates and serialized size (SPEC §7).

Definitions
-----------
* Parameters: number of elements of the trainable (``requires_grad``) parameters; buffers
  (BatchNorm running statistics, target/input scaling) are not parameters.
* MACs: ptflops 0.7.5, ``backend="pytorch"`` (module hooks), batch size 1, eval mode. It
  counts, per forward pass:

  - ``Conv1d/2d/3d``: kernel_h * kernel_w * (in / groups) * out per output position, plus
    one per output element for a bias;
  - ``Linear``: in * out (+ out for the bias) per row;
  - only with ``include_elementwise=True`` (``macs_with_elementwise``): ``BatchNorm``: 2 per input
    element (affine), ``ReLU``/``ReLU6``: 1 per element, pooling layers: 1 per input element;
  - ``LSTM``/``GRU``: the gate matrix products, the bias additions and ptflops' count of
    the element-wise gate operations, per time step (it assumes ``batch_first``, which our
    recurrent model uses);
  - functional/tensor ops ptflops patches (e.g. ``torch.add``), which our models do not
    call: the residual ``x + out`` (Python operator), ``amax``/``mean`` pooling over time,
    the input scaling and the target de-standardisation are NOT counted.

  We chose the ``pytorch`` backend because it is ptflops' default (the paper most likely
  used it: 0.340 G is close to our count with a 3x3 stem) and it counts the recurrent
  layers, which the ``aten`` backend (only ``mm``/``addmm``/``bmm``/``convolution``) does
  not see on CPU where ``aten.lstm`` is one fused op.
* Model size: bytes of ``torch.save(model.state_dict())`` written to an in-memory buffer
  (fp32 parameters *and* buffers plus the pickle/zip container overhead), divided by
  2**20 (MiB).
"""

from __future__ import annotations

import contextlib
import io
import logging

import torch
from ptflops import get_model_complexity_info
from torch import nn

logger = logging.getLogger(__name__)


class _TupleOutput(nn.Module):
    """Wraps a model that returns a dict so that ptflops sees a plain tensor-tuple output."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, **inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(*inputs.values())
        if isinstance(out, dict):
            return tuple(out.values())
        if isinstance(out, torch.Tensor):
            return (out,)
        return tuple(out)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameter elements (``requires_grad=True``) of ``model``."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


#: Modules whose element-wise cost ptflops adds to the MAC count (excluded on request).
_ELEMENTWISE_MODULES: list[type[nn.Module]] = [
    nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6,
    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AvgPool1d, nn.AvgPool2d, nn.MaxPool1d, nn.MaxPool2d,
]  # fmt: skip


def count_macs(
    model: nn.Module, input_shape: tuple[int, ...] | tuple[tuple[int, ...], ...], include_elementwise: bool = False
) -> int:
    """Multiply-accumulates of one forward pass at batch size 1 (ptflops, pytorch backend).

    Parameters
    ----------
    model:
        Any module; dict-returning multitask models are wrapped. Its train/eval mode is
        restored afterwards (counting runs in eval mode so BatchNorm uses running stats).
    input_shape:
        Shape of ONE sample, without the batch dimension, e.g. ``(14, 160, 160)`` for the
        MobileNetV2 or ``(14, 160)`` for the recurrent baselines; for a model with several inputs
        (``model.input_names``) a tuple of such shapes, e.g. ``((14, 40, 40), (14, 160))``.

    Returns
    -------
    int
        MACs (see the module docstring for what is counted).
    include_elementwise:
        False (default): only convolutions, linear and recurrent layers — the paper's "MACs"
        column and every ``macs`` figure of this project. True (ptflops' own default): BatchNorm,
        ReLU/ReLU6 and pooling element counts are added (reported as ``macs_with_elementwise``).
    """
    shapes = input_shape if input_shape and isinstance(input_shape[0], (tuple, list)) else (input_shape,)
    shapes = tuple(tuple(int(d) for d in shape) for shape in shapes)  # type: ignore[union-attr]
    if not shapes or any(not shape or min(shape) < 1 for shape in shapes):
        raise ValueError(
            f"input_shape must be a non-empty tuple of positive ints (no batch dim), got {input_shape!r}"
        )
    dtype = _param_dtype(model)
    was_training = model.training
    wrapper = _TupleOutput(model)
    try:
        model.eval()
        # redirect_stdout: ptflops prints a batch-size warning for keyword inputs (batch 1 is right)
        with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            macs, _ = get_model_complexity_info(
                wrapper,
                shapes[0],
                as_strings=False,
                print_per_layer_stat=False,
                ost=io.StringIO(),  # ptflops prints to ost; keep it off stdout
                backend="pytorch",
                ignore_modules=[] if include_elementwise else list(_ELEMENTWISE_MODULES),
                # The default input is torch.empty: use zeros so no NaN/Inf flows through; one
                # keyword per model input (ptflops calls the wrapper with **dict).
                input_constructor=lambda _: {f"x{i}": torch.zeros((1, *shape), dtype=dtype) for i, shape in enumerate(shapes)},
            )
    finally:
        model.train(was_training)
    if macs is None:
        raise ValueError(f"ptflops could not count MACs of {type(model).__name__} for input shape(s) {shapes}")
    return int(macs)


def _param_dtype(model: nn.Module) -> torch.dtype:
    param = next(model.parameters(), None)
    return param.dtype if param is not None else torch.float32


def model_size_mb(model: nn.Module) -> float:
    """Serialized size of ``model.state_dict()`` in MiB (``torch.save`` to memory / 2**20).

    Includes buffers (BatchNorm running mean/var and ``num_batches_tracked``, target and
    input scaling) and the zip container overhead, so it is slightly above
    ``4 * count_parameters(model) / 2**20`` for an fp32 model.
    """
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes / 2**20
