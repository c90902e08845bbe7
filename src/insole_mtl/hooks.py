"""Project hooks: the protocol's environment-dependent design, and one MLflow child run per protocol run.

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
import time
from collections.abc import Mapping
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)
# settings.py imports this module for every kedro command: the project modules (torch, pandas, mlflow)
# are imported inside the hooks, i.e. only in a session.

_MAX_PARAM_LENGTH = 6000


class ProtocolDesignHook:
    """Hands the session's parameters to the protocol pipeline's design before the pipelines are built."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context: Any) -> None:
        from insole_mtl.pipelines.protocol.design_source import SOURCE

        try:
            parameters = context.config_loader["parameters"]
        except Exception as error:  # noqa: BLE001 - a broken configuration is reported where it is used
            logger.debug("protocol design: parameters not readable (%s)", error)
            return
        if SOURCE.activate(parameters, context.env):
            from kedro.framework.project import PACKAGE_NAME, pipelines

            logger.info("protocol design changed (env %s): pipelines rebuilt", context.env)
            pipelines.configure(f"{PACKAGE_NAME}.pipeline_registry")


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
        """``(run_id, experiment_id)`` of kedro-mlflow's run, or None when tracking is off."""
        if self._parent is None:
            import mlflow

            active = mlflow.active_run()
            if active is None:
                return None
            self._parent = (active.info.run_id, active.info.experiment_id)
        return self._parent

    @staticmethod
    def _client() -> Any:
        from mlflow import MlflowClient

        return MlflowClient()

    def _create_child(self, run: str, key: tuple[str, str, str], tags: Mapping[str, str]) -> str | None:
        parent = self._parent_run()
        if parent is None:
            return None
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

        variant, fold_key, seed_key = key
        all_tags = {
            MLFLOW_PARENT_RUN_ID: parent[0],
            MLFLOW_RUN_NAME: f"{variant}/{fold_key}/{seed_key}",
            "protocol.run": run,
            "protocol.variant": variant,
            "protocol.fold": fold_key,
            "protocol.seed": seed_key,
            **({"kedro.env": self._env} if self._env else {}),
            **{str(k): str(v) for k, v in tags.items()},
        }
        start = int(1000 * self._started.get(run, time.time()))
        created = self._client().create_run(parent[1], start_time=start, tags=all_tags, run_name=all_tags[MLFLOW_RUN_NAME])
        self.child_runs[run] = created.info.run_id
        return created.info.run_id

    def _log_result(self, run_id: str, result: Mapping[str, Any]) -> None:
        from mlflow.entities import Metric, Param

        from insole_mtl.protocol.design import flatten

        now = int(time.time() * 1000)
        params = {"fold": result.get("fold"), "seed": result.get("seed"), **flatten(result.get("config") or {})}
        param_list = [Param(k, str(v)[:_MAX_PARAM_LENGTH]) for k, v in params.items()]
        metrics = [
            Metric(f"{prefix}.{k}", float(v), now, 0)
            for prefix, section in (("test", "metrics"), ("efficiency", "efficiency"), ("training", "training"))
            for k, v in (result.get(section) or {}).items()
            if _finite(v)
        ]
        for row in result.get("history") or []:
            step = int(row.get("epoch", 0))
            metrics += [Metric(f"epoch.{k}", float(v), now, step) for k, v in row.items() if k != "epoch" and _finite(v)]
        client = self._client()
        for start in range(0, len(param_list), 100):
            client.log_batch(run_id, params=param_list[start : start + 100])
        for start in range(0, len(metrics), 1000):
            client.log_batch(run_id, metrics=metrics[start : start + 1000])
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
