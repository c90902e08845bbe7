"""Benchmark: trained model -> ONNX fp32/int8 models (06_models), efficiency.json (08_reporting) and MLflow metrics.

Runs at the end of ``insole_mtl`` or alone (``kedro run --pipeline=benchmark``) on the trained model and the
encoded windows a previous run left in the catalog. Each node gets both inputs of a split — the recurrence plots
(05_model_input) and the raw windows (04_feature) — and reads those the model reads (``model.input_names``). The
training split's plots are encoded from ``train_oversampled.windows``, so that is its windows input.
"""

from kedro.pipeline import Pipeline, node

from .nodes import evaluate_edge_models, export_edge_models, measure_efficiency, report_efficiency


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                export_edge_models,
                [
                    "trained_model", "train.recurrence_plots", "train_oversampled.windows",
                    "test.recurrence_plots", "test.windows", "params:benchmark",
                ],
                ["onnx_model", "onnx_model_int8"],
                name="export_edge_models",
            ),
            node(
                measure_efficiency,
                [
                    "trained_model", "onnx_model", "onnx_model_int8",
                    "test.recurrence_plots", "test.windows", "params:benchmark",
                ],
                "efficiency_figures",
                name="measure_efficiency",
            ),
            node(
                evaluate_edge_models,
                [
                    "trained_model", "onnx_model", "onnx_model_int8",
                    "test.recurrence_plots", "test.windows", "test.window_labels", "params:benchmark",
                ],
                "edge_accuracy",
                name="evaluate_edge_models",
            ),
            node(
                report_efficiency,
                ["efficiency_figures", "edge_accuracy"],
                ["efficiency", "mlflow_efficiency_metrics"],
                name="report_efficiency",
            ),
        ],
        tags=["benchmark"],
    )
