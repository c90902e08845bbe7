"""Encoding: per-split windows -> recurrence plots (05_model_input). Training uses the oversampled windows.

Bit-packed 160 x 160 plots (the paper) or recurrence counts at ``recurrence.resolution``; a model that
reads raw windows only gets an empty array (nothing is encoded).
"""

from kedro.pipeline import Pipeline, node

from .nodes import encode_windows

_SOURCES = {"train": "train_oversampled.windows", "val": "val.windows", "test": "test.windows"}


def create_pipeline(splits: tuple[str, ...] = tuple(_SOURCES), **kwargs) -> Pipeline:
    """One encoding node per split of ``splits`` (the protocol encodes its shared test split once, apart)."""
    return Pipeline(
        [
            node(
                encode_windows,
                [_SOURCES[split], "recurrence_config", "model_config"],
                f"{split}.recurrence_plots",
                name=f"encode_{split}_recurrence_plots",
                tags=["encoding"],
            )
            for split in splits
        ]
    )
