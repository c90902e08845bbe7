"""The protocol pipeline: one template per fold and per run, instantiated with namespaces (not copies)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ._project import copy_project, kedro_environ

from insole_mtl.pipelines.evaluation.nodes import compute_test_metrics
from insole_mtl.pipelines.protocol.pipeline import (
    build_protocol_pipeline,
    fold_template,
    parse_run_namespace,
    run_template,
)
from insole_mtl.pipelines.split.nodes import split_cohort_subjects
from insole_mtl.pipelines.training.nodes import train_multitask_model
from insole_mtl.protocol.design import ProtocolDesign

ROOT = Path(__file__).resolve().parents[2]

DESIGN = ProtocolDesign(
    folds=(("fold_0", 0), ("fold_3", 3)),
    seeds=(("seed_0", 0), ("seed_1", 11)),
    variants=("mtl", "lstm"),
    reference_variant="mtl",
    input_kinds=(("mtl", "recurrence_plot"), ("lstm", "raw")),
)


@pytest.fixture(scope="module")
def pipeline():
    return build_protocol_pipeline(DESIGN)


def _namespace_nodes(pipeline, namespace):
    return [n for n in pipeline.nodes if n.namespace == namespace]


def test_one_namespace_per_fold_and_per_run(pipeline):
    namespaces = {n.namespace for n in pipeline.nodes}
    runs = sorted(ns for ns in namespaces if parse_run_namespace(ns))
    assert runs == sorted(f"protocol.{v}.{f}.{s}" for v in ("mtl", "lstm") for f in ("fold_0", "fold_3") for s in ("seed_0", "seed_1"))
    assert {"protocol", "protocol.fold_0", "protocol.fold_3", "protocol.test"} <= namespaces
    assert len(pipeline.nodes) == 4 + 2 * len(fold_template().nodes) + 1 + 8 * len(run_template().nodes) + 8


def test_every_run_reuses_the_template_and_the_stage_node_functions(pipeline):
    template = [n.func for n in run_template().nodes]
    for ns in {n.namespace for n in pipeline.nodes if parse_run_namespace(n.namespace)}:
        nodes = _namespace_nodes(pipeline, ns)
        assert sorted(n.name.rsplit(".", 1)[1] for n in nodes) == sorted(n.name for n in run_template().nodes)
        assert {n.func for n in nodes} == set(template)
    assert train_multitask_model in template and compute_test_metrics in template
    assert split_cohort_subjects in [n.func for n in fold_template().nodes]


def test_run_identity_enters_through_the_parameter_mapping(pipeline):
    configure = next(n for n in pipeline.nodes if n.name == "protocol.lstm.fold_3.seed_1.configure_run")
    assert configure.inputs == [
        "params:protocol_variants.lstm", "params:protocol.folds.fold_3", "params:protocol.seeds.seed_1", "protocol.run_defaults",
    ]  # fmt: skip
    # the stage parameters are read once for the whole protocol, not once per run
    readers = [n.name for n in pipeline.nodes if "params:training" in n.inputs or "params:tasks" in n.inputs]
    assert readers == ["protocol.configure_protocol"]
    split = next(n for n in pipeline.nodes if n.name == "protocol.fold_3.configure_split")
    assert split.inputs == ["params:split", "params:protocol.overrides", "params:protocol.folds.fold_3"]


def test_models_read_their_input_kind_and_the_shared_test_set(pipeline):
    # every run gets the fold's plots AND raw windows; the model picks what it reads (model.input_names)
    for variant in ("mtl", "lstm"):
        train = next(n for n in pipeline.nodes if n.name == f"protocol.{variant}.fold_3.seed_0.train_model")
        assert train.inputs[:6] == [
            "protocol.fold_3.train.recurrence_plots", "protocol.fold_3.train_oversampled.windows",
            "protocol.fold_3.train_oversampled.window_labels",
            "protocol.fold_3.val.recurrence_plots", "protocol.fold_3.val.windows", "protocol.fold_3.val.window_labels",
        ]  # fmt: skip
    predict = next(n for n in pipeline.nodes if n.name == "protocol.lstm.fold_0.seed_1.predict_test_windows")
    assert predict.inputs[1:4] == ["protocol.test.recurrence_plots", "protocol.test.windows", "protocol.test.window_labels"]
    # only the first fold provides the shared test split; the others' copies stay in their namespace
    producers = {out: n.name for n in pipeline.nodes for out in n.outputs}
    assert producers["protocol.test.windows"] == "protocol.fold_0.partition_by_split"
    assert "protocol.fold_3.test.windows" in producers


def test_reports_collect_every_run_and_embed_the_reference_run(pipeline):
    collect = next(n for n in pipeline.nodes if n.name == "protocol.collect_runs")
    assert len(collect.inputs) == 8 and collect.inputs[0] == "protocol.mtl.fold_0.seed_0.run_result"
    embed = next(n for n in pipeline.nodes if n.name == "protocol.embed_test_windows")
    assert embed.inputs[:2] == ["protocol.mtl.fold_0.seed_0.trained_model", "protocol.test.recurrence_plots"]
    assert pipeline.inputs() >= {"recordings", "subjects"}
    assert not any(ds.startswith("protocol.") for ds in pipeline.inputs())


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
    for env in ("test", "paper"):
        with KedroSession.create(project_path=root, env=env) as session:
            context = session.load_context()
            pipeline = pipelines["insole_mtl_protocol"]
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
def test_environments_build_their_own_protocol_and_every_dataset_resolves(dry_run, env, runs):
    """`kedro run --pipeline=insole_mtl_protocol --env=paper` is valid configuration (checked without running)."""
    result = dry_run[env]
    assert result["runs"] == runs
    assert result["unresolved"] == []
    assert [name for name in result["inputs"] if not name.startswith("params:")] == ["raw_source"]
    kinds = result["kinds"]
    assert kinds["protocol.test.recurrence_plots"] == "NumpyArrayDataset"
    assert kinds["protocol.fold_1.train.recurrence_plots"] == "NumpyArrayDataset"
    assert kinds["protocol.fold_1.test.windows"] == "DiscardDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.trained_model"] == "PickleDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.run_result"] == "JSONDataset"
    assert kinds["protocol.mtl_mobilenetv2.fold_1.seed_0.mlflow_model"] == "DiscardDataset"
    assert kinds["protocol.reports.table_iii"] == "CSVDataset" and kinds["protocol.reports.paper_tables"] == "TextDataset"
    assert kinds["protocol.summary_metrics"] == "MlflowMetricsHistoryDataset"


def test_design_source_reads_the_environment_and_reports_a_changed_design():
    from insole_mtl.pipelines.protocol.design_source import _DesignSource, load_parameters_from_disk

    test_params = load_parameters_from_disk(ROOT, env="test")
    paper_params = load_parameters_from_disk(ROOT, env="paper")
    source = _DesignSource()
    assert source.activate(test_params, "test") is False  # nothing built yet
    assert len(source.design().runs) == 18
    assert source.activate(test_params, "test") is False  # same design: keep the pipelines
    assert source.activate(paper_params, "paper") is True  # the registry must rebuild
    assert len(source.design().runs) == 475
