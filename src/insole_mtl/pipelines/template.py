"""The run template: everything one run does after the subject split, composed from the stage pipelines.

``partition`` (windows -> train / val / test by subject) -> ``oversampling`` (Borderline-SMOTE on the
training windows) -> ``encoding`` (recurrence plots) -> ``training`` -> ``evaluation`` (test predictions,
metrics, task report, plots). Free inputs: ``windows``, ``window_labels`` (the windowing stage's output,
computed once) and ``subject_split`` (what the kind of run decides: the single run's split, a
cross-validation fold). ``insole_mtl`` is the template as is; ``insole_mtl_cv`` instantiates it once per
fold under the namespace ``cv.fold_<k>`` (kedro-viz collapses each), so a change to a stage changes every
kind of run.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from insole_mtl.pipelines import encoding, evaluation, oversampling, training
from insole_mtl.pipelines.windowing.pipeline import partition_pipeline

#: inputs a template instance takes from outside its namespace
SHARED_INPUTS: frozenset[str] = frozenset({"windows", "window_labels"})


def run_template() -> Pipeline:
    """Partition -> oversampling -> encoding -> training -> evaluation (see the module docstring)."""
    return (
        partition_pipeline()
        + oversampling.pipeline.create_pipeline()
        + encoding.pipeline.create_pipeline()
        + training.pipeline.create_pipeline()
        + evaluation.pipeline.create_pipeline()
    )


def template_parameters(pipeline: Pipeline) -> set[str]:
    """The ``params:`` inputs of ``pipeline``: shared by every instance (not namespaced)."""
    return {name for name in pipeline.inputs() if name.startswith("params:")}
