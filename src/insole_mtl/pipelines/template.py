"""The run template: everything one run does after the subject split, composed from the stage pipelines.

``run_config`` (the stage parameters as ``*_config`` datasets) -> ``partition`` (windows -> train / val /
test by subject) -> ``oversampling`` (Borderline-SMOTE on the training windows) -> ``encoding`` (recurrence
plots) -> ``training`` -> ``evaluation`` (test predictions, metrics; task report and plots).

Every kind of run is an instance of these pieces, so a change to a stage changes every kind of run:

* ``insole_mtl``: :func:`run_template` as is (free inputs ``windows``, ``window_labels``, ``subject_split``);
* ``insole_mtl_cv``: :func:`run_template` once per fold under the namespace ``cv.fold_<k>``;
* ``insole_mtl_protocol*``: :func:`data_template` once per validation fold (``protocol.<fold>``; the
  fold's windows and plots are shared by every variant and seed) and :func:`model_template` once per run
  (``protocol.<variant>.<fold>.<seed>``), each configured by the protocol's own nodes, which produce the
  same ``*_config`` datasets.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from insole_mtl.pipelines import encoding, evaluation, oversampling, run_config, training
from insole_mtl.pipelines.windowing.pipeline import partition_pipeline

#: inputs a template instance takes from outside its namespace
SHARED_INPUTS: frozenset[str] = frozenset({"windows", "window_labels"})


def data_template(splits: tuple[str, ...] = ("train", "val", "test")) -> Pipeline:
    """Partition -> oversampling -> encoding of ``splits`` (reads ``oversampling_config``, ``recurrence_config``, ``model_config``)."""
    return partition_pipeline() + oversampling.pipeline.create_pipeline() + encoding.pipeline.create_pipeline(splits)


def model_template() -> Pipeline:
    """Training -> test predictions and metrics (reads ``model_config``, ``loss_weighting_config``,
    ``training_config``, ``recurrence_config``, ``evaluation_config``)."""
    return training.pipeline.create_pipeline() + evaluation.pipeline.scoring_pipeline()


def run_template() -> Pipeline:
    """One whole run: configuration, data, model, and its task report and plots (see the module docstring)."""
    return run_config.pipeline.create_pipeline() + data_template() + model_template() + evaluation.pipeline.reporting_pipeline()


def template_parameters(pipeline: Pipeline) -> set[str]:
    """The ``params:`` inputs of ``pipeline``: shared by every instance (not namespaced)."""
    return {name for name in pipeline.inputs() if name.startswith("params:")}
