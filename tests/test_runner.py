"""DaskRunner on small pipelines: settings and their error messages, the local cluster's worker specs, and
runs on a 2-worker cluster on 127.0.0.1 (one worker advertising a ``GPU`` resource) compared with
SequentialRunner: hooks in the driver, in-memory hand-overs persisted, before_node_run overrides, torch
threads, GPU routing, retries, a failing node, and workers killed mid-node.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import dask
import pytest
from distributed import Scheduler, SpecCluster
from distributed.scheduler import KilledWorker
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Pipeline, node
from kedro.runner import SequentialRunner
from kedro_datasets.pickle import PickleDataset

from _dask_helpers import (
    KillWorkerHoldingResult,
    OverrideInput,
    Recorder,
    always_die,
    always_fail,
    die_once,
    fail_once,
    finish_once_slowly,
    make_numbers,
    placement,
    scale,
    total,
)
from insole_mtl.runner import DaskRunner, DaskSettings, local_worker_specs

NODES = ["make_numbers", "scale", "total", "train_model"]


# -- settings ------------------------------------------------------------------------------------------
def test_settings_error_messages_name_the_key():
    with pytest.raises(ValueError, match=re.escape(
        "params dask.address = 'localhost:8786'; expected a scheduler address such as 'tcp://10.0.0.1:8786' "
        "(schemes tcp, tls, ws, wss, ucx, inproc) or null for a local cluster"
    )):  # fmt: skip
        DaskSettings.from_mapping({"address": "localhost:8786"})
    with pytest.raises(ValueError, match=re.escape("params dask: unknown key(s) ['workers']; expected some of [")):
        DaskSettings.from_mapping({"workers": 4})
    with pytest.raises(ValueError, match=re.escape("params dask.n_workers = 0; expected an integer >= 1")):
        DaskSettings.from_mapping({"n_workers": 0})
    with pytest.raises(ValueError, match=re.escape("params dask.load_inputs = 'both'; expected one of ['worker', 'driver']")):
        DaskSettings.from_mapping({"load_inputs": "both"})
    with pytest.raises(ValueError, match=re.escape("params dask.gpu = 'yes'; expected one of ['auto', true, false]")):
        DaskSettings.from_mapping({"gpu": "yes"})
    with pytest.raises(ValueError, match=re.escape("runner params: unknown key(s) ['max_workers']; expected some of [")):
        DaskRunner(max_workers=2)
    settings = DaskSettings.from_mapping({"address": "tcp://10.0.0.1:8786", "gpu_tags": "train", "threads_per_worker": 2})
    assert settings.gpu_tags == ("train",) and settings.threads_for_torch == 2


def test_the_shipped_parameters_are_valid_settings():
    import yaml

    conf = yaml.safe_load((Path(__file__).resolve().parents[1] / "conf" / "base" / "parameters_dask.yml").read_text())
    conf["dask"]["scratch_dir"] = "data/.dask_scratch"  # ${globals:...} is resolved by Kedro's config loader
    settings = DaskSettings.from_mapping(conf["dask"])
    assert settings.address is None and settings.n_workers == 2 and settings.threads_for_torch == 1
    assert settings.gpu == "auto" and "train_model" in settings.gpu_nodes


def test_local_worker_specs_give_one_gpu_per_worker_and_pin_the_threads():
    specs = local_worker_specs(DaskSettings(n_workers=3, threads_per_worker=2), n_gpus=2)
    options = [specs[f"worker-{i}"]["options"] for i in range(3)]
    assert [o.get("resources") for o in options] == [{"GPU": 1}, {"GPU": 1}, None]
    assert [o["env"].get("CUDA_VISIBLE_DEVICES") for o in options] == ["0", "1", None]
    assert {o["env"]["OMP_NUM_THREADS"] for o in options} == {"2"} and {o["nthreads"] for o in options} == {2}
    assert {o["host"] for o in options} == {"127.0.0.1"}


def test_an_unreachable_scheduler_is_reported_with_its_address(tmp_path):
    runner = DaskRunner(address="tcp://127.0.0.1:9", connect_timeout_s=1.0)  # port 9 (discard): nothing listens
    catalog, pipeline = _catalog(tmp_path), _pipeline()
    with pytest.raises(RuntimeError, match=re.escape(
        "params dask.address = 'tcp://127.0.0.1:9': no dask scheduler reachable within 1 s"
    )):  # fmt: skip
        runner.run(pipeline, catalog, _create_hook_manager())


def test_generator_nodes_are_refused(tmp_path):
    def chunks(n):
        yield from range(n)

    pipeline = Pipeline([node(chunks, "params:n", "chunks", name="chunks")])
    with pytest.raises(ValueError, match=re.escape("DaskRunner cannot run generator nodes (their outputs are streamed, not returned): ['chunks']")):
        DaskRunner(address="tcp://127.0.0.1:9").run(pipeline, _catalog(tmp_path), _create_hook_manager())


# -- runs on a cluster ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    """2 worker processes on 127.0.0.1, worker-0 with a GPU resource; a node may cause 1 worker death."""
    settings = DaskSettings(n_workers=2, threads_per_worker=1)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        spec = SpecCluster(
            workers=local_worker_specs(settings, n_gpus=1),
            scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard": False, "dashboard_address": None}},
            silence_logs=logging.WARNING,
        )
    yield spec
    spec.close()


def _catalog(folder: Path) -> DataCatalog:
    folder.mkdir(parents=True, exist_ok=True)
    return DataCatalog(
        datasets={
            "numbers": PickleDataset(filepath=str(folder / "numbers.pkl")),
            "total": PickleDataset(filepath=str(folder / "total.pkl")),
            "checked": PickleDataset(filepath=str(folder / "checked.pkl")),
            "params:n": MemoryDataset(5),
            "params:factor": MemoryDataset(3),
            "params:marker": MemoryDataset(str(folder / "marker")),
        }
    )


def _pipeline(*extra) -> Pipeline:
    """make_numbers -> numbers (file) -> scale -> scaled (memory) -> total (file); train_model (tag training) -> where."""
    return Pipeline([
        node(make_numbers, "params:n", "numbers", name="make_numbers"),
        node(scale, ["numbers", "params:factor"], "scaled", name="scale"),
        node(total, "scaled", "total", name="total"),
        node(placement, "numbers", "where", name="train_model", tags=["training"]),
        *extra,
    ])  # fmt: skip


def _run(runner, pipeline, catalog, *hooks):
    manager = _create_hook_manager()
    for hook in hooks:
        manager.register(hook)
    return runner.run(pipeline, catalog, manager, run_id="test-run")


def _dask(cluster, tmp_path, **overrides) -> DaskRunner:
    return DaskRunner(address=cluster.scheduler_address, scratch_dir=str(tmp_path / "scratch"), **overrides)


def test_same_outputs_as_sequential_with_every_hook_in_the_driver(cluster, tmp_path, caplog):
    sequential = _catalog(tmp_path / "seq")
    _run(SequentialRunner(), _pipeline(), sequential)
    catalog, recorder, runner = _catalog(tmp_path / "dask"), Recorder(), _dask(cluster, tmp_path)
    with caplog.at_level(logging.INFO, logger="insole_mtl.runner"):
        result = _run(runner, _pipeline(), catalog, recorder)

    assert catalog.load("total") == sequential.load("total") == 3 * sum(range(5))
    assert catalog.load("numbers") == sequential.load("numbers")
    where = result["where"].load()
    assert where["pid"] != os.getpid() and where["n"] == 5  # the node ran on a worker...
    assert {pid for _, _, pid, _ in recorder.calls} == {os.getpid()}  # ... every hook in the driver
    assert sorted(recorder.names("before_node_run")) == sorted(recorder.names("after_node_run")) == sorted(NODES)
    assert recorder.names("on_node_error") == []
    assert recorder.payloads("after_node_run", "total") == [{"total": 30}]
    assert sorted(recorder.names("after_dataset_saved")) == ["numbers", "scaled", "total", "where"]
    # parameters are loaded in the driver (the hooks see them), files on the workers (the hooks don't)
    assert recorder.payloads("before_node_run", "scale") == [{"params:factor": 3}]
    assert sorted(recorder.names("before_dataset_loaded")) == ["numbers", "numbers", "params:factor", "params:n", "scaled"]
    assert sorted(recorder.names("after_dataset_loaded")) == ["params:factor", "params:n"]
    # the in-memory hand-over scale -> total went through a scratch pickle, removed at the end of the run
    scratch = tmp_path / "scratch" / "test-run"
    assert runner.memory_persisted == {"scaled": str(scratch / "scaled.pkl")}
    assert not scratch.exists()
    messages = [r.getMessage() for r in caplog.records]
    assert f"dask: 1 in-memory dataset(s) handed between nodes are persisted (not kept together) under {scratch}, so their consumers can run on any worker: scaled" in messages
    assert any(m.startswith("dask: completed ") and "; 4/4 nodes (100%), 0 in flight, elapsed " in m for m in messages)


def test_training_nodes_request_the_gpu_worker_and_torch_threads_follow_the_settings(cluster, tmp_path):
    trainings = [node(placement, "numbers", f"where_{i}", name=f"fold_{i}.train_model") for i in range(3)]
    runner = _dask(cluster, tmp_path, torch_threads=2)
    result = _run(runner, _pipeline(*trainings), _catalog(tmp_path / "gpu"))
    assert sorted(runner.gpu_nodes) == ["fold_0.train_model", "fold_1.train_model", "fold_2.train_model", "train_model"]
    placed = [result[name].load() for name in ("where", "where_0", "where_1", "where_2")]
    assert {p["worker"] for p in placed} == {"worker-0"}  # the only worker with a GPU resource
    assert {p["torch_threads"] for p in placed} == {2}

    runner = _dask(cluster, tmp_path, gpu=False, torch_threads=1)  # back to one thread, no GPU request
    result = _run(runner, _pipeline(), _catalog(tmp_path / "cpu"))
    assert runner.gpu_nodes == [] and result["where"].load()["torch_threads"] == 1
    assert runner.torch_threads == 1 and _dask(cluster, tmp_path).torch_threads is None  # yours: untouched by default


def test_the_scheduler_address_comes_from_the_dask_parameters(cluster, tmp_path):
    catalog = _catalog(tmp_path / "params")
    catalog["params:dask"] = MemoryDataset({"address": cluster.scheduler_address, "scratch_dir": str(tmp_path / "s")})
    runner = DaskRunner()
    _run(runner, _pipeline(), catalog)
    assert runner.settings.address == cluster.scheduler_address and catalog.load("total") == 30
    catalog["params:dask"] = MemoryDataset({"address": "127.0.0.1:8786"})
    with pytest.raises(ValueError, match=re.escape("params dask.address = '127.0.0.1:8786'; expected a scheduler address")):
        _run(DaskRunner(), _pipeline(), catalog)
    # --runner-params win over the parameters
    _run(runner := DaskRunner(address=cluster.scheduler_address, scratch_dir=str(tmp_path / "s")), _pipeline(), catalog)
    assert runner.settings.address == cluster.scheduler_address


def test_runs_without_a_hook_manager(cluster, tmp_path):
    catalog = _catalog(tmp_path / "no_hooks")
    _dask(cluster, tmp_path).run(_pipeline(), catalog)
    assert catalog.load("total") == 30


def test_load_inputs_driver_gives_the_hooks_every_input(cluster, tmp_path):
    recorder = Recorder()
    catalog = _catalog(tmp_path / "driver")
    _run(_dask(cluster, tmp_path, load_inputs="driver"), _pipeline(), catalog, recorder)
    assert recorder.payloads("before_node_run", "scale") == [{"numbers": [0, 1, 2, 3, 4], "params:factor": 3}]
    assert recorder.payloads("after_dataset_loaded", "scaled") == [[0, 3, 6, 9, 12]]
    assert catalog.load("total") == 30


def test_a_before_node_run_override_reaches_the_worker(cluster, tmp_path):
    catalog = _catalog(tmp_path / "override")
    _run(_dask(cluster, tmp_path), _pipeline(), catalog, OverrideInput())
    assert catalog.load("total") == 3 * (100 + 200)


def test_a_node_that_raised_is_retried_and_its_hooks_run_once(cluster, tmp_path):
    flaky = node(fail_once, ["numbers", "params:marker"], "checked", name="fail_once")
    catalog, recorder = _catalog(tmp_path / "retry"), Recorder()
    _run(_dask(cluster, tmp_path, retries=1), _pipeline(flaky), catalog, recorder)
    assert catalog.load("checked") == 5 and Path(catalog.load("params:marker")).exists()  # it did fail once
    assert recorder.names("after_node_run").count("fail_once") == 1 and recorder.names("on_node_error") == []


def test_a_failing_node_reports_its_error_once_and_saves_nothing(cluster, tmp_path):
    broken = node(always_fail, "numbers", "checked", name="always_fail")
    catalog, recorder = _catalog(tmp_path / "fail"), Recorder()
    with pytest.raises(ValueError, match=re.escape("always_fail: 5 numbers, no result")):
        _run(_dask(cluster, tmp_path, retries=1), _pipeline(broken), catalog, recorder)
    assert recorder.names("on_node_error") == ["always_fail"]
    assert "always_fail" not in recorder.names("after_node_run") and not catalog.exists("checked")
    assert not (tmp_path / "scratch" / "test-run").exists()


def test_a_worker_killed_mid_node_is_survived_without_duplicate_hooks(cluster, tmp_path):
    victim = node(die_once, ["numbers", "params:marker"], "checked", name="die_once")
    catalog, recorder = _catalog(tmp_path / "kill"), Recorder()
    _run(_dask(cluster, tmp_path), _pipeline(victim), catalog, recorder)
    killed = int(Path(catalog.load("params:marker")).read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(killed, 0)  # that worker process is gone
    assert catalog.load("checked") == 10 and catalog.load("total") == 30
    assert recorder.names("after_node_run").count("die_once") == 1
    assert recorder.names("after_dataset_saved").count("checked") == 1 and recorder.names("on_node_error") == []


def test_a_result_lost_with_its_worker_before_the_driver_fetched_it_is_recomputed(cluster, tmp_path, caplog):
    # "numbers" ready, then "scale" (fast) and "slow" start together; the hook after "scale" kills the worker
    # holding "slow"'s finished result: its future turns "lost" and the scheduler re-runs the node elsewhere
    slow = node(finish_once_slowly, ["numbers", "params:marker"], "checked", name="slow")
    catalog, recorder = _catalog(tmp_path / "lost"), Recorder()
    killer = KillWorkerHoldingResult(after="scale", marker=catalog.load("params:marker"), scheduler_address=cluster.scheduler_address)
    with caplog.at_level(logging.WARNING, logger="insole_mtl.runner"):
        _run(_dask(cluster, tmp_path), _pipeline(slow), catalog, recorder, killer)
    with pytest.raises(ProcessLookupError):
        os.kill(killer.killed, 0)
    assert catalog.load("checked") == 15 and catalog.load("total") == 30
    assert recorder.names("after_node_run").count("slow") == 1 and recorder.names("on_node_error") == []
    assert "dask: the result of node slow was lost with its worker; waiting for the scheduler to re-run it" in caplog.text


def test_a_node_that_kills_every_worker_fails_with_killed_worker(cluster, tmp_path):
    # alone after its input: a node sharing a dying worker would be a suspect too and could fail first
    pipeline = Pipeline([node(make_numbers, "params:n", "numbers", name="make_numbers"), node(always_die, "numbers", "checked", name="always_die")])
    catalog, recorder = _catalog(tmp_path / "killed"), Recorder()
    with pytest.raises(KilledWorker, match="always_die"):
        _run(_dask(cluster, tmp_path), pipeline, catalog, recorder)
    assert recorder.names("on_node_error") == ["always_die"] and not catalog.exists("checked")
