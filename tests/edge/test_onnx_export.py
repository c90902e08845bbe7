import re

import numpy as np
import onnx
import pytest
import torch

from insole_mtl.edge.onnx_export import (
    compare_onnx_to_torch,
    compare_outputs,
    export_onnx,
    fold_batchnorm,
    onnx_session,
    run_session,
    session_feed,
    split_batches,
    torch_outputs,
)
from insole_mtl.models import TaskSpec

from ._models import CASES, TASKS, binary_inputs, build_case_model, case_inputs, model, tiny_model  # noqa: F401


@pytest.fixture(scope="module")
def exported(model):
    return export_onnx(model, binary_inputs(1))


def test_export_names_inputs_and_outputs_after_the_tasks(exported):
    graph = onnx.load_from_string(exported).graph
    assert [o.name for o in graph.output] == ["activity", "speed", "weight"]
    assert [i.name for i in graph.input] == ["recurrence_plots"]  # named after model.input_names
    # BatchNorm is folded into the convolutions at export time
    assert "BatchNormalization" not in {n.op_type for n in graph.node}


def test_onnx_matches_torch_with_a_dynamic_batch(model, exported):
    x = binary_inputs(5)  # exported with batch 1
    got = run_session(onnx_session(exported, threads=1), x)
    ref = torch_outputs(model, x)
    assert got["activity"].shape == (5, 3) and got["speed"].shape == (5,) and got["weight"].shape == (5,)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-4)
    # regression outputs are in physical units: the target scaling is inside the graph
    assert abs(float(got["weight"].mean()) - 70.0) < 40.0


def test_compare_onnx_to_torch_reports_agreement(model, exported):
    result = compare_onnx_to_torch(model, onnx_session(exported, threads=1), binary_inputs(4), batch_size=3)
    assert result["within_tolerance"] is True
    assert result["activity_class_agreement"] == 1.0
    assert result["n_windows"] == 4
    assert max(result[f"{t}_max_rel_diff"] for t in ("activity", "speed", "weight")) < 1e-4


def test_compare_outputs_exact_on_fabricated_arrays():
    tasks = [TaskSpec("a", "classification", 2), TaskSpec("s", "regression", 1)]
    ref = {"a": np.array([[1.0, 0.0], [0.0, 2.0]]), "s": np.array([10.0, -20.0])}
    cand = {"a": np.array([[1.0, 0.5], [0.0, 2.0]]), "s": np.array([10.0, -20.01])}
    result = compare_outputs(ref, cand, tasks, atol=1e-3, rtol=1e-3)
    assert result["a_max_abs_diff"] == pytest.approx(0.5)
    assert result["a_max_rel_diff"] == pytest.approx(0.25)
    assert result["a_class_agreement"] == 1.0
    assert result["s_max_abs_diff"] == pytest.approx(0.01)
    assert result["s_max_rel_diff"] == pytest.approx(0.0005)
    assert result["within_tolerance"] is False  # 0.5 > 1e-3 + 1e-3 * 0
    cand["a"] = np.array([[0.0, 1.0], [0.0, 2.0]])
    assert compare_outputs(ref, cand, tasks)["a_class_agreement"] == 0.5


def test_compare_outputs_names_a_missing_task():
    tasks = [TaskSpec("a", "classification", 2)]
    with pytest.raises(ValueError, match=re.escape("no output for task(s) ['a']")):
        compare_outputs({"a": np.zeros((1, 2))}, {"b": np.zeros((1, 2))}, tasks)


def test_fold_batchnorm_keeps_predictions_and_leaves_the_original(model):
    x = binary_inputs(3)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    ref, got = torch_outputs(model, x), torch_outputs(folded, x)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-4)


def test_export_is_deterministic():
    a = export_onnx(tiny_model(3), binary_inputs(1))
    b = export_onnx(tiny_model(3), binary_inputs(1))
    assert a == b


def test_export_and_session_argument_errors(exported):
    with pytest.raises(TypeError, match=re.escape("export_onnx expects a MultitaskModel, got Linear")):
        export_onnx(torch.nn.Linear(2, 2), binary_inputs(1))
    with pytest.raises(ValueError, match=re.escape("threads must be None or >= 0, got -1")):
        onnx_session(exported, threads=-1)
    with pytest.raises(ValueError, match=re.escape("optimization must be one of")):
        onnx_session(exported, optimization="max")
    with pytest.raises(TypeError, match=re.escape("model_bytes must be non-empty bytes, got str")):
        onnx_session("model.onnx")  # type: ignore[arg-type]


