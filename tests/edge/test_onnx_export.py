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
    torch_outputs,
)
from insole_mtl.models.registry import TaskSpec

from ._models import TASKS, binary_inputs, model, tiny_model  # noqa: F401  (model is a fixture)


@pytest.fixture(scope="module")
def exported(model):
    return export_onnx(model, binary_inputs(1))


def test_export_names_inputs_and_outputs_after_the_tasks(exported):
    graph = onnx.load_from_string(exported).graph
    assert [o.name for o in graph.output] == ["activity", "speed", "weight"]
    assert [i.name for i in graph.input] == ["x"]
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
