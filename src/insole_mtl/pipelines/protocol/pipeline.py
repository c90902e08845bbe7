"""The paper's protocol as one Kedro pipeline: ingest -> protocol windows -> per fold data -> per run
training and evaluation -> tables and analyses.

Namespaces (kedro-viz collapses each):

* ``protocol`` — the protocol's windows (``protocol.overrides.windowing``), the shared test split and its
  recurrence plots, the aggregation and the analyses;
* ``protocol.<fold>`` — the :func:`fold_template`: subject split with that validation fold, partition,
  Borderline-SMOTE on its training windows, recurrence plots of its training and validation windows;
* ``protocol.<variant>.<fold>.<seed>`` — the :func:`run_template`: one variant trained with that fold and
  seed, evaluated on the shared test set, its efficiency measured, its results summarised.

Both templates are built once from the stage node functions and instantiated with
``Pipeline(template, namespace=..., inputs=..., parameters=...)``; a run's identity enters only through
its parameter mapping (``params:variant`` -> ``params:protocol_variants.<variant>``, ``params:fold`` ->
``params:protocol.folds.<fold>``, ``params:seed`` -> ``params:protocol.seeds.<seed>``).
"""

from __future__ import annotations

from functools import partial, update_wrapper

from kedro.pipeline import Pipeline, node

from insole_mtl.pipelines.encoding.nodes import encode_windows
from insole_mtl.pipelines.evaluation.nodes import compute_test_metrics
from insole_mtl.pipelines.oversampling.nodes import oversample_training_windows
from insole_mtl.pipelines.split.nodes import split_cohort_subjects
from insole_mtl.pipelines.training.nodes import train_multitask_model
from insole_mtl.pipelines.windowing.nodes import partition_by_split, window_recordings
from insole_mtl.protocol.design import ProtocolDesign, RunKey

from . import nodes
from .design_source import active_design

NAMESPACE = "protocol"
REPORTS = f"{NAMESPACE}.reports"
TEST = f"{NAMESPACE}.test"
_SPLITS = ("train", "val", "test")


def fold_namespace(fold_key: str) -> str:
    """``protocol.<fold_key>``."""
    return f"{NAMESPACE}.{fold_key}"


def run_namespace(run: RunKey) -> str:
    """``protocol.<variant>.<fold_key>.<seed_key>``."""
    return f"{NAMESPACE}.{run.name}"


def parse_run_namespace(namespace: str | None) -> tuple[str, str, str] | None:
    """``(variant, fold_key, seed_key)`` of a run namespace (or of a node inside one), else None."""
    if not namespace:
        return None
    parts = namespace.split(".")
    if len(parts) != 4 or parts[0] != NAMESPACE or parts[1] == "reports":
        return None
    return parts[1], parts[2], parts[3]


# ------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------
def shared_pipeline() -> Pipeline:
    """The protocol-wide configuration and windows (the windowing stage node with ``protocol.overrides.windowing``)."""
    template = Pipeline(
        [
            node(
                nodes.configure_protocol,
                ["params:model", "params:loss_weighting", "params:training", "params:evaluation", "params:tasks", "params:channels", "params:overrides"],
                ["run_defaults", "evaluation", "tasks", "channels"],
                name="configure_protocol",
            ),
            node(nodes.protocol_windowing, ["params:windowing", "params:overrides"], "windowing", name="configure_windowing"),
            node(nodes.protocol_recurrence, ["params:recurrence", "params:overrides"], "recurrence", name="configure_recurrence"),
            node(
                window_recordings,
                ["recordings", "recording_labels", "ingest_drop_report", "channels", "windowing"],
                ["windows", "window_labels", "drop_report"],
                name="window_recordings",
            ),
        ]
    )
    return Pipeline(
        template,
        namespace=NAMESPACE,
        inputs={"recordings", "recording_labels", "ingest_drop_report"},
        parameters={
            **{
                f"params:{name}": f"params:{name}"
                for name in ("model", "loss_weighting", "training", "evaluation", "tasks", "channels", "windowing", "recurrence")
            },
            "params:overrides": "params:protocol.overrides",
        },
    )


def fold_template() -> Pipeline:
    """Split, partition, oversample and encode for one validation fold (stage node functions)."""
    return Pipeline(
        [
            node(nodes.fold_split, ["params:split", "params:overrides", "params:fold"], "split", name="configure_split"),
            node(split_cohort_subjects, ["subjects", "split"], "subject_split", name="split_subjects"),
            node(
                partition_by_split,
                ["windows", "window_labels", "subject_split"],
                [f"{split}.{item}" for split in _SPLITS for item in ("windows", "window_labels")],
                name="partition_by_split",
            ),
            node(nodes.fold_oversampling, ["params:oversampling", "params:overrides"], "oversampling", name="configure_oversampling"),
            node(
                oversample_training_windows,
                ["train.windows", "train.window_labels", "oversampling"],
                ["train_oversampled.windows", "train_oversampled.window_labels", "oversampling_report"],
                name="oversample_training_windows",
            ),
            node(encode_windows, ["train_oversampled.windows", "recurrence"], "train.recurrence_plots", name="encode_train_recurrence_plots"),
            node(encode_windows, ["val.windows", "recurrence"], "val.recurrence_plots", name="encode_val_recurrence_plots"),
        ]
    )


