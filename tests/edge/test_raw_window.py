"""The self-contained raw-window ONNX model: plots inside the graph, bit-identical to the encoder; predictions
equal insole_infer's; the int8 fast path and its per-CPU default; the side-by-side benchmark."""

from __future__ import annotations

import numpy as np
import onnx
import pandas as pd
import pytest
import torch

from insole_mtl import inference
from insole_mtl.edge import raw_window as rw
from insole_mtl.edge.raw_benchmark import FP32_TOLERANCE, agreement, benchmark_raw_window
from insole_mtl.encoding.recurrence import encode_recurrence_plots, unpack_recurrence_plots
from insole_mtl.models import EnsembleModel
from insole_mtl.models.force_prior import ForcePrior

from inference._model import small_model, windows


def _perturb(model):
    """Non-trivial BatchNorm statistics so logits are well apart (an untrained net is nearly uniform)."""
    torch.manual_seed(3)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    for head in model.heads.values():
        head.weight.data.mul_(20.0)
    return model.eval()


@pytest.mark.parametrize("formulation", ["direct", "symmetric", "folded"])
@pytest.mark.parametrize("cell", [1, 4, 2, 10])
def test_graph_plots_are_bit_identical_to_the_encoder(cell, formulation):
    w = windows(6, seed=4)
    w[0, 3] = 7.0  # a constant channel: an all-zero plot
    w[1, 5, ::2] = w[1, 5, 1::2]  # ties at eps are likely
    module = rw.RecurrenceCounts(10.0, cell, formulation)
    got = module(torch.as_tensor(w)).numpy()
    if cell == 1:
        expected = unpack_recurrence_plots(encode_recurrence_plots(w, 10.0), 160).astype(np.float32)
    else:
        expected = encode_recurrence_plots(w, 10.0, resolution=160 // cell).astype(np.float32)
    np.testing.assert_array_equal(got, expected)
    assert got[0, 3].sum() == 0


def test_folded_counts_on_an_odd_number_of_cells():
    """15 cells a side (150 samples, cells of 10): the offsets 0..7 meet every unordered pair exactly once."""
    w = np.ascontiguousarray(windows(4, seed=6)[..., :150])
    expected = encode_recurrence_plots(w, 10.0, resolution=15).astype(np.float32)
    np.testing.assert_array_equal(rw.RecurrenceCounts(10.0, 10, "folded")(torch.as_tensor(w)).numpy(), expected)


@pytest.mark.parametrize("cell", [2, 10])
def test_exported_plot_formulations_give_the_encoders_counts(cell):
    """In ONNX Runtime too; cell 10 (k² = 100, not a power of two) is where ``AveragePool * k²`` was off by 4e-6."""
    w = windows(6, seed=5)
    w[2, 1] = -3.0
    expected = encode_recurrence_plots(w, 10.0, resolution=160 // cell).astype(np.float32)
    for formulation in rw.PLOT_FORMULATIONS:
        graph = rw.export_window_module(rw.RecurrenceCounts(10.0, cell, formulation), torch.zeros(2, 14, 160), ["counts"])
        np.testing.assert_array_equal(rw.run_raw(rw.stock_session(graph), w)["counts"], expected)


def test_auto_takes_the_folded_formulation_from_cells_of_2():
    chosen = {cell: rw.RecurrenceCounts(10.0, cell).formulation for cell in (1, 2, 4, 8)}
    assert chosen == {1: "direct", 2: "folded", 4: "folded", 8: "folded"}


def test_an_unknown_plot_formulation_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown plot formulation 'sorted'; expected one of \['auto', 'direct', 'symmetric', 'folded'\]"):
        rw.RecurrenceCounts(10.0, 4, "sorted")


def _rounding_tie_window() -> np.ndarray:
    """One 14 x 160 window whose channel 0 spans -5..5 (eps = 1) and holds the pair -1.192295 / -0.19229497 at
    samples 2 and 3: 0.99999998 apart in float64 (recurrent), exactly 1.0 once subtracted in float32 (not)."""
    w = windows(1, seed=8)
    w[0, 0] = -5.0
    w[0, 0, 1], w[0, 0, 2], w[0, 0, 3] = 5.0, np.float32(-1.192295), np.float32(-0.19229497)
    return w


@pytest.mark.parametrize("formulation", rw.PLOT_FORMULATIONS)
def test_float32_plots_differ_only_where_a_distance_rounds_across_eps(formulation):
    w = _rounding_tie_window()
    exact = rw.RecurrenceCounts(10.0, 4, formulation)(torch.as_tensor(w)).numpy()
    rounded = rw.RecurrenceCounts(10.0, 4, formulation, precision="float32")(torch.as_tensor(w)).numpy()
    np.testing.assert_array_equal(exact, encode_recurrence_plots(w, 10.0, resolution=40).astype(np.float32))
    difference = exact - rounded
    assert difference[0, 0, 0, 0] == 2.0  # the pair (2, 3) and its mirror (3, 2), both in cell (0, 0)
    difference[0, 0, 0, 0] = 0.0
    assert not difference.any()
    ordinary = windows(6, seed=4)  # no distance within a float32 rounding of eps
    np.testing.assert_array_equal(
        rw.RecurrenceCounts(10.0, 4, formulation, "float32")(torch.as_tensor(ordinary)).numpy(),
        encode_recurrence_plots(ordinary, 10.0, resolution=40).astype(np.float32),
    )


def test_an_unknown_plot_precision_is_refused_by_name():
    with pytest.raises(ValueError, match=r"unknown plot precision 'float16'; expected one of \['float64', 'float32'\]"):
        rw.RecurrenceCounts(10.0, 4, precision="float16")


def test_the_int8_graph_computes_its_plots_in_float32_and_the_fp32_graph_in_float64():
    model = small_model()
    double = onnx.TensorProto.DOUBLE
    casts = {
        name: [a.i for n in onnx.load_from_string(data).graph.node if n.op_type == "Cast" for a in n.attribute if a.name == "to"]
        for name, data in (("fp32", rw.export_raw_window_onnx(model)), ("int8", rw.export_int8_raw_window_onnx(model, windows(8, seed=4))))
    }  # fmt: skip
    assert double in casts["fp32"] and double not in casts["int8"]
    assert rw.INT8_PLOT_PRECISION == "float32"


@pytest.mark.parametrize(
    ("n", "partner", "layout"),
    [
        # 4 cells, offsets 0..2: (I, I), (I, I+1), (I, I+2 mod 4); cell (1, 0) is the mirrored (0, 1) at offset 1
        (4, [0, 1, 2, 3, 1, 2, 3, 0, 2, 3, 0, 1], [0, 4, 8, 7, 4, 1, 5, 9, 10, 5, 2, 6, 7, 11, 6, 3]),
        # 3 cells, offsets 0..1 cover every unordered pair exactly once
        (3, [0, 1, 2, 1, 2, 0], [0, 3, 5, 3, 1, 4, 5, 4, 2]),
    ],
)
def test_folded_indices_pair_every_cell_with_the_next_n_over_2(n, partner, layout):
    got_partner, got_layout = rw.folded_cell_indices(n)
    assert got_partner.tolist() == partner and got_layout.tolist() == layout


def test_the_symmetric_and_folded_blocks_compare_once_and_need_no_pool():
    """What makes them faster in ORT: one Less over (b, C, k, L/k, L) and no Abs, or one Abs and one Less over
    about half the pairs; no Conv/AveragePool in either."""
    ops = {
        name: [n.op_type for n in onnx.load_from_string(
            rw.export_window_module(rw.RecurrenceCounts(10.0, 4, name), torch.zeros(2, 14, 160), ["counts"])
        ).graph.node]
        for name in rw.PLOT_FORMULATIONS
    }  # fmt: skip
    assert {"Abs", "Conv"} <= set(ops["direct"]) and not {"Abs", "Conv", "AveragePool"} & set(ops["symmetric"])
    assert ops["direct"].count("Less") == ops["symmetric"].count("Less") == ops["folded"].count("Less") == 1
    assert ops["folded"].count("Abs") == 1 and not {"Conv", "AveragePool"} & set(ops["folded"])


def test_onnx_graph_reads_only_raw_windows_and_computes_the_same_plots():
    model = small_model()
    data = rw.export_raw_window_onnx(model)
    graph = onnx.load_from_string(data)
    onnx.checker.check_model(graph)
    inputs = [i for i in graph.graph.input if i.name not in {t.name for t in graph.graph.initializer}]
    assert [i.name for i in inputs] == ["windows"]
    dims = [d.dim_param or d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 14, 160]
    assert [o.name for o in graph.graph.output] == ["activity", "speed", "weight", "activity_probability"]


def test_fp32_graph_predicts_what_insole_infer_predicts():
    model = _perturb(small_model())
    w = windows(40, seed=9)
    pre = inference.model_preprocessing(model, 40.0)
    reference = inference.predict_windows(model, w, pre)
    outputs = rw.run_raw(rw.edge_session(rw.export_raw_window_onnx(model)), w)
    scores = agreement(reference, outputs, None)
    assert scores["class_agreement"] == 1.0
    assert len(set(reference["activity"])) > 1  # the classes really vary
    assert scores["max_abs_diff_probability"] <= FP32_TOLERANCE["activity_probability"]
    assert scores["max_abs_diff_speed"] <= FP32_TOLERANCE["speed"]
    assert scores["max_abs_diff_weight"] <= FP32_TOLERANCE["weight"]


def test_an_ensemble_exports_to_one_graph_that_predicts_what_insole_infer_predicts():
    members = [_perturb(small_model(seed=seed)) for seed in (0, 1)]
    model = EnsembleModel(members).eval()
    model.preprocessing = members[0].preprocessing
    w = windows(24, seed=9)
    reference = inference.predict_windows(model, w, inference.model_preprocessing(model, 40.0))
    scores = agreement(reference, rw.run_raw(rw.edge_session(rw.export_raw_window_onnx(model)), w), None)
    assert scores["class_agreement"] == 1.0
    assert scores["max_abs_diff_probability"] <= FP32_TOLERANCE["activity_probability"]
    assert scores["max_abs_diff_weight"] <= FP32_TOLERANCE["weight"]
    int8 = rw.run_raw(rw.edge_session(rw.export_int8_raw_window_onnx(model, windows(16, seed=4))), w)
    assert agreement(reference, int8, None)["class_agreement"] >= 0.9


def test_raw_signal_models_export_too():
    model = small_model("cnn1d", resolution=None, width=8, amplitude_features=True)
    w = windows(8, seed=2)
    pre = inference.model_preprocessing(model, 40.0)
    outputs = rw.run_raw(rw.stock_session(rw.export_raw_window_onnx(model)), w)
    np.testing.assert_allclose(outputs["speed"], inference.predict_windows(model, w, pre)["speed"], rtol=1e-5, atol=1e-4)


def test_a_force_prior_travels_in_the_fp32_and_int8_graphs():
    """The model's weight from its force prior (model.force_prior): both edge graphs compute it from the raw window."""
    model = _perturb(small_model("cnn1d", resolution=None, width=8, amplitude_features=True))
    w = np.abs(windows(24, seed=2)) + 1.0  # positive "forces"
    prior = ForcePrior(list(range(w.shape[1])))
    prior.fit(w, np.linspace(50.0, 90.0, len(w)), np.repeat(np.arange(6), 4))
    model.attach_force_prior(prior)
    reference = inference.predict_windows(model, w, inference.model_preprocessing(model, 40.0))
    np.testing.assert_allclose(reference["weight"], prior(torch.from_numpy(w)).numpy(), rtol=1e-6)
    for graph in (rw.export_raw_window_onnx(model), rw.export_int8_raw_window_onnx(model, w[:8])):
        # the int8 variant quantises the convolutions' feature maps only: the prior's arithmetic stays float32
        outputs = rw.run_raw(rw.edge_session(graph), w)
        assert agreement(reference, outputs, None)["max_abs_diff_weight"] <= FP32_TOLERANCE["weight"]


def test_the_benchmark_of_a_raw_signal_model_times_its_one_graph_as_the_reference():
    """No plot block: the literal graph is the fp32 graph itself (exported once), and both score the same."""
    model = _perturb(small_model("cnn1d", resolution=None, width=8, amplitude_features=True))
    report, _ = benchmark_raw_window(model, windows(6, seed=3), None, windows(8, seed=4), warmup=1, repeats=3)
    assert report["plot_formulation"] == "none" and report["int8_plot_precision"] == "none"
    assert "stock_fp32_float32_plots_1thread" not in report["latency"]
    assert report["int8_plot_counts"] == {"cells_differing": 0, "windows_differing": 0, "max_abs_diff": 0.0}
    assert report["agreement_vs_insole_infer"]["stock_fp32"] == report["agreement_vs_insole_infer"]["edge_fp32"]


def test_default_variant_follows_the_cpu_flags():
    assert rw.default_variant({"avx2", "avx512f", "avx512_vnni"}) == "int8"
    assert rw.default_variant({"avx2", "avx_vnni"}) == "int8"
    assert rw.default_variant({"avx2", "fma"}) == "fp32"
    assert rw.default_variant(set()) == "fp32"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from inference._trained import ensure_trained_project

    work = ensure_trained_project(tmp_path_factory.getbasetemp())
    data = work / "data" / "test"
    from insole_mtl.serving.loading import load_trained_model

    model = load_trained_model(None, data / "06_models" / "trained_model.pkl").model
    test = np.load(data / "04_feature" / "test" / "windows.npy")
    labels = pd.read_parquet(data / "04_feature" / "test" / "window_labels.parquet")
    train = np.load(data / "04_feature" / "train" / "windows.npy")[:128]
    return model, test, labels, train


@pytest.mark.e2e
def test_trained_model_edge_paths_agree_and_the_benchmark_reports_every_path(trained):
    model, test, labels, train = trained
    report, graphs = benchmark_raw_window(model, test, labels, train, warmup=2, repeats=12)
    fp32, int8 = report["agreement_vs_insole_infer"]["edge_fp32"], report["agreement_vs_insole_infer"]["edge_int8"]
    assert fp32["class_agreement"] == 1.0 and fp32["max_abs_diff_probability"] <= FP32_TOLERANCE["activity_probability"]
    assert fp32["max_abs_diff_speed"] <= FP32_TOLERANCE["speed"] and fp32["max_abs_diff_weight"] <= FP32_TOLERANCE["weight"]
    assert int8["class_agreement"] >= 0.97 and report["int8_accuracy_cost_points"] <= 0.5
    assert set(report["latency"]) == {
        "pipeline", "stock_fp32", "stock_fp32_1thread", "stock_fp32_edge_graph", "edge_fp32", "edge_int8", "edge_int8_1thread",
        "stock_fp32_float32_plots_1thread",
    }  # fmt: skip
    assert report["int8_plot_precision"] == "float32" and set(report["int8_plot_counts"]) == {"cells_differing", "windows_differing", "max_abs_diff"}
    assert report["latency"]["stock_fp32_float32_plots_1thread"]["speedup_vs_stock_fp32_float32_plots_1thread"] == 1.0
    # the stock reference reads the literal plot block; its predictions are the edge fp32 graph's, bit for bit in the plots
    assert report["agreement_vs_insole_infer"]["stock_fp32"]["class_agreement"] == 1.0
    assert report["latency"]["stock_fp32"]["speedup_vs_stock_fp32"] == 1.0
    assert report["latency"]["stock_fp32_1thread"]["speedup_vs_stock_fp32_1thread"] == 1.0
    assert set(report["latency_streaming"]) == set(report["latency"])
    assert report["latency_streaming"]["stock_fp32"]["speedup_vs_stock_fp32"] == 1.0
    assert set(report["int8_breakdown"]) == {"plot_inputs", "int8_network"}
    assert set(report["int8_scopes"]) == {"feature_maps", "all"}
    assert report["int8_scopes"]["feature_maps"]["max_abs_diff_weight"] == int8["max_abs_diff_weight"]
    assert all(row["median_ms"] > 0 for row in report["latency"].values())
    assert report["default_variant"] == rw.default_variant()
    assert report["plot_formulation"] == rw.PlotInputs(model).encoder.formulation
    assert len(graphs["int8"]) < 0.7 * len(graphs["fp32"])  # int8 weights
    # the default int8 scope (feature maps only) keeps the regressions closer than quantising every op
    coarse = report["int8_scopes"]["all"]
    assert int8["max_abs_diff_weight"] < coarse["max_abs_diff_weight"] and int8["max_abs_diff_speed"] < coarse["max_abs_diff_speed"]
