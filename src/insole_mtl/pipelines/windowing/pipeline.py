"""Windowing: recordings -> windows (03_primary) -> per-split windows (04_feature)."""

from kedro.pipeline import Pipeline, node

from .nodes import SPLITS, partition_by_split, window_recordings


def window_pipeline() -> Pipeline:
    """Cut every labelled recording into windows (done once, shared by every run of a cross-validation)."""
    return Pipeline(
        [
            node(
                window_recordings,
                ["recordings", "recording_labels", "ingest_drop_report", "params:channels", "params:windowing"],
                ["windows", "window_labels", "drop_report"],
                name="window_recordings",
                tags=["windowing"],
            )
        ]
    )


def partition_pipeline() -> Pipeline:
    """Route the windows to the train / val / test split of their subject (the first node of a run)."""
    return Pipeline(
        [
            node(
                partition_by_split,
                ["windows", "window_labels", "subject_split"],
                [f"{split}.{item}" for split in SPLITS for item in ("windows", "window_labels")],
                name="partition_by_split",
                tags=["windowing"],
            )
        ]
    )


def create_pipeline(**kwargs) -> Pipeline:
    return window_pipeline() + partition_pipeline()
