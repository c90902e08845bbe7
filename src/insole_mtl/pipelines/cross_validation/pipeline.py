"""``insole_mtl_cv``: K-fold cross-validation, every subject scored out of fold.

ingest -> windows (once) -> per fold ``cv.fold_<k>``: the fold's split + :func:`run_template` (partition,
oversampling, encoding, training, evaluation) -> gait features (once) -> the out-of-fold report.

K is fixed when the pipeline is built (:data:`N_FOLDS` = 5, one namespace per fold, each a collapsible
modular pipeline in kedro-viz); everything else is ``params:cv`` (``conf/base/parameters_cv.yml``).
"""

from __future__ import annotations

from functools import partial, update_wrapper
from typing import Any, Callable

from kedro.pipeline import Pipeline, node

from insole_mtl.pipelines.template import SHARED_INPUTS, run_template, template_parameters

from .nodes import compute_gait_features, report_cross_validation, split_fold

NAMESPACE = "cv"
#: number of folds (namespaces) of ``insole_mtl_cv``
N_FOLDS = 5


def fold_namespace(fold: int) -> str:
    """``cv.fold_<k>``."""
    return f"{NAMESPACE}.fold_{fold}"


def _bound(func: Callable[..., Any], **kwargs: Any) -> Callable[..., Any]:
    # kedro reads __name__ / __doc__ of node functions
    return update_wrapper(partial(func, **kwargs), func)


def fold_pipeline(fold: int, n_folds: int = N_FOLDS) -> Pipeline:
    """Fold ``fold``: its split (fold ``fold`` tested, the others trained on) and one run of the template."""
    split = Pipeline(
        [
            node(
                _bound(split_fold, fold=fold, n_folds=n_folds),
                ["recording_labels", "params:cv"],
                "subject_split",
                name="split_fold",
                tags=["split"],
            )
        ]
    )
    template = split + run_template()
    return Pipeline(
        template,
        namespace=fold_namespace(fold),
        inputs=set(SHARED_INPUTS) | {"recording_labels"},
        parameters=template_parameters(template),
        tags=["cross_validation"],
    )


def create_pipeline(n_folds: int = N_FOLDS, **kwargs: Any) -> Pipeline:
    """Every fold, the gait features and the report (without ingest and windowing)."""
    folds = [fold_pipeline(k, n_folds) for k in range(n_folds)]
    report = Pipeline(
        [
            node(
                compute_gait_features,
                ["recordings", "params:sampling", "params:cv"],
                "cv.gait_features",
                name="compute_gait_features",
            ),
            node(
                update_wrapper(partial(report_cross_validation, n_folds), report_cross_validation),
                [f"{fold_namespace(k)}.test.predictions" for k in range(n_folds)]
                + [f"{fold_namespace(k)}.subject_split" for k in range(n_folds)]
                + [f"{fold_namespace(k)}.training_summary" for k in range(n_folds)]
                + [
                    "windows", "window_labels", "cv.gait_features", "recording_labels",
                    "params:channels", "params:tasks", "params:reports", "params:cv",
                ],
                ["cross_validation", "cross_validation_predictions", "mlflow_cv_metrics"],
                name="report_cross_validation",
            ),
        ],
        tags=["cross_validation", "cross_validation_report"],
    )  # fmt: skip
    return Pipeline([*folds, report])
