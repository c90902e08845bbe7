"""Evaluation: trained model + test inputs -> predictions (07), metrics and plots (08, MLflow)."""

from kedro.pipeline import Pipeline, node

from .figures import figures_pipeline
from .nodes import (
    compute_task_report,
    compute_test_metrics,
    plot_learning_curves,
    plot_test_confusion_matrix,
    plot_test_speed,
    plot_test_weight,
    predict_test_windows,
)


def scoring_pipeline() -> Pipeline:
    """Test predictions and metrics (every kind of run, the protocol's included)."""
    return Pipeline(
        [
            node(
                predict_test_windows,
                ["trained_model", "test.recurrence_plots", "test.windows", "test.window_labels", "evaluation_config"],
                "test.predictions",
                name="predict_test_windows",
            ),
            node(
                compute_test_metrics,
                ["test.predictions", "train.window_labels", "params:tasks", "training_summary"],
                ["metrics", "mlflow_metrics"],
                name="compute_test_metrics",
            ),
        ],
        tags=["evaluation"],
    )


def reporting_pipeline() -> Pipeline:
    """Task report and plots of one run (the single run and each cross-validation fold)."""
    return Pipeline(
        [
            node(
                compute_task_report,
                [
                    "test.predictions", "metrics", "train.windows", "train.window_labels", "val.window_labels",
                    "test.windows", "test.window_labels", "train_oversampled.window_labels",
                    "params:channels", "params:tasks", "params:reports",
                ],
                ["task_report", "window_counts", "mlflow_task_metrics"],
                name="compute_task_report",
            ),
            node(plot_test_confusion_matrix, ["metrics", "params:tasks"], "confusion_matrix_plot", name="plot_confusion_matrix"),
            node(plot_test_speed, ["test.predictions", "params:tasks"], "speed_predicted_vs_true_plot", name="plot_speed"),
            node(plot_test_weight, ["test.predictions", "params:tasks"], "weight_predicted_vs_true_plot", name="plot_weight"),
            node(plot_learning_curves, "training_history", "training_curves_plot", name="plot_training_curves"),
        ],
        tags=["evaluation"],
    ) + figures_pipeline()  # fmt: skip


def create_pipeline(**kwargs) -> Pipeline:
    return scoring_pipeline() + reporting_pipeline()
