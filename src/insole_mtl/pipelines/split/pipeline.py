"""Split: subjects -> train / val / test subject table (03_primary)."""

from kedro.pipeline import Pipeline, node

from .nodes import split_cohort_subjects


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [node(split_cohort_subjects, ["subjects", "params:split"], "subject_split", name="split_subjects", tags=["split"])]
    )
