"""Project hooks: one MLflow child run per protocol run and per cross-validation fold, and the run's
resolved precision as MLflow tags.

kedro-mlflow opens ONE MLflow run per ``kedro run`` (the parent). The paper protocol makes many runs
(variant x fold x seed), each a Kedro namespace ``protocol.<variant>.<fold>.<seed>``; the paper's tables
are means over them, so each must be an MLflow run of its own to be traceable and comparable.

:class:`ProtocolMlflowHook` logs them with :class:`mlflow.MlflowClient` and explicit run ids — it never
starts, resumes or ends a run on MLflow's fluent active-run stack, which kedro-mlflow manages (it
re-opens the parent run before every node; nesting fluent runs inside that is fragile, see
kedro-mlflow issues #448/#623). When a run's ``summarise_run`` node has produced its ``run_result``, the
hook creates a child run (tag ``mlflow.parentRunId`` = the kedro-mlflow run, so the MLflow UI nests it)
with the run's resolved parameters, tags (variant, fold, seed, model, loss, optimizer...), test metrics
(``test.*``), efficiency (``efficiency.*``), per-epoch curves (``epoch.*``, step = epoch) and the
``run_result.json`` artifact. A run whose node fails gets a FAILED child run. Every dataset saved under
``protocol.reports.*`` (tables, Markdown, figures) is mirrored into the parent run under ``protocol/``,
and ``protocol/run_index.csv`` maps every protocol run to its MLflow run id.

Nodes stay pure: all of this happens in hooks, from the data the nodes return.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)
# settings.py imports this module for every kedro command: the project modules (torch, pandas, mlflow)
# are imported inside the hooks, i.e. only in a session.

_MAX_PARAM_LENGTH = 6000


#: Prefix of the protocol's report datasets (see conf/base/catalog_protocol.yml).
REPORTS = "protocol.reports"


def _run_key(namespace: str | None) -> tuple[str, str, str] | None:
    """``(variant, fold, seed)`` when ``namespace`` is a protocol run's (``protocol.<variant>.<fold>.<seed>``)."""
    if not namespace or not namespace.startswith("protocol."):
        return None
    from insole_mtl.pipelines.protocol.pipeline import parse_run_namespace

    return parse_run_namespace(namespace)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def _active_run() -> tuple[str, str] | None:
    """``(run_id, experiment_id)`` of kedro-mlflow's run, or None when tracking is off."""
    import mlflow

    active = mlflow.active_run()
    return None if active is None else (active.info.run_id, active.info.experiment_id)


def _create_nested_run(
    parent: tuple[str, str], name: str, tags: Mapping[str, Any], env: str | None, start_s: float | None = None
) -> str:
    """A run named ``name`` nested under ``parent`` (tag ``mlflow.parentRunId``), with ``tags`` and ``kedro.env``."""
    from mlflow import MlflowClient
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    all_tags = {
        MLFLOW_PARENT_RUN_ID: parent[0],
        MLFLOW_RUN_NAME: name,
        **({"kedro.env": env} if env else {}),
        **{str(k): str(v) for k, v in tags.items()},
    }
    start = None if start_s is None else int(1000 * start_s)
    return MlflowClient().create_run(parent[1], start_time=start, tags=all_tags, run_name=name).info.run_id


def _section_metrics(sections: Mapping[str, Mapping[str, Any] | None], history: Any, now: int) -> list[Any]:
    """``<prefix>.<key>`` metrics (step 0) of each finite value of each section, and ``epoch.<key>`` curves
    (step = epoch) of the per-epoch ``history`` rows."""
    from mlflow.entities import Metric

    metrics = [
        Metric(f"{prefix}.{k}", float(v), now, 0) for prefix, section in sections.items() for k, v in (section or {}).items() if _finite(v)
    ]
    for row in history or []:
        step = int(row.get("epoch", 0))
        metrics += [Metric(f"epoch.{k}", float(v), now, step) for k, v in row.items() if k != "epoch" and _finite(v)]
    return metrics


