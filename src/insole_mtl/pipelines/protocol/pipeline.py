"""The paper's protocol as Kedro pipelines: ingest -> protocol windows -> per fold the run template's data
half -> per run its model half -> tables and analyses.

Namespaces (kedro-viz collapses each):

* ``protocol`` — the protocol's configuration (``protocol.overrides`` on the stage parameters, checked
  against the design), its windows, the shared test split and its recurrence plots, the reports;
* ``protocol.<fold>`` — the fold's subject split (that validation fold, one test set for all) and
  :func:`insole_mtl.pipelines.template.data_template` (partition, Borderline-SMOTE, recurrence plots of
  the training and validation windows), shared by every variant and seed;
* ``protocol.<variant>.<fold>.<seed>`` — the run's configuration (its variant and seed) and
  :func:`insole_mtl.pipelines.template.model_template` (training, test predictions and metrics), then its
  efficiency and summary.

The run template is the single run's and the cross-validation's; the protocol only adds its own
configuration nodes (which produce the template's ``*_config`` datasets), efficiency and summaries. The
topology comes from a :class:`~insole_mtl.protocol.design.ProtocolDesign` (one per registered pipeline);
the values come from ``params:protocol`` and ``params:protocol_variants``, read once by ``configure_protocol``,
which checks them against the design (a missing fold, seed or variant is one clear error there) and hands
each fold and run its values through ``protocol.run_defaults``.
"""

from __future__ import annotations

from kedro.pipeline import Pipeline, node

from insole_mtl.pipelines.encoding.nodes import encode_windows
from insole_mtl.pipelines.split.nodes import split_cohort_subjects
from insole_mtl.pipelines.template import data_template, model_template, template_parameters
from insole_mtl.pipelines.windowing.nodes import window_recordings
from insole_mtl.protocol.design import ProtocolDesign, RunKey

from . import nodes

NAMESPACE = "protocol"
REPORTS = f"{NAMESPACE}.reports"
TEST = f"{NAMESPACE}.test"
#: the protocol-wide datasets a fold's data half reads (the protocol's overrides applied once)
_FOLD_CONFIG = {
    "oversampling_config": f"{NAMESPACE}.oversampling_config",
    "recurrence_config": f"{NAMESPACE}.recurrence_config",
    "model_config": f"{NAMESPACE}.encoding_model",  # {}: encode every fold for every variant
}


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


def _named_partial(func, *args):  # noqa: ANN001, ANN202
    """``func`` with its leading arguments bound (the design, the run keys), as a plain function named like
    ``func`` (kedro-viz shows its name and docstring). Not a ``functools.partial``: Kedro's parameter
    validation reads a node function's signature and type hints, which must be those of the node's inputs."""

    def bound(*inputs):  # noqa: ANN002, ANN202
        return func(*args, *inputs)

    bound.__name__, bound.__qualname__, bound.__doc__, bound.__module__ = func.__name__, func.__qualname__, func.__doc__, func.__module__
    return bound


# ------------------------------------------------------------------------------------------------
# Templates
# ------------------------------------------------------------------------------------------------
def shared_pipeline(design: ProtocolDesign) -> Pipeline:
    """The protocol-wide configuration (checked against ``design``), windows, and the shared test plots."""
    template = Pipeline(
        [
            node(
                _named_partial(nodes.configure_protocol, design),
                [
                    "params:protocol", "params:protocol_variants", "params:split", "params:windowing", "params:oversampling",
                    "params:recurrence", "params:model", "params:loss_weighting", "params:training", "params:evaluation",
                    "params:tasks",
                ],
                ["run_defaults", "windowing", "oversampling_config", "recurrence_config", "encoding_model", "evaluation"],
                name="configure_protocol",
            ),
            node(
                window_recordings,
                ["recordings", "recording_labels", "ingest_drop_report", "params:channels", "windowing"],
                ["windows", "window_labels", "drop_report"],
                name="window_recordings",
            ),
            node(
                encode_windows,
                ["test.windows", "recurrence_config", "encoding_model"],
                "test.recurrence_plots",
                name="encode_test_recurrence_plots",
            ),
        ]
    )  # fmt: skip
    return Pipeline(
        template,
        namespace=NAMESPACE,
        inputs={"recordings", "recording_labels", "ingest_drop_report"},
        parameters=template_parameters(template),
    )


def fold_template(fold_key: str) -> Pipeline:
    """One validation fold: its subject split, then the run template's data half (train and val plots)."""
    split = Pipeline(
        [
            node(_named_partial(nodes.fold_split, fold_key), ["params:split", "run_defaults"], "split", name="configure_split"),
            node(split_cohort_subjects, ["subjects", "split"], "subject_split", name="split_subjects"),
        ]
    )
    return split + data_template(splits=("train", "val"))


