import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.conv_channels import FP32_PADDING, INT8_PADDING, ChannelPadding, pad_conv_input_channels
from inference._model import small_model, windows


def _conv_graph(channels: int, group: int = 1, shared: bool = False) -> onnx.ModelProto:
    """x (1, channels, 5, 5) -> Conv(3 x 3, pad 1, 2 filters or depthwise) [-> the same weight again]."""
    rng = np.random.default_rng(0)
    out = channels if group > 1 else 2
    weight = rng.normal(size=(out, channels // group, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], group=group, name="stem")]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out, 5, 5])]
    if shared:
        nodes.append(helper.make_node("Conv", ["x", "w"], ["z"], pads=[1, 1, 1, 1], name="twin"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 2, 5, 5]))
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, 5, 5])], outputs,
        [numpy_helper.from_array(weight, "w")],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model: onnx.ModelProto, x: np.ndarray) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})


@pytest.mark.parametrize(
    ("rule", "channels", "rank", "expected"),
    [
        (INT8_PADDING, 14, 4, 16), (INT8_PADDING, 3, 4, 4), (INT8_PADDING, 24, 4, 24), (INT8_PADDING, 14, 3, 16),
        (FP32_PADDING, 14, 4, 16), (FP32_PADDING, 9, 4, 16), (FP32_PADDING, 8, 4, 8), (FP32_PADDING, 14, 3, 14),
        (FP32_PADDING, 24, 4, 24), (FP32_PADDING, 16, 4, 16),
    ],
)  # fmt: skip
def test_the_rules_widen_what_the_kernels_are_slow_on(rule, channels, rank, expected):
    assert rule.padded(channels, rank) == expected


def test_a_padded_convolution_computes_the_same_outputs():
    model = _conv_graph(3)
    x = np.random.default_rng(1).normal(size=(1, 3, 5, 5)).astype(np.float32)
    padded, widened = pad_conv_input_channels(model, INT8_PADDING)
    assert widened == {"stem": (3, 4)}
    pad = next(n for n in padded.graph.node if n.op_type == "Pad")
    pads = {i.name: numpy_helper.to_array(i) for i in padded.graph.initializer}
    assert pads[pad.input[1]].tolist() == [0, 0, 0, 0, 0, 1, 0, 0]  # one zero channel at the end of axis 1
    assert pads["w"].shape == (2, 4, 3, 3) and not pads["w"][:, 3].any()
    np.testing.assert_allclose(_run(padded, x)[0], _run(model, x)[0], rtol=1e-6, atol=1e-6)
    assert [n.op_type for n in model.graph.node] == ["Conv"]  # the input model is left unchanged


@pytest.mark.parametrize(("channels", "group"), [(6, 6), (8, 1)])
def test_grouped_convolutions_and_ones_of_a_multiple_of_4_are_left_alone(channels, group):
    padded, widened = pad_conv_input_channels(_conv_graph(channels, group=group), INT8_PADDING)
    assert widened == {} and [n.op_type for n in padded.graph.node] == ["Conv"]


def test_a_weight_two_convolutions_share_is_padded_into_a_copy():
    model = _conv_graph(3, shared=True)
    x = np.random.default_rng(2).normal(size=(1, 3, 5, 5)).astype(np.float32)
    padded, widened = pad_conv_input_channels(model, INT8_PADDING)
    assert widened == {"stem": (3, 4), "twin": (3, 4)}
    onnx.checker.check_model(padded)
    assert [i.name for i in padded.graph.initializer].count("w_padded_4") == 1
    for got, want in zip(_run(padded, x), _run(model, x)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_multiple_below_two_is_refused():
    with pytest.raises(ValueError, match="channel padding multiple must be >= 2, got 1"):
        ChannelPadding(multiple=1)


def test_the_edge_graphs_widen_the_14_channel_stem_and_the_stock_reference_does_not():
    model = small_model()

    def stem_channels(data: bytes) -> int:
        graph = onnx.load_from_string(data).graph
        weights = {i.name: i for i in graph.initializer}
        convs = [n for n in graph.node if n.op_type == "Conv" and n.input[1] in weights]
        return int(weights[convs[0].input[1]].dims[1])

    assert stem_channels(rw.export_raw_window_onnx(model)) == 16
    assert stem_channels(rw.export_raw_window_onnx(model, channel_padding=None)) == 14
    pre, network = rw.int8_parts(model, windows(8, seed=3))
    assert "Pad" in [n.op_type for n in network.graph.node]