def _log_metrics(run_id: str, metrics: list[Any]) -> None:
    """Log metrics in batches of 1000 (MLflow's per-request limit)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for start in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[start : start + 1000])


class ProtocolMlflowHook:
    """One MLflow child run per protocol run, reports mirrored to the parent run (see the module docstring)."""

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, env: str | None) -> None:
        self.child_runs: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self._parent: tuple[str, str] | None = None
        self._env = env

    # -- helpers ------------------------------------------------------------------------------------
    def _parent_run(self) -> tuple[str, str] | None:
        """``(run_id, experiment_id)`` of kedro-mlflow's run (kept for the pipeline), or None when tracking is off."""
        if self._parent is None:
            self._parent = _active_run()
        return self._parent

    @staticmethod
    def _client() -> Any:
        from mlflow import MlflowClient

        return MlflowClient()

    def _create_child(self, run: str, key: tuple[str, str, str], tags: Mapping[str, str]) -> str | None:
        parent = self._parent_run()
        if parent is None:
            return None
        variant, fold_key, seed_key = key
        identity = {"protocol.run": run, "protocol.variant": variant, "protocol.fold": fold_key, "protocol.seed": seed_key}
        run_id = _create_nested_run(
            parent, f"{variant}/{fold_key}/{seed_key}", {**identity, **tags}, self._env, self._started.get(run, time.time())
        )
        self.child_runs[run] = run_id
        return run_id

    def _log_result(self, run_id: str, result: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        from insole_mtl.protocol.design import flatten

        now = int(time.time() * 1000)
        params = {"fold": result.get("fold"), "seed": result.get("seed"), **flatten(result.get("config") or {})}
        param_list = [Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in params.items()]
        sections = {"test": result.get("metrics"), "efficiency": result.get("efficiency"), "training": result.get("training")}
        client = self._client()
        for start in range(0, len(param_list), 100):
            client.log_batch(run_id, params=param_list[start : start + 100])
        _log_metrics(run_id, _section_metrics(sections, result.get("history"), now))
        client.log_dict(run_id, dict(result), "run_result.json")

    # -- hooks --------------------------------------------------------------------------------------
    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._reset(run_params.get("env"))

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        key = _run_key(node.namespace)
        if key is not None:
            self._started.setdefault(".".join(key), time.time())

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        key = _run_key(node.namespace)
        name = f"{node.namespace}.run_result"
        if key is None or name not in outputs:
            return
        run = ".".join(key)
        try:
            run_id = self._create_child(run, key, (outputs[name] or {}).get("tags") or {})
            if run_id is None:
                return
            self._log_result(run_id, outputs[name])
            self._client().set_terminated(run_id, "FINISHED")
            logger.info("protocol run %s logged to MLflow run %s", run, run_id)
        except Exception as error:  # noqa: BLE001 - tracking must not kill a long protocol
            logger.warning("protocol run %s: MLflow logging failed: %s", run, error)

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        key = _run_key(node.namespace)
        if key is None:
            return
        run = ".".join(key)
        try:
            run_id = self._create_child(run, key, {"protocol.failed_node": node.name, "protocol.error": str(error)[:4000]})
            if run_id is not None:
                self._client().set_terminated(run_id, "FAILED")
        except Exception as log_error:  # noqa: BLE001
            logger.warning("protocol run %s: MLflow logging of the failure failed: %s", run, log_error)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if not dataset_name.startswith(f"{REPORTS}."):
            return
        import pandas as pd

        parent = self._parent_run()
        if parent is None:
            return
        artifact = f"protocol/{dataset_name[len(REPORTS) + 1 :]}"
        try:
            client = self._client()
            if isinstance(data, pd.DataFrame):
                client.log_text(parent[0], data.to_csv(index=False), f"{artifact}.csv")
            elif isinstance(data, str):
                client.log_text(parent[0], data, f"{artifact}.md")
            elif isinstance(data, Mapping):
                client.log_dict(parent[0], dict(data), f"{artifact}.json")
            elif hasattr(data, "savefig"):
                client.log_figure(parent[0], data, f"{artifact}.png")
        except Exception as error:  # noqa: BLE001
            logger.warning("protocol report %s: MLflow logging failed: %s", dataset_name, error)

    @hook_impl
    def after_pipeline_run(self) -> None:
        parent = self._parent
        if parent is None or not self.child_runs:
            return
        import pandas as pd

        index = pd.DataFrame({"run": list(self.child_runs), "mlflow_run_id": list(self.child_runs.values())})
        try:
            self._client().log_text(parent[0], index.to_csv(index=False), "protocol/run_index.csv")
        except Exception as error:  # noqa: BLE001
            logger.warning("protocol run index: MLflow logging failed: %s", error)


#: namespace prefix of the cross-validation folds (insole_mtl.pipelines.cross_validation)
CV_PREFIX = "cv.fold_"


def _fold_of(namespace: str | None) -> str | None:
    """``fold_<k>`` of a node in a cross-validation fold namespace ``cv.fold_<k>``, else None."""
    if not namespace or not namespace.startswith(CV_PREFIX):
        return None
    return namespace.split(".")[1]


class CrossValidationMlflowHook:
    """One MLflow child run per cross-validation fold, the run's wall time in ``cross_validation.json``,
    and the resolved training precision/device as tags of the (parent) run.

    A fold's child run (tags ``cv.fold``, ``model``, ``precision``, ``device``; nested under the kedro-mlflow
    run) is created when the fold's ``metrics`` are produced, with the fold's test metrics (``test.*``), its
    training summary (``training.*``) and per-epoch curves (``epoch.*``, step = epoch); a failing fold node
    gives a FAILED child run. ``training_summary`` of a single run sets the tags ``training.precision`` and
    ``training.device`` of the kedro-mlflow run. Like :class:`ProtocolMlflowHook` it uses
    :class:`mlflow.MlflowClient` with explicit run ids only, never the fluent active-run stack.
    """

    def __init__(self) -> None:
        self._reset(None)

    def _reset(self, env: str | None) -> None:
        self.child_runs: dict[str, str] = {}
        self._seen: dict[str, dict[str, Any]] = {}
        self._env = env
        self._started = time.time()

    def _child(self, fold: str, tags: Mapping[str, str]) -> str | None:
        parent = _active_run()
        if parent is None:
            return None
        run_id = _create_nested_run(parent, f"cv/{fold}", {"cv.fold": fold, **tags}, self._env)
        self.child_runs[fold] = run_id
        return run_id

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        self._reset(run_params.get("env"))

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        if dataset_name == "cross_validation" and isinstance(data, dict):
            data["wall_s"] = time.time() - self._started  # since the start of the kedro run

    @hook_impl
    def after_node_run(self, node: Any, outputs: dict[str, Any]) -> None:
        for name, value in outputs.items():
            if name.rsplit(".", 1)[-1] == "training_summary" and isinstance(value, Mapping):
                self._tag_parent(value)
        fold = _fold_of(node.namespace)
        if fold is None:
            return
        seen = self._seen.setdefault(fold, {})
        for name, value in outputs.items():
            seen[name.rsplit(".", 1)[-1]] = value
        if f"{node.namespace}.metrics" not in outputs:
            return
        try:
            summary = seen.get("training_summary") or {}
            tags = {k: summary.get(k) for k in ("model", "precision", "device") if summary.get(k) is not None}
            run_id = self._child(fold, tags)
            if run_id is None:
                return
            self._log_fold(run_id, seen)
            from mlflow import MlflowClient

            MlflowClient().set_terminated(run_id, "FINISHED")
            logger.info("cross-validation %s logged to MLflow run %s", fold, run_id)
        except Exception as error:  # noqa: BLE001 - tracking must not kill a long cross-validation
            logger.warning("cross-validation %s: MLflow logging failed: %s", fold, error)

    def _tag_parent(self, summary: Mapping[str, Any]) -> None:
        parent = _active_run()
        if parent is None:
            return
        from mlflow import MlflowClient

        try:
            for key in ("precision", "device"):
                if summary.get(key) is not None:
                    MlflowClient().set_tag(parent[0], f"training.{key}", str(summary[key]))
        except Exception as error:  # noqa: BLE001
            logger.warning("MLflow tags of the training summary failed: %s", error)

    @staticmethod
    def _log_fold(run_id: str, seen: Mapping[str, Any]) -> None:
        from mlflow import MlflowClient

        summary = seen.get("training_summary") or {}
        history = seen.get("training_history")
        rows = history.to_dict("records") if history is not None else None
        _log_metrics(run_id, _section_metrics({"test": seen.get("metrics"), "training": summary}, rows, int(time.time() * 1000)))
        client = MlflowClient()
        if seen.get("metrics") is not None:
            client.log_dict(run_id, dict(seen["metrics"]), "metrics.json")
        if summary:
            client.log_dict(run_id, dict(summary), "training_summary.json")

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        fold = _fold_of(node.namespace)
        if fold is None or fold in self.child_runs:
            return
        try:
            run_id = self._child(fold, {"cv.failed_node": node.name, "cv.error": str(error)[:4000]})
            if run_id is not None:
                from mlflow import MlflowClient

                MlflowClient().set_terminated(run_id, "FAILED")
        except Exception as log_error:  # noqa: BLE001
            logger.warning("cross-validation %s: MLflow logging of the failure failed: %s", fold, log_error)


# ------------------------------------------------------------------------------------------------------
# Issue #11: the MLflow UI opens on the runs, runs are named by what they did, the trained model is servable.
# ------------------------------------------------------------------------------------------------------

#: MLflow 3 opens an experiment on its GenAI overview unless its kind says "model training"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def _short_source(source: str) -> str:
    """``runs:/<id>/<name>`` -> ``runs:/<id8>/<name>``; a path -> its version folder (or file name)."""
    if source.startswith("runs:/"):
        run_id, _, name = source[len("runs:/") :].partition("/")
        return f"runs:/{run_id[:8]}/{name}"
    if "://" in source or source.startswith("models:/"):
        return source
    from pathlib import Path

    path = Path(source)
    return path.parent.name if path.name == "trained_model.pkl" else path.name


def _amplitude_features_on(name: str, options: Mapping[str, Any]) -> bool:
    """The model's amplitude branch as built (the option, else its family's default); a name the registry does not
    know is refused when the run is configured, so the name only falls back to the option here."""
    from insole_mtl.models.registry import MODEL_CLASSES, amplitude_features_on

    return amplitude_features_on(name, options) if name in MODEL_CLASSES else bool(options.get("amplitude_features"))


def run_description(pipeline: str, env: str, params: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """The MLflow run name and tags of a ``kedro run``: what it trained (model, loss, source, seed, plots).

    Returns:
        ``("insole_mtl · mobilenetv2@40+amp · uncertainty · test · seed 1", {"insole.pipeline": ..., ...})``.
    """
    model = params.get("model") or {}
    options = model.get("options") or {}
    name = str(model.get("name", "?"))
    resolution = (params.get("recurrence") or {}).get("resolution")
    family = name
    if name == "mobilenetv2":
        family += f"@{resolution or 'full'}"
    amplitude = _amplitude_features_on(name, options)
    if amplitude:
        family += "+amp"
    ensemble = int((params.get("training") or {}).get("ensemble", 1) or 1)
    if ensemble > 1:
        family += f"×{ensemble}"
    loss = str((params.get("loss_weighting") or {}).get("method", "?"))
    seed = (params.get("training") or {}).get("seed")
    tags = {
        "insole.pipeline": pipeline, "insole.source": env, "insole.model": name, "insole.model_family": family,
        "insole.loss_weighting": loss, "insole.seed": str(seed), "insole.recurrence_resolution": str(resolution),
        "insole.amplitude_features": str(amplitude),
        "insole.tasks": ",".join(model.get("tasks") or []), "insole.ensemble": str(ensemble),
    }  # fmt: skip
    if pipeline == "insole_infer":
        return f"insole_infer · {env}", {"insole.pipeline": pipeline, "insole.source": env}
    if pipeline != "insole_mtl":  # cross-validation / protocol parents keep their pipeline name (children are named)
        return pipeline, tags
    return f"{pipeline} · {family} · {loss} · {env} · seed {seed}", tags


class RunNamingMlflowHook:
    """Sets the experiment up as a model-training experiment (tag ``mlflow.experimentKind =
    custom_model_development``, so MLflow 3's UI opens on the runs table, not the GenAI overview) and names each
    kedro-mlflow run by what it did (``mlflow.runName`` + ``insole.*`` tags: pipeline, model family, loss
    weighting, source environment, seed), so *Compare* lines up the paper's comparisons. ``insole_infer`` runs
    are renamed once their model is loaded: ``insole_infer · <env> · <model family> · <model source>``, tags
    ``insole.model_uri`` / ``insole.model_family``."""

    def __init__(self) -> None:
        self._params: Mapping[str, Any] = {}
        self._env = "local"
        self._pipeline = "__default__"

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            self._params = context.params
        except Exception as error:  # noqa: BLE001 - a broken configuration is reported where it is used
            logger.debug("run naming: parameters not readable (%s)", error)
            self._params = {}
        self._env = str(context.env or "local")

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        run = _active_run()
        names = run_params.get("pipeline_names") or [run_params.get("pipeline_name")]
        self._pipeline = ",".join(str(n) for n in names if n and n != "__default__") or "insole_mtl"
        self._env = str(run_params.get("env") or self._env)
        if run is None:
            return
        from mlflow import MlflowClient
        from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

        client = MlflowClient()
        client.set_experiment_tag(run[1], EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        name, tags = run_description(self._pipeline, self._env, self._params)
        for key, value in {MLFLOW_RUN_NAME: name, **tags}.items():
            client.set_tag(run[0], key, value)

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        if dataset_name != "inference_model" or not hasattr(data, "source"):
            return
        run = _active_run()
        if run is None:
            return
        from mlflow import MlflowClient
        from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

        spec = getattr(data.model, "build_spec", None) or {}
        family = str(spec.get("name", type(data.model).__name__))
        tags = {
            MLFLOW_RUN_NAME: f"insole_infer · {self._env} · {family} · {_short_source(str(data.source))}",
            "insole.model_uri": str(data.source), "insole.model_family": family, "insole.model": family,
            **{f"insole.model_{k}": str(v) for k, v in (data.details or {}).items()},
        }  # fmt: skip
        client = MlflowClient()
        for key, value in tags.items():
            client.set_tag(run[0], key, value)


#: tag of every kedro-mlflow run: ``host:pid:start`` of the process that runs it (start = the process's start
#: time in clock ticks since boot, /proc/<pid>/stat field 22, so a reused pid is not mistaken for the run's)
PROCESS_TAG = "insole.process"
RESUMED_FROM_TAG = "insole.resumed_from"


def _process_start(pid: int) -> str:
    """Start time of process ``pid`` (clock ticks since boot) from /proc; "" where /proc has none."""
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one read of a tiny file
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]  # fields after "(comm)": state is field 3, starttime field 22


def _process_alive(pid: int, start: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        pass
    return not start or _process_start(pid) == start


class KilledRunMlflowHook:
    """A run killed with SIGKILL (or by the OOM killer, or a lost node) cannot close its MLflow run: it
    stays RUNNING for ever. Every kedro-mlflow run is tagged with its process (:data:`PROCESS_TAG`); when the
    next ``kedro run`` of the same experiment starts on the same host, each RUNNING run whose process is gone
    is marked KILLED (with its RUNNING child runs: protocol runs, cross-validation folds) and logged. A run
    started with ``training.resume: true`` is tagged :data:`RESUMED_FROM_TAG` with the newest killed run."""

    def __init__(self) -> None:
        self._resume = False

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            self._resume = bool((context.params.get("training") or {}).get("resume", False))
        except Exception as error:  # noqa: BLE001 - a broken configuration is reported where it is used
            logger.debug("killed runs: parameters not readable (%s)", error)
            self._resume = False

    @hook_impl
    def before_pipeline_run(self) -> None:
        run = _active_run()
        if run is None:
            return
        import socket

        from mlflow import MlflowClient

        client = MlflowClient()
        host, pid = socket.gethostname(), os.getpid()
        client.set_tag(run[0], PROCESS_TAG, f"{host}:{pid}:{_process_start(pid)}")
        killed = []
        for other in client.search_runs([run[1]], filter_string="attributes.status = 'RUNNING'", max_results=1000):
            tag = other.data.tags.get(PROCESS_TAG, "")
            other_host, _, rest = tag.partition(":")
            other_pid, _, start = rest.partition(":")
            if other.info.run_id == run[0] or other_host != host or not other_pid.isdigit():
                continue  # this run; another machine's (its process cannot be looked at from here); untagged
            if _process_alive(int(other_pid), start):
                continue
            client.set_terminated(other.info.run_id, status="KILLED")
            children = client.search_runs(
                [run[1]], filter_string=f"tags.mlflow.parentRunId = '{other.info.run_id}' and attributes.status = 'RUNNING'"
            )  # fmt: skip
            for child in children:
                client.set_terminated(child.info.run_id, status="KILLED")
            logger.warning(
                "MLflow run %s (%s) was left RUNNING by process %s, which no longer exists (killed?): marked KILLED "
                "with %d running child run(s)", other.info.run_name, other.info.run_id, other_pid, len(children),
            )  # fmt: skip
            killed.append(other)
        if self._resume and killed:
            newest = max(killed, key=lambda r: r.info.start_time or 0)
            client.set_tag(run[0], RESUMED_FROM_TAG, newest.info.run_id)


class ServableModelMlflowHook:
    """Logs the model the ``insole_mtl`` training node returns (dataset ``trained_model``) to the run as an
    MLflow pyfunc ``serving_model`` (:mod:`insole_mtl.serving.pyfunc`): raw windows ``(n, C, L)`` in sensor
    units in, activity/speed/weight out, with a signature and an input example of real validation windows.
    ``mlflow models predict -m runs:/<id>/serving_model`` and ``insole_infer --params=model_uri=...`` then give
    the same predictions. Replaces ``pipeline_ml_factory``, which Kedro >= 1.3.1 silently turns into a plain
    pipeline (kedro-mlflow #690). The URI goes to the run's tag ``insole.serving_model_uri``."""

    def __init__(self) -> None:
        self._params: Mapping[str, Any] = {}

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        try:
            self._params = context.params
        except Exception:  # noqa: BLE001 - reported where the parameters are used
            self._params = {}

    @hook_impl
    def after_node_run(self, node: Any, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        if "trained_model" not in outputs:
            return
        run = _active_run()
        if run is None:
            return
        example = next((inputs[k] for k in ("val.windows", "train_oversampled.windows") if k in inputs and len(inputs[k])), None)
        if example is None:
            logger.warning("serving model not logged: the training node read no raw windows for an input example")
            return
        import numpy as np
        from mlflow import MlflowClient

        from insole_mtl.serving.pyfunc import log_servable_model

        classes = list(((self._params.get("tasks") or {}).get("activity") or {}).get("classes") or [])
        rate = float((self._params.get("sampling") or {}).get("target_rate_hz", 40.0))
        info = log_servable_model(outputs["trained_model"], classes, np.asarray(example[:2]), rate)
        MlflowClient().set_tag(run[0], "insole.serving_model_uri", f"runs:/{run[0]}/{info.name}")
        logger.info("servable MLflow model logged: %s", info.model_uri)
