"""Ingest: source -> raw tables (01_raw) -> validated, resampled, labelled recordings (02_intermediate)."""

from kedro.pipeline import Pipeline, node

from .nodes import acquire_raw_cohort, prepare_recordings


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                acquire_raw_cohort,
                inputs=["raw_source", "params:synthetic"],
                outputs=["raw_recordings", "raw_recording_index", "raw_subjects", "source_drop_report"],
                name="acquire_raw_cohort",
                tags=["ingest"],
            ),
            node(
                prepare_recordings,
                inputs=[
                    "raw_recordings", "raw_recording_index", "raw_subjects", "source_drop_report",
                    "params:channels", "params:sampling", "params:tasks", "params:windowing",
                    "params:ingest",
                ],
                outputs=["recordings", "recording_labels", "subjects", "ingest_drop_report"],
                name="prepare_recordings",
                tags=["ingest"],
            ),
        ]
    )
