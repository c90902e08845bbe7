import math
import re

import numpy as np
import onnx
import pytest

from insole_mtl.edge.onnx_export import export_onnx, onnx_session, run_session, torch_outputs
from insole_mtl.edge.quantization import (
    FEATURE_MAP_OPS,
    WindowCalibrationReader,
    accuracy_cost,
    feature_map_nodes,
    graph_input_names,
    quantize_dynamic_int8,
    quantize_int8,
    task_scores,
)

from ._models import CASES, binary_inputs, build_case_model, case_inputs, model  # noqa: F401  (model is a fixture)


@pytest.fixture(scope="module")
def fp32(model):
    return export_onnx(model, binary_inputs(1))


def test_static_int8_model_runs_with_the_same_outputs(model, fp32):
    calibration = [binary_inputs(8, seed=s).numpy() for s in (2, 3)]
    int8 = quantize_int8(fp32, calibration)
    graph = onnx.load_from_string(int8).graph
    ops = {n.op_type for n in graph.node}
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert [o.name for o in graph.output] == ["activity", "speed", "weight"]
    x = binary_inputs(6)
    got = run_session(onnx_session(int8, threads=1), x)
    ref = torch_outputs(model, x)
    assert got["activity"].shape == (6, 3) and got["weight"].shape == (6,)
    # int8 is an approximation: the weight (kg) stays within a few percent of fp32
    np.testing.assert_allclose(got["weight"], ref["weight"], rtol=0.1)


def _quantised_op_types(int8: bytes) -> set[str]:
    """Op types of the quantised nodes of a QDQ graph: fed by a DequantizeLinear, feeding a QuantizeLinear."""
    graph = onnx.load_from_string(int8).graph
    dequantised = {out for n in graph.node if n.op_type == "DequantizeLinear" for out in n.output}
    requantised = {name for n in graph.node if n.op_type == "QuantizeLinear" for name in n.input}
    return {n.op_type for n in graph.node if set(n.input) & dequantised and set(n.output) & requantised} - {"QuantizeLinear", "DequantizeLinear"}


def test_the_default_scope_quantises_the_feature_maps_and_leaves_the_heads_in_float32(fp32):
    calibration = [binary_inputs(8, seed=s).numpy() for s in (2, 3)]
    assert _quantised_op_types(quantize_int8(fp32, calibration)) == {"Conv", "Add", "GlobalAveragePool"}
    assert "Gemm" in _quantised_op_types(quantize_int8(fp32, calibration, scope="all"))


def test_feature_map_nodes_split_by_output_rank(fp32):
    model = onnx.shape_inference.infer_shapes(onnx.load_from_string(fp32))
    quantised, excluded = feature_map_nodes(model)
    nodes = {n.name: n for n in model.graph.node}
    ranks = {v.name: len(v.type.tensor_type.shape.dim) for v in (*model.graph.value_info, *model.graph.output)}
    assert {n.name for n in model.graph.node if n.op_type == "Conv"} <= set(quantised)
    assert excluded and all(ranks[nodes[name].output[0]] < 3 for name in excluded)
    assert all(nodes[name].op_type in FEATURE_MAP_OPS for name in (*quantised, *excluded))
    assert {nodes[name].op_type for name in excluded} == {"Add"}  # the heads' de-standardisation (b,) adds


def test_a_graph_without_feature_maps_is_left_in_float32_with_a_warning(caplog):
    import torch

    from insole_mtl.models import TaskSpec, build_model

    model = build_model("gru", 2, [TaskSpec("speed", "regression", 1)], hidden_size=4).eval()
    fp32 = export_onnx(model, (torch.zeros(1, 2, 8),))
    with caplog.at_level("WARNING", logger="insole_mtl.edge.quantization"):
        int8 = quantize_int8(fp32, [np.zeros((2, 2, 8), dtype=np.float32)])
    assert "QuantizeLinear" not in {n.op_type for n in onnx.load_from_string(int8).graph.node}
    assert "the graph has no convolutional feature maps (a recurrent model?), so nothing is quantised" in caplog.text


def test_qoperator_and_dynamic_variants_run(fp32):
    x = binary_inputs(2)
    qop = quantize_int8(fp32, [binary_inputs(4).numpy()], quant_format="qoperator", reduce_range=True)
    dyn = quantize_dynamic_int8(fp32)
    for blob in (qop, dyn):
        assert set(run_session(onnx_session(blob, threads=1), x)) == {"activity", "speed", "weight"}


def test_quantize_option_errors(fp32):
    with pytest.raises(ValueError, match=re.escape("quant_format must be one of ['qdq', 'qoperator'], got 'fp8'")):
        quantize_int8(fp32, [], quant_format="fp8")
    with pytest.raises(ValueError, match=re.escape("activation_type must be one of ['int8', 'uint8'], got 'int4'")):
        quantize_int8(fp32, [], activation_type="int4")
    with pytest.raises(ValueError, match=re.escape("scope must be one of ['all', 'feature_maps'], got 'heads'")):
        quantize_int8(fp32, [binary_inputs(2).numpy()], scope="heads")


