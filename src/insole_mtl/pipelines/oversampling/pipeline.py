"""Oversampling: train windows -> class-balanced train windows (04_feature)."""

from kedro.pipeline import Pipeline, node

from .nodes import oversample_training_windows


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                oversample_training_windows,
                ["train.windows", "train.window_labels", "oversampling_config"],
                ["train_oversampled.windows", "train_oversampled.window_labels", "oversampling_report"],
                name="oversample_training_windows",
                tags=["oversampling"],
            )
        ]
    )
