"""Run slices of the project's registered pipelines for a benchmark, with Kedro's own catalog and runner.

Benchmarks measure what ``kedro run`` does, so they run the registered pipelines sliced with
``pipeline.only_nodes(...)`` (``kedro run --nodes``) on the environment's catalog, with Kedro's
``SequentialRunner``, instead of re-wiring the domain functions. :class:`PipelineSlices` keeps ONE catalog
for all slices of a benchmark, so in-memory datasets (the run's ``*_config``) flow from one slice to the
next as they do in one ``kedro run``, and each slice can be timed on its own.

:func:`scratch_conf` gives a copy of the project's configuration whose datasets live in a temporary
folder, and MLflow goes to a temporary store: a benchmark never overwrites a user's outputs or adds runs
to their experiment. Project hooks are not run (no MLflow runs are opened).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


@contextlib.contextmanager
def scratch_conf(project: Path, env: str) -> Iterator[Path]:
    """A temporary copy of ``<project>/conf`` whose ``env`` writes under a temporary ``data_dir``; MLflow
    (kedro-mlflow's artifact datasets) logs to a temporary SQLite store meanwhile. Yields the conf folder."""
    source = Path(project) / "conf"
    if not (source / "base").is_dir():
        raise ValueError(f"{source} has no base/ folder: run the benchmark from the project root or pass --project")
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    with tempfile.TemporaryDirectory(prefix="insole_bench_") as tmp:
        conf = Path(tmp) / "conf"
        shutil.copytree(source, conf)
        (conf / env).mkdir(exist_ok=True)
        (conf / env / "globals.yml").write_text(yaml.safe_dump({"data_dir": str(Path(tmp) / "data")}))
        tracking = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        mlflow = yaml.safe_load((conf / "base" / "mlflow.yml").read_text())
        mlflow["server"]["mlflow_tracking_uri"] = tracking  # kedro-mlflow sets it when the context is created
        mlflow["tracking"]["experiment"]["create_experiment_kwargs"]["artifact_location"] = str(Path(tmp) / "mlruns")
        (conf / env / "mlflow.yml").write_text(yaml.safe_dump(mlflow))
        os.environ["MLFLOW_TRACKING_URI"] = tracking
        try:
            yield conf
        finally:
            if previous is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)
            else:
                os.environ["MLFLOW_TRACKING_URI"] = previous


def nested_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"training.max_epochs": 1}`` -> ``{"training": {"max_epochs": 1}}``: the form ``kedro run --params``
    hands a session (a dotted key given to ``KedroSession.create`` would be a new top-level parameter)."""
    nested: dict[str, Any] = {}
    for key, value in params.items():
        *parents, leaf = key.split(".")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


class PipelineSlices:
    """The catalog of ``env`` (configuration ``conf``, runtime ``params``) and a registered pipeline, run
    slice by slice.

    Example::

        with scratch_conf(root, "paper") as conf:
            slices = PipelineSlices(root, conf, "paper", "insole_mtl", {"training.max_epochs": 2})
            seconds = slices.run(["window_recordings"])
            history = slices.load("training_history")
    """

    def __init__(self, project: Path, conf: Path, env: str, pipeline: str, params: Mapping[str, Any] | None = None) -> None:
        from kedro.framework.project import pipelines
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        bootstrap_project(Path(project))
        self._session = KedroSession.create(
            project_path=Path(project), env=env, conf_source=str(conf), runtime_params=nested_params(params or {})
        )
        context = self._session.load_context()
        context._pipelines_to_validate = [pipeline]  # validate (and build) only the benchmarked pipeline
        self.pipeline = pipelines[pipeline]
        self.catalog = context.catalog

    def run(self, node_names: Sequence[str]) -> float:
        """Run ``pipeline.only_nodes(*node_names)`` on the shared catalog; returns its wall seconds."""
        from kedro.runner import SequentialRunner

        start = time.perf_counter()
        SequentialRunner().run(self.pipeline.only_nodes(*node_names), self.catalog)
        return time.perf_counter() - start

    def load(self, name: str) -> Any:
        """A dataset a slice produced."""
        return self.catalog.load(name)

    def close(self) -> None:
        self._session.close()