def test_task_scores_mask_unlabelled_windows():
    predictions = {"activity": np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.1, 0.9]]), "speed": np.array([1.0, 2.0, 3.0, 4.0])}
    labels = {"activity": np.array([0, 0, -1, 1]), "speed": np.array([1.5, np.nan, 2.0, 4.0])}
    scores = task_scores(predictions, labels)
    assert scores["activity_accuracy"] == pytest.approx(100 * 2 / 3)
    assert scores["speed_mae"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)


def test_accuracy_cost_exact_on_fabricated_predictions():
    labels = {"activity": np.array([0, 1, 2, 1]), "speed": np.array([2.0, 4.0, np.nan, 6.0]), "weight": np.array([np.nan] * 4)}
    fp32 = {"activity": np.array([0, 1, 2, 0]), "speed": np.array([2.0, 4.5, 9.0, 6.0]), "weight": np.array([70.0] * 4)}
    int8 = {"activity": np.array([0, 1, 1, 0]), "speed": np.array([2.5, 4.5, 9.0, 5.0]), "weight": np.array([71.0] * 4)}
    cost = accuracy_cost(fp32, int8, labels)
    assert cost["activity_accuracy_fp32"] == pytest.approx(75.0)
    assert cost["activity_accuracy_int8"] == pytest.approx(50.0)
    assert cost["activity_accuracy_delta"] == pytest.approx(-25.0)  # percentage points
    assert cost["activity_prediction_agreement"] == pytest.approx(0.75)
    assert cost["speed_mae_fp32"] == pytest.approx(0.5 / 3)
    assert cost["speed_mae_int8"] == pytest.approx(2.0 / 3)
    assert cost["speed_mae_delta"] == pytest.approx(0.5)
    assert math.isnan(cost["weight_mae_delta"])  # no labelled window


def test_accuracy_cost_rejects_misaligned_labels():
    with pytest.raises(ValueError, match=re.escape("labels have 2 windows but predictions have 3")):
        task_scores({"speed": np.zeros(3)}, {"speed": np.zeros(2)})


@pytest.mark.parametrize("case", CASES)
def test_static_int8_calibrates_with_every_input(case):
    model = build_case_model(case)
    fp32 = export_onnx(model, case_inputs(model, case, 1))
    names = model.input_names
    x = case_inputs(model, case, 12, seed=2)
    calibration = [dict(zip(names, (v[i : i + 6].numpy() for v in x))) for i in (0, 6)]  # one dict per batch
    int8 = quantize_int8(fp32, calibration)
    assert graph_input_names(int8) == names
    assert "QuantizeLinear" in {n.op_type for n in onnx.load_from_string(int8).graph.node}
    got = run_session(onnx_session(int8, threads=1), x)
    ref = torch_outputs(model, x)
    assert got["activity"].shape == (12, 3) and got["speed"].shape == (12,) and got["weight"].shape == (12,)
    assert all(np.isfinite(value).all() for value in got.values())
    # int8 approximates fp32 (these random models have large head weights, so only loosely)
    spread = float(np.ptp(ref["weight"]))
    assert float(np.abs(got["weight"] - ref["weight"]).max()) < 0.25 * spread + 0.5


def test_calibration_reader_feeds_a_dict_per_batch_and_checks_inputs():
    names = ("recurrence_plots", "windows")
    plots, windows = np.zeros((2, 4, 8, 8), np.uint8), np.ones((2, 4, 32), np.float64)
    reader = WindowCalibrationReader([(plots, windows), {"windows": windows, "recurrence_plots": plots}], names)
    for _ in range(2):
        feed = reader.get_next()
        assert list(feed) == list(names) and all(v.dtype == np.float32 for v in feed.values())
    assert reader.get_next() is None and reader.n_windows == 4
    with pytest.raises(ValueError, match=re.escape("calibration batch lacks input(s) ['windows']")):
        WindowCalibrationReader([{"recurrence_plots": plots}], names).get_next()
    with pytest.raises(ValueError, match=re.escape("calibration batch has 1 array(s) but the model reads 2 input(s)")):
        WindowCalibrationReader([plots], names).get_next()
    with pytest.raises(ValueError, match=re.escape("different batch sizes")):
        WindowCalibrationReader([(plots, windows[:1])], names).get_next()


def test_the_recipe_pads_a_2_channel_stem_and_predicts_exactly_what_the_unpadded_int8_predicts(model, fp32):
    calibration = [binary_inputs(8, seed=s).numpy() for s in (2, 3)]
    padded, plain = quantize_int8(fp32, calibration), quantize_int8(fp32, calibration, channel_padding=None)
    assert "Pad" in {n.op_type for n in onnx.load_from_string(padded).graph.node}
    assert "Pad" not in {n.op_type for n in onnx.load_from_string(plain).graph.node}
    x = binary_inputs(6)
    got, want = (run_session(onnx_session(graph, threads=1), x) for graph in (padded, plain))
    for name in want:  # zero channels with zero weights: the integer accumulations are the same
        np.testing.assert_array_equal(got[name], want[name])