def run_template() -> Pipeline:
    """Train one variant with one fold and seed, evaluate it on the test set, measure and summarise it."""
    return Pipeline(
        [
            node(
                nodes.configure_run,
                ["params:variant", "params:fold", "params:seed", "run_defaults"],
                ["model_config", "loss_weighting_config", "training_config", "evaluation_config", "run_info"],
                name="configure_run",
            ),
            node(
                train_multitask_model,
                [
                    "train_plots", "train_windows", "train_labels", "val_plots", "val_windows", "val_labels",
                    "channels", "tasks", "model_config", "loss_weighting_config", "training_config", "recurrence",
                ],
                ["trained_model", "mlflow_model", "training_history", "training_curves", "training_summary"],
                name="train_model",
            ),
            node(
                nodes.predict_windows,
                ["trained_model", "test_plots", "test_windows", "test_labels", "evaluation_config"],
                "test_predictions",
                name="predict_test_windows",
            ),
            node(
                compute_test_metrics,
                ["test_predictions", "baseline_labels", "tasks", "training_summary"],
                ["metrics", "mlflow_metrics"],
                name="compute_test_metrics",
            ),
            node(
                nodes.measure_run_efficiency,
                ["trained_model", "test_plots", "test_windows", "params:efficiency"],
                "efficiency",
                name="measure_efficiency",
            ),
            node(
                nodes.summarise_run,
                ["run_info", "model_config", "loss_weighting_config", "training_config", "metrics", "training_history", "efficiency"],
                "run_result",
                name="summarise_run",
            ),
        ]
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------
# Instantiation
# ------------------------------------------------------------------------------------------------
def fold_pipeline(fold_key: str, first: bool) -> Pipeline:
    """:func:`fold_template` for ``protocol.folds.<fold_key>``; the first fold also provides the shared test split."""
    outputs = {"test.windows": f"{TEST}.windows", "test.window_labels": f"{TEST}.window_labels"} if first else None
    return Pipeline(
        fold_template(),
        namespace=fold_namespace(fold_key),
        inputs={
            "subjects": "subjects",
            "windows": f"{NAMESPACE}.windows",
            "window_labels": f"{NAMESPACE}.window_labels",
            "recurrence": f"{NAMESPACE}.recurrence",
        },
        outputs=outputs,
        parameters={
            "params:split": "params:split",
            "params:overrides": "params:protocol.overrides",
            "params:fold": f"params:protocol.folds.{fold_key}",
            "params:oversampling": "params:oversampling",
        },
    )


def run_pipeline(run: RunKey, input_kind: str) -> Pipeline:
    """:func:`run_template` for one run; the model picks recurrence plots and/or raw windows (``input_kind``
    is kept for the caller's bookkeeping: every run gets both)."""
    fold = fold_namespace(run.fold_key)
    return Pipeline(
        run_template(),
        namespace=run_namespace(run),
        inputs={
            "train_plots": f"{fold}.train.recurrence_plots",
            "train_windows": f"{fold}.train_oversampled.windows",
            "train_labels": f"{fold}.train_oversampled.window_labels",
            "val_plots": f"{fold}.val.recurrence_plots",
            "val_windows": f"{fold}.val.windows",
            "val_labels": f"{fold}.val.window_labels",
            "baseline_labels": f"{fold}.train.window_labels",
            "test_plots": f"{TEST}.recurrence_plots",
            "test_windows": f"{TEST}.windows",
            "test_labels": f"{TEST}.window_labels",
            "run_defaults": f"{NAMESPACE}.run_defaults",
            "tasks": f"{NAMESPACE}.tasks",
            "channels": f"{NAMESPACE}.channels",
            "recurrence": f"{NAMESPACE}.recurrence",
        },
        parameters={
            "params:variant": f"params:protocol_variants.{run.variant}",
            "params:fold": f"params:protocol.folds.{run.fold_key}",
            "params:seed": f"params:protocol.seeds.{run.seed_key}",
            "params:efficiency": "params:protocol.efficiency",
        },
    )


def _named_partial(func, *args):  # noqa: ANN001, ANN202 - kedro reads __name__ / __doc__ of node functions
    bound = partial(func, *args)
    update_wrapper(bound, func)
    return bound


def reports_pipeline(design: ProtocolDesign) -> Pipeline:
    """Collect every run's result, build the tables, render them, and run the analyses."""
    runs = design.runs
    table_ids = ("III", "IV", "V", "VI", "A", "extras", "complexity")
    pipes = [
        node(
            _named_partial(nodes.collect_runs, runs),
            [f"{run_namespace(run)}.run_result" for run in runs],
            f"{REPORTS}.runs",
            name="collect_runs",
            namespace=NAMESPACE,
        ),
        node(
            nodes.build_tables,
            [f"{REPORTS}.runs", "params:protocol_tables"],
            {table: f"{REPORTS}.table_{table.lower()}" for table in table_ids},
            name="build_tables",
            namespace=NAMESPACE,
        ),
        node(
            _render,
            [f"{REPORTS}.table_{table.lower()}" for table in table_ids] + [f"{REPORTS}.runs"],
            f"{REPORTS}.paper_tables",
            name="render_tables",
            namespace=NAMESPACE,
        ),
        node(
            _summary,
            [f"{REPORTS}.table_{table.lower()}" for table in table_ids if table != "complexity"],
            f"{NAMESPACE}.summary_metrics",
            name="log_summary_metrics",
            namespace=NAMESPACE,
        ),
        node(
            nodes.fsr3_by_weight,
            [f"{NAMESPACE}.windows", f"{NAMESPACE}.window_labels", "subjects", f"{NAMESPACE}.channels", "params:protocol_analysis"],
            [f"{REPORTS}.fsr3_summary", f"{REPORTS}.fsr3_boxplots"],
            name="fsr3_by_weight",
            namespace=NAMESPACE,
        ),
        node(
            nodes.weight_random_forests,
            [
                f"{NAMESPACE}.windows", f"{NAMESPACE}.window_labels", f"{fold_namespace(design.folds[0][0])}.subject_split",
                f"{NAMESPACE}.channels", "params:protocol_analysis",
            ],
            [f"{REPORTS}.forest_importances", f"{REPORTS}.forest_scores", f"{REPORTS}.forest_importances_figure"],
            name="weight_random_forests",
            namespace=NAMESPACE,
        ),
    ]  # fmt: skip
    reference = design.reference_run
    if reference is not None:
        inputs = f"{TEST}.windows" if design.input_kind(reference.variant) == "raw" else f"{TEST}.recurrence_plots"
        model = f"{run_namespace(reference)}.trained_model"
        pipes += [
            node(
                nodes.embed_windows,
                [model, inputs, f"{NAMESPACE}.evaluation"],
                f"{NAMESPACE}.test_embedding",
                name="embed_test_windows",
                namespace=NAMESPACE,
            ),
            node(
                nodes.plot_embedding_tsne,
                [f"{NAMESPACE}.test_embedding", f"{TEST}.window_labels", f"{NAMESPACE}.tasks", "params:protocol_analysis"],
                [f"{REPORTS}.tsne_figure", f"{REPORTS}.tsne_coordinates"],
                name="plot_embedding_tsne",
                namespace=NAMESPACE,
            ),
        ]
    return Pipeline(pipes, tags=["protocol_reports"])


def _render(iii, iv, v, vi, a, extras, complexity, runs):  # noqa: ANN001, ANN202
    """All protocol tables as one Markdown report."""
    tables = dict(zip(("III", "IV", "V", "VI", "A", "extras", "complexity"), (iii, iv, v, vi, a, extras, complexity)))
    return nodes.render_tables(tables, runs)


def _summary(iii, iv, v, vi, a, extras):  # noqa: ANN001, ANN202
    """The table cells as MLflow metrics of the protocol run."""
    return nodes.protocol_summary_metrics(dict(zip(("III", "IV", "V", "VI", "A", "extras"), (iii, iv, v, vi, a, extras))))


def build_protocol_pipeline(design: ProtocolDesign) -> Pipeline:
    """The protocol pipeline of ``design`` (without ingest): windows, folds, runs, reports."""
    folds = [fold_pipeline(fold_key, i == 0) for i, (fold_key, _) in enumerate(design.folds)]
    test_encoding = Pipeline(
        [
            node(
                encode_windows,
                [f"{TEST}.windows", f"{NAMESPACE}.recurrence"],
                f"{TEST}.recurrence_plots",
                name="encode_recurrence_plots",
                namespace=TEST,
            )
        ]
    )
    runs = [run_pipeline(run, design.input_kind(run.variant)) for run in design.runs]
    return Pipeline([shared_pipeline(), *folds, test_encoding, *runs, reports_pipeline(design)], tags=["protocol"])


def create_pipeline(design: ProtocolDesign | None = None, **kwargs) -> Pipeline:
    """``insole_mtl_protocol`` without ingest, for the active environment's design (see design_source)."""
    return build_protocol_pipeline(design if design is not None else active_design())
