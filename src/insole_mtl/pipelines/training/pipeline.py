"""Training: recurrence plots + labels -> trained multitask model (06_models, MLflow model) and curves."""

from kedro.pipeline import Pipeline, node

from .nodes import train_multitask_model


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                train_multitask_model,
                inputs=[
                    "train.recurrence_plots", "train_oversampled.window_labels",
                    "val.recurrence_plots", "val.window_labels",
                    "params:channels", "params:tasks", "params:model", "params:loss_weighting", "params:training",
                ],
                outputs=["trained_model", "mlflow_model", "training_history", "training_curves"],
                name="train_multitask_model",
                tags=["training"],
            )
        ]
    )
