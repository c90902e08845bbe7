"""``DaskRunner``: run any Kedro pipeline's nodes on a ``dask.distributed`` cluster.

``kedro run --pipeline=<any> --runner=insole_mtl.runner.DaskRunner`` submits every node as a
``distributed`` future once its inputs exist. Who does what:

* **Workers** load the node's persisted inputs straight from the catalog's storage (a shared path or an
  fsspec URL every worker can reach), run the node function and return its outputs. A worker never
  writes anything, so a worker killed mid-node leaves no half-written output; the scheduler re-runs the
  node elsewhere (``distributed.scheduler.allowed-failures`` times), and ``dask.retries`` re-runs nodes
  that raised.
* **The driver** (the ``kedro run`` process) calls every node hook (``before_node_run``,
  ``after_node_run``, ``on_node_error``) and the save hooks, once per node and only for its final outcome,
  and saves the outputs through the catalog once the node has succeeded. MLflow runs therefore come out as
  with ``SequentialRunner`` (kedro-mlflow and the project's hooks keep their state in the driver), and a
  retried node never opens a second MLflow run.
* **In-memory datasets** (``MemoryDataset``: not in the catalog) that one node hands to another are
  persisted (not kept together with their producer): the driver writes them as pickles under
  ``dask.scratch_dir`` (removed at the end of the run) and the consumer's worker reads them there; the runner
  logs which (one INFO line, one DEBUG line each). Parameters are sent from the driver with the task.

Hooks see one difference from ``SequentialRunner``: with ``dask.load_inputs: worker`` (default) the
``inputs`` given to the node hooks hold only the inputs the driver loaded (parameters, and datasets that
must be loaded in the driver: single-process and kedro-mlflow datasets), and ``after_dataset_loaded`` is
not called for inputs loaded on a worker (their data never reaches the driver). ``dask.load_inputs:
driver`` loads every input in the driver and ships it with the task: every hook then sees exactly what
``SequentialRunner`` gives it, at the cost of routing all input data through the driver.

Configuration: ``conf/base/parameters_dask.yml`` (``dask.*``, overridable with ``--params``), overridden in
turn by ``--runner-params`` (``--runner-params=address=tcp://10.0.0.1:8786,n_workers=4``).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from itertools import chain
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin
from kedro.io import MemoryDataset
from kedro.runner.runner import AbstractRunner

if TYPE_CHECKING:
    from distributed import Client, Future
    from kedro.io import CatalogProtocol
    from kedro.io.core import AbstractDataset
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

logger = logging.getLogger(__name__)

#: Scheduler address schemes ``distributed`` can connect to.
ADDRESS = re.compile(r"^(tcp|tls|ws|wss|ucx|inproc)://\S+$")
LOAD_INPUTS = ("worker", "driver")
GPU_MODES = ("auto", True, False)


@dataclass(frozen=True)
class DaskSettings:
    """The runner's knobs (``dask.*`` parameters; see ``conf/base/parameters_dask.yml``)."""

    address: str | None = None  # scheduler of an existing cluster; None = a LocalCluster on 127.0.0.1
    n_workers: int = 2  # LocalCluster only
    threads_per_worker: int = 1  # LocalCluster only: nodes run concurrently per worker
    torch_threads: int | None = None  # torch threads per worker (None: threads_per_worker locally, untouched on yours)
    memory_limit: str | None = "auto"  # LocalCluster only, per worker
    dashboard_address: str | None = None  # LocalCluster only, e.g. ":8787"; None = no dashboard
    connect_timeout_s: float = 30.0
    retries: int = 0  # re-runs of a node that RAISED (a lost worker is handled by allowed_failures)
    allowed_failures: int = 3  # LocalCluster only: workers a node may kill before KilledWorker
    load_inputs: str = "worker"  # worker | driver (see the module docstring)
    scratch_dir: str = "data/.dask_scratch"  # in-memory datasets passed between nodes (local path or fsspec URL)
    gpu: bool | str = "auto"  # training nodes request a GPU resource: auto | true | false
    gpu_tags: tuple[str, ...] = ("training",)
    gpu_nodes: tuple[str, ...] = ("train_model", "train_multitask_model")  # node names without namespace
    worker_plugins: tuple[str, ...] = ()  # import paths ("pkg.module:Class") of WorkerPlugins to register

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None, source: str = "params dask") -> DaskSettings:
        """Settings from the ``dask`` parameters (or runner keyword arguments), with exact error messages."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{source}: unknown key(s) {unknown}; expected some of {sorted(known)}")
        for key in ("gpu_tags", "gpu_nodes", "worker_plugins"):
            if key in values:
                raw = values[key]
                values[key] = (raw,) if isinstance(raw, str) else tuple(raw or ())
        settings = cls(**values)
        settings.validate(source)
        return settings

    def validate(self, source: str = "params dask") -> None:
        """Raise ``ValueError`` naming the key for a value the runner cannot use."""
        if self.address is not None and (not isinstance(self.address, str) or not ADDRESS.match(self.address)):
            raise ValueError(
                f"{source}.address = {self.address!r}; expected a scheduler address such as "
                "'tcp://10.0.0.1:8786' (schemes tcp, tls, ws, wss, ucx, inproc) or null for a local cluster"
            )
        for key in ("n_workers", "threads_per_worker", "allowed_failures", "retries"):
            value = getattr(self, key)
            minimum = 0 if key in ("retries", "allowed_failures") else 1
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                raise ValueError(f"{source}.{key} = {value!r}; expected an integer >= {minimum}")
        if self.torch_threads is not None and (not isinstance(self.torch_threads, int) or self.torch_threads < 1):
            raise ValueError(f"{source}.torch_threads = {self.torch_threads!r}; expected an integer >= 1 or null")
        if self.load_inputs not in LOAD_INPUTS:
            raise ValueError(f"{source}.load_inputs = {self.load_inputs!r}; expected one of {list(LOAD_INPUTS)}")
        if self.gpu not in GPU_MODES:
            raise ValueError(f"{source}.gpu = {self.gpu!r}; expected one of ['auto', true, false]")
        if not isinstance(self.connect_timeout_s, (int, float)) or self.connect_timeout_s <= 0:
            raise ValueError(f"{source}.connect_timeout_s = {self.connect_timeout_s!r}; expected a number > 0")

    @property
    def threads_for_torch(self) -> int:
        """Torch threads per worker of a local cluster (on one of yours: ``torch_threads``, None = untouched)."""
        return self.torch_threads or self.threads_per_worker


# -- on the workers ------------------------------------------------------------------------------------
class NodeOutputs:
    """A node's outputs on their way from a worker to the driver.

    The wrapper makes ``distributed`` pickle the outputs as one object (through each value's own
    ``__reduce__``, as a ``PickleDataset`` would) instead of walking into the dict with its type-specific
    serializers, whose ``torch.nn.Module`` path fails on an ``LSTM`` (weak references to its weights).
    """

    __slots__ = ("outputs",)

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs

    def __reduce__(self) -> tuple[Any, ...]:
        return (NodeOutputs, (self.outputs,))


def execute_node(
    node: Node, values: dict[str, Any], datasets: dict[str, AbstractDataset], torch_threads: int | None = None
) -> dict[str, Any]:
    """Run ``node`` on a worker: load ``datasets`` from their storage, add ``values`` (sent by the driver),
    and return the outputs. Writes nothing: the driver saves the outputs once the node has succeeded."""
    if torch_threads is not None:
        import torch

        # OpenMP keeps the thread count per calling thread: set it in the executor thread running the node too
        if torch.get_num_threads() != torch_threads:
            torch.set_num_threads(torch_threads)
    inputs = dict(values)
    for name, dataset in datasets.items():
        inputs[name] = dataset.load()
    return NodeOutputs(node.run(inputs))


class TorchThreadsPlugin(WorkerPlugin):
    """Worker plugin: ``torch.set_num_threads(n)`` (and the OpenMP/MKL variables for libraries imported later)
    when a worker starts, so that N workers on N cores do not oversubscribe them."""

    name = "insole_mtl-torch-threads"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def setup(self, worker: Any) -> None:
        for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[variable] = str(self.threads)
        import torch

        torch.set_num_threads(self.threads)


# -- cluster set-up ------------------------------------------------------------------------------------
def local_worker_specs(settings: DaskSettings, n_gpus: int) -> dict[str, dict[str, Any]]:
    """``SpecCluster`` worker specs of a local cluster: ``n_workers`` nannies on 127.0.0.1; the first
    ``min(n_workers, n_gpus)`` own one GPU each (resource ``GPU: 1``, ``CUDA_VISIBLE_DEVICES`` = its index),
    the others are CPU-only workers."""
    from distributed import Nanny

    threads = str(settings.threads_for_torch)
    specs: dict[str, dict[str, Any]] = {}
    for index in range(settings.n_workers):
        env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        options: dict[str, Any] = {
            "nthreads": settings.threads_per_worker,
            "host": "127.0.0.1",
            "memory_limit": settings.memory_limit,
            "env": env,
            "silence_logs": logging.WARNING,
        }
        if index < n_gpus:
            env["CUDA_VISIBLE_DEVICES"] = str(index)
            options["resources"] = {"GPU": 1}
        specs[f"worker-{index}"] = {"cls": Nanny, "options": options}
    return specs


def _local_gpus(settings: DaskSettings, training_device: str | None) -> int:
    """GPUs a local cluster hands out: CUDA devices of this machine, unless the GPU is off or training is on cpu."""
    if settings.gpu is False or training_device == "cpu":
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _load_object(path: str) -> Any:
    """The object at ``package.module:Name`` (or ``package.module.Name``)."""
    module, sep, attribute = path.partition(":") if ":" in path else path.rpartition(".")
    if not module or not sep or not attribute:
        raise ValueError(f"params dask.worker_plugins: {path!r} is not an import path such as 'package.module:Class'")
    return getattr(importlib.import_module(module), attribute)


# -- the runner ----------------------------------------------------------------------------------------
@dataclass
class _Task:
    node: Node
    index: int
    values: dict[str, Any] = field(default_factory=dict)  # inputs loaded in the driver
    future: Future | None = None


class DaskRunner(AbstractRunner):
    """Run a Kedro pipeline on a ``dask.distributed`` cluster (see the module docstring)."""

    def __init__(self, is_async: bool = False, **overrides: Any) -> None:
        """
        Args:
            is_async: accepted for the ``kedro run`` CLI; inputs are loaded by the workers concurrently anyway.
            **overrides: ``dask.*`` settings taking precedence over the ``dask`` parameters
                (``--runner-params=address=tcp://...,n_workers=4``).
        """
        super().__init__(is_async=is_async)
        DaskSettings.from_mapping(overrides, "runner params")  # fail at start-up on a bad key
        self._overrides = dict(overrides)
        self.settings: DaskSettings | None = None
        self.client: Client | None = None
        self.memory_persisted: dict[str, str] = {}  # in-memory dataset -> its scratch file
        self.gpu_nodes: list[str] = []
        self.lost_workers: list[str] = []  # addresses of workers that left during the run
        self.torch_threads: int | None = None  # set on the workers (None: left as their environment sets it)

    def _get_executor(self, max_workers: int) -> None:  # the cluster is the executor
        return None

    # -- configuration ----------------------------------------------------------------------------
    def _settings(self, catalog: CatalogProtocol) -> DaskSettings:
        params = dict(catalog.load("params:dask") or {}) if "params:dask" in catalog else {}
        # runner params replace parameters before validation (a bad parameter they override does not matter);
        # their own values were validated in __init__, so an error here names a parameter
        return DaskSettings.from_mapping({**params, **self._overrides}, "params dask")

    @staticmethod
    def _training_device(catalog: CatalogProtocol) -> str | None:
        if "params:training" not in catalog:
            return None
        training = catalog.load("params:training")
        return str(training.get("device")) if isinstance(training, Mapping) and training.get("device") else None

    def _connect(self, settings: DaskSettings, training_device: str | None) -> tuple[Client, Any]:
        """A client of the configured scheduler, or of a new local cluster (returned to be closed)."""
        import dask
        from distributed import Client

        if settings.address:
            try:
                client = Client(settings.address, timeout=settings.connect_timeout_s)
            except OSError as error:
                raise RuntimeError(
                    f"params dask.address = {settings.address!r}: no dask scheduler reachable within "
                    f"{settings.connect_timeout_s:g} s ({type(error).__name__})"
                ) from error
            logger.info("dask: connected to the scheduler at %s", settings.address)
            return client, None
        from distributed import Scheduler, SpecCluster

        n_gpus = _local_gpus(settings, training_device)
        with dask.config.set({"distributed.scheduler.allowed-failures": settings.allowed_failures}):
            cluster = SpecCluster(
                workers=local_worker_specs(settings, n_gpus),
                scheduler={"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": settings.dashboard_address, "dashboard": settings.dashboard_address is not None}},
                asynchronous=False,
                silence_logs=logging.WARNING,
                name="insole_mtl-local",
            )
            client = Client(cluster, timeout=settings.connect_timeout_s)
        logger.info(
            "dask: local cluster at %s: %d worker(s) x %d thread(s), torch threads %d per worker, %d with a GPU",
            cluster.scheduler_address, settings.n_workers, settings.threads_per_worker, settings.threads_for_torch, min(n_gpus, settings.n_workers),
        )  # fmt: skip
        return client, cluster

    def _prepare_workers(self, client: Client, settings: DaskSettings, local: bool) -> None:
        # a local cluster is complete before the first submit (its GPU workers included); a remote one may grow later
        expected = settings.n_workers if local else 1
        try:
            client.wait_for_workers(expected, timeout=settings.connect_timeout_s)
        except TimeoutError as error:
            raise RuntimeError(
                f"dask: fewer than {expected} worker(s) joined the scheduler within {settings.connect_timeout_s:g} s"
            ) from error
        if self.torch_threads is not None:
            client.register_plugin(TorchThreadsPlugin(self.torch_threads))
        for path in settings.worker_plugins:
            client.register_plugin(_load_object(path)())
        workers = self._workers()
        logger.info(
            "dask: %d worker(s): %s", len(workers),
            ", ".join(f"{info.get('name', address)} ({info.get('nthreads')} thread(s){', GPU' if (info.get('resources') or {}).get('GPU') else ''})" for address, info in workers.items()),
        )  # fmt: skip

    def _cluster_has_gpus(self) -> bool:
        return any((info.get("resources") or {}).get("GPU", 0) > 0 for info in self._workers().values())

    # -- dataset placement ------------------------------------------------------------------------
    @staticmethod
    def _is_memory(catalog: CatalogProtocol, name: str) -> bool:
        if name == "parameters" or name.startswith("params:"):
            return False
        return isinstance(catalog.get(name, fallback_to_runtime_pattern=True), MemoryDataset)

    @staticmethod
    def _driver_only(dataset: AbstractDataset) -> bool:
        """Datasets the driver must load itself: single-process ones and kedro-mlflow's (tied to the driver's MLflow run)."""
        return bool(getattr(dataset, "_SINGLE_PROCESS", False)) or type(dataset).__module__.startswith("kedro_mlflow")

    def _persist_memory_datasets(self, pipeline: Pipeline, catalog: CatalogProtocol, scratch: str) -> dict[str, AbstractDataset]:
        """Scratch pickles for the in-memory datasets one node hands to another (consumers run on any worker)."""
        from kedro_datasets.pickle import PickleDataset

        consumers: dict[str, list[str]] = {}
        producers: dict[str, str] = {}
        for node in pipeline.nodes:
            for name in node.inputs:
                consumers.setdefault(name, []).append(node.name)
            for name in node.outputs:
                producers[name] = node.name
        persisted: dict[str, AbstractDataset] = {}
        for name in sorted(set(producers) & set(consumers)):
            if not self._is_memory(catalog, name):
                continue
            path = f"{scratch}/{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.pkl"
            persisted[name] = PickleDataset(filepath=path)
            self.memory_persisted[name] = path
            logger.debug("dask: in-memory dataset %r (%s -> %s) persisted to %s", name, producers[name], ", ".join(consumers[name]), path)
        if persisted:
            # one line however many namespaces: names without their namespace, with their counts
            counts = Counter(name.rsplit(".", 1)[-1] for name in persisted)
            logger.info(
                "dask: %d in-memory dataset(s) handed between nodes are persisted (not kept together) under %s, "
                "so their consumers can run on any worker: %s", len(persisted), scratch,
                ", ".join(f"{short} x{n}" if n > 1 else short for short, n in sorted(counts.items())),
            )  # fmt: skip
        return persisted

    # -- run --------------------------------------------------------------------------------------
    def _validate_nodes(self, nodes: Iterable[Node]) -> None:
        from distributed.protocol.pickle import dumps

        generators = sorted(n.name for n in nodes if inspect.isgeneratorfunction(n.func))
        if generators:
            raise ValueError(f"DaskRunner cannot run generator nodes (their outputs are streamed, not returned): {generators}")
        unpicklable = []
        for node in nodes:
            try:
                dumps(node)
            except Exception:  # noqa: BLE001 - any pickling failure means the node cannot travel
                unpicklable.append(node.name)
        if unpicklable:
            raise ValueError(f"DaskRunner: these nodes cannot be pickled for the workers: {sorted(unpicklable)}")

    def _wants_gpu(self, node: Node, cluster_gpus: bool, settings: DaskSettings, training_device: str | None) -> bool:
        is_training = bool(set(settings.gpu_tags) & set(node.tags)) or node.name.rsplit(".", 1)[-1] in settings.gpu_nodes
        if not is_training or settings.gpu is False:
            return False
        if settings.gpu is True:
            return True
        return cluster_gpus and training_device != "cpu"

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        assert hook_manager is not None  # AbstractRunner.run passes a _NullPluginManager at least
        nodes = pipeline.nodes
        self._validate_nodes(nodes)
        settings = self.settings = self._settings(catalog)
        training_device = self._training_device(catalog)
        run_key = run_id or uuid.uuid4().hex
        scratch = _absolute(f"{settings.scratch_dir.rstrip('/')}/{re.sub(r'[^A-Za-z0-9_.-]', '_', run_key)}")
        self.memory_persisted = {}
        persisted = self._persist_memory_datasets(pipeline, catalog, scratch) if settings.load_inputs == "worker" else {}
        if settings.load_inputs == "driver":
            logger.info("dask: load_inputs=driver: every input is loaded in the driver and sent with its node")
        elif loaded_hooks := _hook_plugins(hook_manager, "after_dataset_loaded"):
            logger.warning(
                "dask: after_dataset_loaded hooks (%s) are not called for inputs loaded on the workers "
                "(set dask.load_inputs: driver to call them)", ", ".join(loaded_hooks),
            )  # fmt: skip

        client, cluster = self._connect(settings, training_device)
        self.client = client
        self.lost_workers = []
        # a local cluster shares this machine's cores: pin torch; a cluster of yours keeps its workers' own
        # setting (OMP_NUM_THREADS in their environment) unless dask.torch_threads is given
        self.torch_threads = settings.threads_for_torch if cluster is not None else settings.torch_threads
        try:
            self._prepare_workers(client, settings, local=cluster is not None)
            cluster_gpus = self._cluster_has_gpus()
            self.gpu_nodes = [n.name for n in nodes if self._wants_gpu(n, cluster_gpus, settings, training_device)]
            if self.gpu_nodes:
                logger.info("dask: %d training node(s) request one GPU each: %s", len(self.gpu_nodes), ", ".join(self.gpu_nodes))
                if not cluster_gpus:  # dask.gpu: true; an adaptive cluster may still add GPU workers
                    logger.warning("dask: no worker offers a GPU resource yet; the training nodes wait for one")
            self._schedule(pipeline, catalog, hook_manager, run_id, settings, persisted)
        finally:
            self.client = None
            client.close()
            if cluster is not None:
                cluster.close()
            _remove(scratch)

    def _schedule(  # noqa: PLR0913
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager,
        run_id: str | None,
        settings: DaskSettings,
        persisted: dict[str, AbstractDataset],
    ) -> None:
        """Submit every node once its inputs exist; save and run the hooks of each as it finishes."""
        from distributed import as_completed

        nodes = pipeline.nodes
        order = {node: index for index, node in enumerate(nodes)}
        dependencies = pipeline.node_dependencies
        load_counts = Counter(chain.from_iterable(n.inputs for n in nodes))
        todo = set(nodes)
        done: set[Node] = set()
        running: dict[Any, _Task] = {}
        completed = as_completed()
        start = time.perf_counter()
        run_token = uuid.uuid4().hex[:8]

        def submit_ready() -> None:
            ready = sorted((n for n in todo if dependencies[n] <= done), key=order.__getitem__)
            for node in ready:
                todo.discard(node)
                task = _Task(node, order[node])
                task.future = self._submit(task, catalog, hook_manager, run_id, settings, persisted, run_token)
                running[task.future.key] = task
                completed.add(task.future)

        submit_ready()
        if not running and todo:
            self._raise_runtime_error(todo, done, set(), None)
        workers = set(self._workers())
        for future in completed:
            workers = self._log_lost_workers(workers)
            task = running.pop(future.key)
            node = task.node
            if future.status == "lost":
                # the worker holding the finished result died before the driver fetched it: the scheduler
                # re-runs the node (it has no dask dependencies) and result() below waits for that re-run
                logger.warning("dask: the result of node %s was lost with its worker; waiting for the scheduler to re-run it", node.name)
            try:
                if future.status in ("error", "cancelled"):
                    raise future.exception() if future.status == "error" else RuntimeError(f"node {node.name}: future {future.status}")
                outputs = future.result().outputs
            except Exception as error:  # noqa: BLE001 - any failure of the node is reported through the hooks, then raised
                hook_manager.hook.on_node_error(
                    error=error, node=node, catalog=catalog, inputs=task.values, is_async=self._is_async, run_id=run_id
                )
                for other in running.values():
                    other.future.cancel()
                self._suggest_resume_scenario(pipeline, done, catalog)
                raise
            future.release()
            hook_manager.hook.after_node_run(
                node=node, catalog=catalog, inputs=task.values, outputs=outputs, is_async=self._is_async, run_id=run_id
            )
            self._save(node, outputs, catalog, hook_manager, persisted)
            for name in node.confirms:
                catalog.confirm(name)
            done.add(node)
            self._release_datasets(node, catalog, load_counts, pipeline)
            self._log_progress(node, len(done), len(nodes), time.perf_counter() - start, len(running))
            submit_ready()
            if not running and todo:
                self._raise_runtime_error(todo, done, set(), None)

    def _workers(self) -> dict[str, Any]:
        assert self.client is not None
        return self.client.scheduler_info(n_workers=-1).get("workers", {})

    def _log_lost_workers(self, known: set[str]) -> set[str]:
        """Say which workers left since the last look (the scheduler re-runs their nodes elsewhere)."""
        current = self._workers()
        for address in sorted(known - set(current)):
            self.lost_workers.append(address)
            logger.warning("dask: worker %s left the cluster; the scheduler re-runs its nodes on other workers", address)
        return set(current)

    def _submit(  # noqa: PLR0913
        self,
        task: _Task,
        catalog: CatalogProtocol,
        hook_manager: PluginManager,
        run_id: str | None,
        settings: DaskSettings,
        persisted: dict[str, AbstractDataset],
        run_token: str,
    ) -> Future:
        """Driver side of a node's start: the load hooks, the driver-side loads, ``before_node_run``, the submit."""
        node = task.node
        datasets: dict[str, AbstractDataset] = {}
        for name in node.inputs:
            hook_manager.hook.before_dataset_loaded(dataset_name=name, node=node)
            dataset = persisted.get(name) or catalog.get(name, fallback_to_runtime_pattern=True)
            in_driver = (
                settings.load_inputs == "driver"
                or name == "parameters"
                or name.startswith("params:")
                or (name not in persisted and (isinstance(dataset, MemoryDataset) or self._driver_only(dataset)))
            )
            if in_driver:
                task.values[name] = catalog.load(name)
                hook_manager.hook.after_dataset_loaded(dataset_name=name, data=task.values[name], node=node)
            else:
                datasets[name] = dataset
        responses = hook_manager.hook.before_node_run(
            node=node, catalog=catalog, inputs=dict(task.values), is_async=self._is_async, run_id=run_id
        )
        overrides: dict[str, Any] = {}
        for response in responses or []:
            if response is not None and not isinstance(response, dict):
                raise TypeError(
                    "'before_node_run' must return either None or a dictionary mapping dataset names to "
                    f"updated values, got '{type(response).__name__}' instead."
                )
            overrides.update(response or {})
        values = {**task.values, **overrides}
        datasets = {name: dataset for name, dataset in datasets.items() if name not in overrides}
        resources = {"GPU": 1} if node.name in self.gpu_nodes else None
        assert self.client is not None
        return self.client.submit(
            execute_node, node, values, datasets, self.torch_threads,
            key=f"{node.name}-{run_token}", pure=False, retries=settings.retries,
            resources=resources, priority=-task.index,
        )  # fmt: skip

    @staticmethod
    def _save(
        node: Node,
        outputs: dict[str, Any],
        catalog: CatalogProtocol,
        hook_manager: PluginManager,
        persisted: dict[str, AbstractDataset],
    ) -> None:
        """Save the outputs of a node that succeeded (in the driver, so a lost worker writes nothing)."""
        for name, data in outputs.items():
            hook_manager.hook.before_dataset_saved(dataset_name=name, data=data, node=node)
            if name in persisted:
                persisted[name].save(data)
            else:
                catalog.save(name, data)
            hook_manager.hook.after_dataset_saved(dataset_name=name, data=data, node=node)

    def _log_progress(self, node: Node, n_done: int, n_total: int, elapsed_s: float, n_running: int) -> None:
        # ETA from the mean time per node so far: crude (nodes differ a lot) but monotone enough to plan by
        eta = elapsed_s / n_done * (n_total - n_done)
        self._logger.info(
            "dask: completed %s; %d/%d nodes (%.0f%%), %d in flight, elapsed %.1f s, ETA %.0f s",
            node.name, n_done, n_total, 100.0 * n_done / n_total, n_running, elapsed_s, eta,
        )  # fmt: skip


def _hook_plugins(hook_manager: Any, hook: str) -> list[str]:
    """Names of the plugins implementing ``hook`` (none for Kedro's null manager, used without hooks)."""
    caller = getattr(getattr(hook_manager, "hook", None), hook, None)
    impls = caller.get_hookimpls() if caller is not None and hasattr(caller, "get_hookimpls") else None
    return [impl.plugin_name for impl in impls or []]


def _absolute(path: str) -> str:
    """``path`` unchanged when it is a URL (``s3://...``), else absolute (workers may not share the driver's cwd)."""
    return path if "://" in path else os.path.abspath(path)


def _remove(path: str) -> None:
    """Remove the run's scratch folder (local or fsspec), if any."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(path)
    try:
        if fs.exists(root):
            fs.rm(root, recursive=True)
    except OSError as error:  # leftover scratch is harmless; say so instead of failing a finished run
        logger.warning("dask: could not remove the scratch folder %s: %s", path, error)


__all__ = ["DaskRunner", "DaskSettings", "NodeOutputs", "TorchThreadsPlugin", "execute_node", "local_worker_specs"]
