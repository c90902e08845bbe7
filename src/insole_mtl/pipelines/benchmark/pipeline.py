"""Benchmark: trained model -> efficiency.json (08_reporting) and MLflow metrics."""

from kedro.pipeline import Pipeline, node

from .nodes import benchmark_efficiency


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                benchmark_efficiency,
                ["trained_model", "test.recurrence_plots", "params:benchmark"],
                ["efficiency", "mlflow_efficiency_metrics"],
                name="benchmark_efficiency",
                tags=["benchmark"],
            )
        ]
    )
