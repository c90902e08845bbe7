"""The protocol pipeline: one template per fold and per run, instantiated with namespaces (not copies)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._project import copy_project, kedro_environ

from insole_mtl.pipelines.encoding.nodes import encode_windows
from insole_mtl.pipelines.evaluation.nodes import compute_test_metrics, predict_test_windows
from insole_mtl.pipelines.oversampling.nodes import oversample_training_windows
from insole_mtl.pipelines.protocol.pipeline import build_protocol_pipeline, parse_run_namespace
from insole_mtl.pipelines.template import run_template
from insole_mtl.pipelines.training.nodes import train_multitask_model
from insole_mtl.pipelines.windowing.nodes import partition_by_split
from insole_mtl.protocol.design import DESIGNS, ProtocolDesign

ROOT = Path(__file__).resolve().parents[2]

DESIGN = ProtocolDesign(variants=("mtl", "lstm"), folds=("fold_0", "fold_3"), seeds=("seed_0", "seed_1"), reference_variant="mtl")

#: what one fold and one run contain (node names inside their namespace), written out: a change to the
#: run template shows up here
FOLD_NODES = [
    "configure_split", "encode_train_recurrence_plots", "encode_val_recurrence_plots", "oversample_training_windows",
    "partition_by_split", "split_subjects",
]  # fmt: skip
RUN_NODES = [
    "compute_test_metrics", "configure_run", "measure_efficiency", "predict_test_windows", "summarise_run",
    "train_multitask_model",
]  # fmt: skip
SHARED_NODES = [
    "build_tables", "collect_runs", "configure_protocol", "embed_test_windows", "encode_test_recurrence_plots",
    "fsr3_by_weight", "log_summary_metrics", "plot_embedding_tsne", "render_tables", "weight_random_forests",
    "window_recordings",
]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline():
    return build_protocol_pipeline(DESIGN)


def _names_in(pipeline, namespace):
    return sorted(n.name.rsplit(".", 1)[1] for n in pipeline.nodes if n.namespace == namespace)


def _node(pipeline, name):
    return next(n for n in pipeline.nodes if n.name == name)


def test_one_namespace_per_fold_and_per_run(pipeline):
    namespaces = {n.namespace for n in pipeline.nodes}
    runs = sorted(ns for ns in namespaces if parse_run_namespace(ns))
    assert runs == sorted(f"protocol.{v}.{f}.{s}" for v in ("mtl", "lstm") for f in ("fold_0", "fold_3") for s in ("seed_0", "seed_1"))
    assert namespaces == {"protocol", "protocol.fold_0", "protocol.fold_3", *runs}
    assert _names_in(pipeline, "protocol") == SHARED_NODES
    for fold in ("protocol.fold_0", "protocol.fold_3"):
        assert _names_in(pipeline, fold) == FOLD_NODES
    for run in runs:
        assert _names_in(pipeline, run) == RUN_NODES
    assert len(pipeline.nodes) == 11 + 2 * 6 + 8 * 6


def test_folds_and_runs_run_the_single_runs_stage_nodes(pipeline):
    single = {n.name: n.func for n in run_template().nodes}
    expected = {
        "partition_by_split": partition_by_split, "oversample_training_windows": oversample_training_windows,
        "encode_train_recurrence_plots": encode_windows, "train_multitask_model": train_multitask_model,
        "predict_test_windows": predict_test_windows, "compute_test_metrics": compute_test_metrics,
    }  # fmt: skip
    for name, func in expected.items():
        assert single[name] is func
        assert all(n.func is func for n in pipeline.nodes if n.name.endswith("." + name))


def test_parameters_are_read_once_and_runs_get_their_values_from_the_protocol(pipeline):
    configure = _node(pipeline, "protocol.lstm.fold_3.seed_1.configure_run")
    assert configure.inputs == ["protocol.run_defaults"]
    defaults = {
        "model": {"name": "mobilenetv2", "options": {}, "tasks": None}, "loss_weighting": {"method": "uncertainty"},
        "training": {"seed": 42}, "evaluation": {}, "task_names": ["activity"], "overrides": {},
        "folds": {"fold_0": 0, "fold_3": 3}, "seeds": {"seed_0": 0, "seed_1": 11},
        "variants": {"mtl": {}, "lstm": {"model": {"name": "lstm"}}},
    }  # fmt: skip
    model, _, training, _, info = configure.func(defaults)
    assert model["name"] == "lstm" and training["seed"] == 11 and (info["fold"], info["seed"]) == (3, 11)
    # the stage and protocol parameters are read once for the whole protocol, not once per run
    readers = sorted(n.name for n in pipeline.nodes if {"params:training", "params:protocol", "params:protocol_variants"} & set(n.inputs))
    assert readers == ["protocol.configure_protocol"]
    split = _node(pipeline, "protocol.fold_3.configure_split")
    assert split.inputs == ["params:split", "protocol.run_defaults"]
    assert split.func({"n_folds": 5, "seed": 1}, defaults) == {"n_folds": 5, "seed": 1, "val_fold": 3, "test_seed": 1}
    assert _node(pipeline, "protocol.fold_3.oversample_training_windows").inputs[2] == "protocol.oversampling_config"
    assert _node(pipeline, "protocol.fold_3.encode_train_recurrence_plots").inputs == [
        "protocol.fold_3.train_oversampled.windows", "protocol.recurrence_config", "protocol.encoding_model",
    ]  # fmt: skip


def test_models_read_their_input_kind_and_the_shared_test_set(pipeline):
    # every run gets the fold's plots AND raw windows; the model picks what it reads (model.input_names)
    for variant in ("mtl", "lstm"):
        train = _node(pipeline, f"protocol.{variant}.fold_3.seed_0.train_multitask_model")
        assert train.inputs == [
            "protocol.fold_3.train.recurrence_plots", "protocol.fold_3.train_oversampled.windows",
            "protocol.fold_3.train_oversampled.window_labels",
            "protocol.fold_3.val.recurrence_plots", "protocol.fold_3.val.windows", "protocol.fold_3.val.window_labels",
            "params:channels", "params:tasks", f"protocol.{variant}.fold_3.seed_0.model_config",
            f"protocol.{variant}.fold_3.seed_0.loss_weighting_config", f"protocol.{variant}.fold_3.seed_0.training_config",
            "protocol.recurrence_config", f"protocol.{variant}.fold_3.seed_0.training_checkpoints", "params:sampling",
        ]  # fmt: skip
    predict = _node(pipeline, "protocol.lstm.fold_0.seed_1.predict_test_windows")
    assert predict.inputs[1:4] == ["protocol.test.recurrence_plots", "protocol.test.windows", "protocol.test.window_labels"]
    metrics = _node(pipeline, "protocol.lstm.fold_0.seed_1.compute_test_metrics")
    assert metrics.inputs[1] == "protocol.fold_0.train.window_labels"  # the mean predictor of the run's own fold
    # only the first fold provides the shared test split; the others' copies stay in their namespace
    producers = {out: n.name for n in pipeline.nodes for out in n.outputs}
    assert producers["protocol.test.windows"] == "protocol.fold_0.partition_by_split"
    assert producers["protocol.test.recurrence_plots"] == "protocol.encode_test_recurrence_plots"
    assert "protocol.fold_3.test.windows" in producers


def test_reports_collect_every_run_and_embed_the_reference_run(pipeline):
    collect = _node(pipeline, "protocol.collect_runs")
    assert len(collect.inputs) == 8 and collect.inputs[0] == "protocol.mtl.fold_0.seed_0.run_result"
    embed = _node(pipeline, "protocol.embed_test_windows")
    assert embed.inputs == [
        "protocol.mtl.fold_0.seed_0.trained_model", "protocol.test.recurrence_plots", "protocol.test.windows", "protocol.evaluation",
    ]  # fmt: skip
    free = {ds for ds in pipeline.inputs() if not ds.startswith("params:")}
    checkpoints = {f"protocol.{run}.training_checkpoints" for run in (k.name for k in DESIGN.runs)}
    assert free == {"recordings", "recording_labels", "ingest_drop_report", "subjects"} | checkpoints


def test_registered_designs():
    small, paper, extras = (DESIGNS[name] for name in ("insole_mtl_protocol", "insole_mtl_protocol_paper", "insole_mtl_protocol_extras"))
    assert (len(small.variants), small.folds, small.seeds) == (9, ("fold_0", "fold_1"), ("seed_0",))
    assert (len(paper.runs), len(extras.runs)) == (19 * 25, 3 * 25)
    assert small.reference_run.name == "mtl_mobilenetv2.fold_0.seed_0" and extras.reference_run is None


def test_parse_run_namespace():
    assert parse_run_namespace("protocol.mtl.fold_0.seed_1") == ("mtl", "fold_0", "seed_1")
    for namespace in (None, "", "protocol", "protocol.fold_0", "protocol.test", "other.a.b.c", "protocol.reports.a.b"):
        assert parse_run_namespace(namespace) is None


DRY_RUN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from kedro.framework.project import pipelines
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    root = Path.cwd()
    bootstrap_project(root)
    out = {}
    for env, name in (("test", "insole_mtl_protocol"), ("paper", "insole_mtl_protocol_paper")):
        with KedroSession.create(project_path=root, env=env) as session:
            context = session.load_context()
            pipeline = pipelines[name]
            catalog = context.catalog
            kinds, unresolved = {}, []
            for name in sorted(pipeline.datasets()):
                if name.startswith("params:"):
                    if name not in catalog:
                        unresolved.append(name)
                    continue
                kind = type(catalog.get(name, fallback_to_runtime_pattern=True)).__name__
                kinds[name] = kind
            runs = {n.namespace for n in pipeline.nodes if n.namespace and n.namespace.count(".") == 3}
            out[env] = {"runs": len(runs), "kinds": kinds, "unresolved": unresolved, "inputs": sorted(pipeline.inputs())}
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    work = copy_project(tmp_path_factory.mktemp("dry"))
    env = kedro_environ()
    result = subprocess.run([sys.executable, "-c", DRY_RUN], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.e2e
@pytest.mark.parametrize(("env", "runs"), [("test", 18), ("paper", 19 * 25)])
def test_protocol_pipelines_resolve_every_dataset(dry_run, env, runs):
    """`kedro run --pipeline=insole_mtl_protocol_paper --env=paper` is valid configuration (checked without running)."""
    result = dry_run[env]
    assert result["runs"] == runs
    assert result["unresolved"] == []
    free = [name for name in result["inputs"] if not name.startswith("params:") and not name.endswith(".training_checkpoints")]
    assert free == ["raw_source"]
    kinds = result["kinds"]
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.training_checkpoints"] == "CheckpointDataset"
    assert kinds["protocol.test.recurrence_plots"] == "NumpyArrayDataset"
    assert kinds["protocol.fold_1.train.recurrence_plots"] == "NumpyArrayDataset"
    assert kinds["protocol.fold_1.test.windows"] == "DiscardDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.trained_model"] == "PickleDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.run_result"] == "JSONDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.mlflow_model"] == "DiscardDataset"
    assert kinds["protocol.reports.table_iii"] == "CSVDataset" and kinds["protocol.reports.paper_tables"] == "TextDataset"
    assert kinds["protocol.summary_metrics"] == "MlflowMetricsHistoryDataset"


@pytest.mark.e2e
def test_a_broken_protocol_configuration_fails_that_pipeline_only(tmp_path):
    work = copy_project(tmp_path / "project")
    conf = work / "conf" / "test" / "parameters_protocol.yml"
    conf.write_text(conf.read_text().replace("folds: {fold_0: 0, fold_1: 1}", "folds: {fold_0: 0}"))
    env = kedro_environ()
    single = subprocess.run(
        ["kedro", "run", "--pipelines=insole_mtl", "--env=test", "--to-nodes=split_subjects"],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert single.returncode == 0, single.stderr[-4000:]
    protocol = subprocess.run(
        ["kedro", "run", "--pipelines=insole_mtl_protocol", "--env=test"], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert protocol.returncode != 0
    last = [line for line in protocol.stderr.splitlines() if line.strip()][-1]
    assert last == "ValueError: protocol.folds lacks ['fold_1']: the pipeline's design runs ['fold_0', 'fold_1']"
    assert "Traceback" not in single.stderr
