"""Zero-pad the input channels of narrow convolutions so ONNX Runtime's fast CPU kernels take them (issue #11).

A sensor model's first convolution reads as many channels as the insole has sensors — 14 for the default run
(``(b, 14, 40, 40)`` recurrence counts into a 1 x 1 stem of 32 filters). ONNX Runtime's CPU kernels are laid out
for other widths: its u8 x s8 GEMM consumes the reduction in groups of 4 (``vpdpbusd`` multiplies four byte pairs
per 32-bit lane), its fp32 NCHWc convolutions block channels by 16 on AVX-512 (8 on AVX2), and a width that does
not fit goes down a slower path. Measured at batch 1 on one thread, the stem alone (1 x 1, 32 filters, 40 x 40,
padding 1; AMD EPYC with avx512f avx512_vnni, 2026-12-02, scratch benchmark): int8 47 µs with 14 input channels
against 25 µs with 16; fp32 37 against 24; with 1, 3, 6, 10 channels int8 takes 30-38 µs, with 8, 12, 16
16-19 µs; in fp32 1-8 channels are fast (15-25 µs) and 10-14 slow (28-37 µs).

:func:`pad_conv_input_channels` appends zero channels to a convolution's input (a ``Pad`` on axis 1) and zero
input slices to its weight. Every output is the same sum plus products with zero, so the result is exact: the
int8 network's outputs are bit-identical (its integer accumulations do not depend on the order), fp32 ones move
by float32 rounding (the summation order of the kernel changes).

:data:`INT8_PADDING` is step 0 of the int8 recipe (:func:`insole_mtl.edge.quantization.quantize_int8`): every
convolution whose input channels are not a multiple of 4 to the next multiple of 4. :data:`FP32_PADDING` is what
the fp32 edge graph applies (:func:`insole_mtl.edge.raw_window.export_raw_window_onnx`): the 2-D convolutions with
9-15 input channels to 16. The reference graph that stock ONNX Runtime is timed on is left as exported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class ChannelPadding:
    """Which convolutions to widen and to what: group-1 convolutions whose weight is an initializer of
    ``ranks`` (4 = 2-D, 3 = 1-D) with ``min_channels <= C_in <= max_channels`` and ``C_in % multiple != 0``
    get ``C_in`` rounded up to a multiple of ``multiple``."""

    multiple: int
    min_channels: int = 1
    max_channels: int | None = None
    ranks: tuple[int, ...] = (3, 4)

    def __post_init__(self) -> None:
        if self.multiple < 2:
            raise ValueError(f"channel padding multiple must be >= 2, got {self.multiple}")

    def padded(self, channels: int, rank: int) -> int:
        """Input channels after padding (``channels`` when the rule does not apply)."""
        if rank not in self.ranks or channels < self.min_channels or channels % self.multiple == 0:
            return channels
        if self.max_channels is not None and channels > self.max_channels:
            return channels
        return -(-channels // self.multiple) * self.multiple


#: the int8 network's rule: the u8 x s8 kernels reduce over groups of 4 input values
INT8_PADDING = ChannelPadding(multiple=4)
#: the fp32 graph's rule: NCHWc blocks of 16 channels, for the 2-D convolutions that are slow below that
FP32_PADDING = ChannelPadding(multiple=16, min_channels=9, max_channels=15, ranks=(4,))


def _attribute(node: onnx.NodeProto, name: str, default: int) -> int:
    for attribute in node.attribute:
        if attribute.name == name:
            return int(helper.get_attribute_value(attribute))
    return default


def pad_conv_input_channels(model: onnx.ModelProto, rule: ChannelPadding) -> tuple[onnx.ModelProto, dict[str, tuple[int, int]]]:
    """A copy of ``model`` whose convolutions matching ``rule`` read zero-padded inputs (module docstring).

    Returns:
        The new model and ``{conv node name: (input channels before, after)}`` of the widened convolutions.
    """
    model = onnx.load_from_string(model.SerializeToString())
    return model, _pad_in_place(model, rule)


def pad_conv_input_channels_bytes(model_bytes: bytes, rule: ChannelPadding) -> bytes:
    """:func:`pad_conv_input_channels` of a serialised model, serialised (parsed once, no extra copy)."""
    model = onnx.load_from_string(model_bytes)
    _pad_in_place(model, rule)
    return model.SerializeToString()


def _pad_in_place(model: onnx.ModelProto, rule: ChannelPadding) -> dict[str, tuple[int, int]]:
    """Widen ``model``'s matching convolutions in place; returns what :func:`pad_conv_input_channels` returns beside the model."""
    graph = model.graph
    initialisers = {init.name: init for init in graph.initializer}
    consumers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    nodes: list[onnx.NodeProto] = []
    widened: dict[str, tuple[int, int]] = {}
    for index, node in enumerate(graph.node):
        weight = initialisers.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        if weight is None or _attribute(node, "group", 1) != 1:
            nodes.append(node)
            continue
        channels, rank = int(weight.dims[1]), len(weight.dims)
        target = rule.padded(channels, rank)
        if target == channels:
            nodes.append(node)
            continue
        label = node.name or f"conv_{index}"
        # a weight other nodes read too is padded into a copy, made once per width
        padded_weight = f"{weight.name}_padded_{target}" if consumers.get(weight.name, 0) > 1 else weight.name
        if padded_weight == weight.name or padded_weight not in initialisers:
            array = numpy_helper.to_array(weight)
            extra = np.zeros((array.shape[0], target - channels, *array.shape[2:]), dtype=array.dtype)
            padded = numpy_helper.from_array(np.concatenate([array, extra], axis=1), padded_weight)
            if padded_weight == weight.name:
                weight.CopyFrom(padded)
            else:
                initialisers[padded_weight] = padded
                graph.initializer.append(padded)
        pads = np.zeros(2 * rank, dtype=np.int64)
        pads[rank + 1] = target - channels  # end of axis 1
        pads_name, padded_input = f"{label}_channel_pads", f"{label}_input_{target}_channels"
        graph.initializer.append(numpy_helper.from_array(pads, pads_name))
        nodes.append(helper.make_node("Pad", [node.input[0], pads_name], [padded_input], mode="constant", name=f"{label}_channel_pad"))
        node.input[0], node.input[1] = padded_input, padded_weight
        nodes.append(node)
        widened[label] = (channels, target)
    del graph.node[:]
    graph.node.extend(nodes)
    return widened
