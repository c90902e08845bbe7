"""Encoding: per-split windows -> bit-packed recurrence plots (05_model_input). Training uses the oversampled windows."""

from kedro.pipeline import Pipeline, node

from .nodes import encode_windows

_SOURCES = {"train": "train_oversampled.windows", "val": "val.windows", "test": "test.windows"}


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                encode_windows,
                [source, "params:recurrence"],
                f"{split}.recurrence_plots",
                name=f"encode_{split}_recurrence_plots",
                tags=["encoding"],
            )
            for split, source in _SOURCES.items()
        ]
    )