def run_template(run: RunKey) -> Pipeline:
    """One run: its configuration, the run template's model half, its efficiency and summary."""
    configure = Pipeline(
        [
            node(
                _named_partial(nodes.configure_protocol_run, run),
                ["run_defaults"],
                ["model_config", "loss_weighting_config", "training_config", "evaluation_config", "run_info"],
                name="configure_run",
            )
        ]
    )
    measure = Pipeline(
        [
            node(
                nodes.measure_run_efficiency,
                ["trained_model", "test.recurrence_plots", "test.windows", "params:efficiency"],
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
    return configure + model_template() + measure


# ------------------------------------------------------------------------------------------------
# Instantiation
# ------------------------------------------------------------------------------------------------
def fold_pipeline(fold_key: str, first: bool) -> Pipeline:
    """:func:`fold_template` for ``protocol.folds.<fold_key>``; the first fold also provides the shared test split."""
    outputs = {"test.windows": f"{TEST}.windows", "test.window_labels": f"{TEST}.window_labels"} if first else None
    template = fold_template(fold_key)
    return Pipeline(
        template,
        namespace=fold_namespace(fold_key),
        inputs={
            "subjects": "subjects",
            "windows": f"{NAMESPACE}.windows",
            "window_labels": f"{NAMESPACE}.window_labels",
            "run_defaults": f"{NAMESPACE}.run_defaults",
            **_FOLD_CONFIG,
        },
        outputs=outputs,
        parameters={name: name for name in template_parameters(template)},
    )


def run_pipeline(run: RunKey) -> Pipeline:
    """:func:`run_template` for one run: the fold's training data, the shared test split."""
    fold = fold_namespace(run.fold_key)
    template = run_template(run)
    return Pipeline(
        template,
        namespace=run_namespace(run),
        inputs={
            "train.recurrence_plots": f"{fold}.train.recurrence_plots",
            "train_oversampled.windows": f"{fold}.train_oversampled.windows",
            "train_oversampled.window_labels": f"{fold}.train_oversampled.window_labels",
            "val.recurrence_plots": f"{fold}.val.recurrence_plots",
            "val.windows": f"{fold}.val.windows",
            "val.window_labels": f"{fold}.val.window_labels",
            "train.window_labels": f"{fold}.train.window_labels",
            "test.recurrence_plots": f"{TEST}.recurrence_plots",
            "test.windows": f"{TEST}.windows",
            "test.window_labels": f"{TEST}.window_labels",
            "run_defaults": f"{NAMESPACE}.run_defaults",
            "recurrence_config": f"{NAMESPACE}.recurrence_config",
        },
        parameters={
            **{name: name for name in template_parameters(template)},
            "params:efficiency": "params:protocol.efficiency",
        },
    )


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
            [f"{NAMESPACE}.windows", f"{NAMESPACE}.window_labels", "subjects", "params:channels", "params:protocol_analysis"],
            [f"{REPORTS}.fsr3_summary", f"{REPORTS}.fsr3_boxplots"],
            name="fsr3_by_weight",
            namespace=NAMESPACE,
        ),
        node(
            nodes.weight_random_forests,
            [
                f"{NAMESPACE}.windows", f"{NAMESPACE}.window_labels", f"{fold_namespace(design.folds[0])}.subject_split",
                "params:channels", "params:protocol_analysis",
            ],
            [f"{REPORTS}.forest_importances", f"{REPORTS}.forest_scores", f"{REPORTS}.forest_importances_figure"],
            name="weight_random_forests",
            namespace=NAMESPACE,
        ),
    ]  # fmt: skip
    reference = design.reference_run
    if reference is not None:
        model = f"{run_namespace(reference)}.trained_model"
        pipes += [
            node(
                nodes.embed_windows,
                [model, f"{TEST}.recurrence_plots", f"{TEST}.windows", f"{NAMESPACE}.evaluation"],
                f"{NAMESPACE}.test_embedding",
                name="embed_test_windows",
                namespace=NAMESPACE,
            ),
            node(
                nodes.plot_embedding_tsne,
                [f"{NAMESPACE}.test_embedding", f"{TEST}.window_labels", "params:tasks", "params:protocol_analysis"],
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
    """The protocol pipeline of ``design`` (without ingest): configuration and windows, folds, runs, reports."""
    folds = [fold_pipeline(fold_key, i == 0) for i, fold_key in enumerate(design.folds)]
    runs = [run_pipeline(run) for run in design.runs]
    return Pipeline([shared_pipeline(design), *folds, *runs, reports_pipeline(design)], tags=["protocol"])


def create_pipeline(design: ProtocolDesign, **kwargs) -> Pipeline:
    """A protocol pipeline without ingest (``insole_mtl.protocol.design.DESIGNS`` names the registered ones)."""
    return build_protocol_pipeline(design)
