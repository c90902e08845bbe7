"""Training: recurrence plots and/or raw windows + labels -> trained multitask model (06_models, MLflow model),
curves and a training summary (device and precision actually used)."""

from kedro.pipeline import Pipeline, node

from .nodes import train_multitask_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                train_multitask_model,
                inputs=[
                    "train.recurrence_plots", "train_oversampled.windows", "train_oversampled.window_labels",
                    "val.recurrence_plots", "val.windows", "val.window_labels",
                    "params:channels", "params:tasks", "model_config", "loss_weighting_config", "training_config",
                    "recurrence_config", "training_checkpoints", "params:sampling",
                ],
                outputs=["trained_model", "mlflow_model", "training_history", "training_curves", "training_summary"],
                name="train_multitask_model",
                tags=["training"],
            )
        ]
    )  # fmt: skip