def test_every_optimization_level_gives_the_same_outputs(exported):
    x = binary_inputs(2)
    outputs = [run_session(onnx_session(exported, 1, level), x) for level in ("disabled", "basic", "extended", "all")]
    for other in outputs[1:]:
        for name in TASKS:
            np.testing.assert_allclose(other[name.name], outputs[0][name.name], rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# Every kind of model input: packed plots, 40 x 40 counts + raw window (two inputs), raw windows
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=CASES)
def case(request):
    model = build_case_model(request.param)
    example = case_inputs(model, request.param, 1)
    return request.param, model, export_onnx(model, example)


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_export_has_one_named_input_per_model_input_with_a_dynamic_batch(case):
    name, model, exported = case
    graph = onnx.load_from_string(exported).graph
    assert [i.name for i in graph.input] == list(model.input_names)
    expected = {"paper": [("recurrence_plots", [4, 32, 32])], "cnn1d": [("windows", [4, 32])],
                "counts_amplitude": [("recurrence_plots", [4, 40, 40]), ("windows", [4, 160])]}[name]  # fmt: skip
    assert [(i.name, _dims(i)[1:]) for i in graph.input] == expected
    assert all(_dims(i)[0] == "batch" for i in graph.input)
    assert [o.name for o in graph.output] == ["activity", "speed", "weight"]
    assert all(_dims(o)[0] == "batch" for o in graph.output)


def test_every_kind_of_input_agrees_with_torch(case):
    name, model, exported = case
    x = case_inputs(model, name, 5, seed=7)  # exported with batch 1
    session = onnx_session(exported, threads=1)
    got = run_session(session, x)
    ref = torch_outputs(model, x, batch_size=2)
    assert got["activity"].shape == (5, 3) and got["speed"].shape == (5,) and got["weight"].shape == (5,)
    for task in ref:
        np.testing.assert_allclose(got[task], ref[task], rtol=1e-4, atol=1e-4)
    # fed by name: the same outputs
    by_name = run_session(session, dict(zip(model.input_names, x)))
    for task in ref:
        np.testing.assert_array_equal(by_name[task], got[task])
    result = compare_onnx_to_torch(model, session, x, batch_size=3)
    assert result["within_tolerance"] is True and result["n_windows"] == 5
    assert result["activity_class_agreement"] == 1.0


def test_the_amplitude_input_matters():
    model = build_case_model("counts_amplitude")
    plots, windows = case_inputs(model, "counts_amplitude", 3)
    session = onnx_session(export_onnx(model, (plots[:1], windows[:1])), threads=1)
    a = run_session(session, (plots, windows))["weight"]
    b = run_session(session, (plots, windows * 2.0))["weight"]
    assert not np.allclose(a, b)  # the raw window reaches the heads inside the graph


def test_input_count_errors_name_the_inputs():
    model = build_case_model("counts_amplitude")
    plots, windows = case_inputs(model, "counts_amplitude", 1)
    with pytest.raises(ValueError, match=re.escape("reads 2 input(s) ['recurrence_plots', 'windows'], got 1 example tensor(s)")):
        export_onnx(model, plots)
    session = onnx_session(export_onnx(model, (plots, windows)), threads=1)
    with pytest.raises(ValueError, match=re.escape("the ONNX model reads 2 input(s) ['recurrence_plots', 'windows'], got 1 array(s)")):
        session_feed(session, plots)
    with pytest.raises(ValueError, match=re.escape("missing ['windows']")):
        session_feed(session, {"recurrence_plots": plots})
    with pytest.raises(ValueError, match=re.escape("model inputs must have the same batch size")):
        split_batches((plots, windows.expand(2, -1, -1)), 4)


def test_fold_batchnorm_folds_conv1d_too():
    model = build_case_model("cnn1d")
    x = case_inputs(model, "cnn1d", 3)
    folded = fold_batchnorm(model)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in folded.modules()) < sum(
        isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()
    )  # the stem's Conv1d + BatchNorm1d (the residual blocks keep theirs: not in a Sequential)
    ref, got = torch_outputs(model, x), torch_outputs(folded, x)
    for name in ref:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-4)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:# The axis name")  # torch.export's own chatter
def test_the_dynamo_exporter_names_every_input_too():
    model = build_case_model("counts_amplitude")
    x = case_inputs(model, "counts_amplitude", 3)
    exported = export_onnx(model, tuple(v[:1] for v in x), dynamo=True)
    session = onnx_session(exported, threads=1)
    assert [i.name for i in session.get_inputs()] == ["recurrence_plots", "windows"]
    assert compare_onnx_to_torch(model, session, x)["within_tolerance"] is True
