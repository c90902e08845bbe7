"""Node functions, a hook recorder and a worker killer for the DaskRunner tests.

They live in an importable module (not in a test file) because the dask workers unpickle them by reference:
the workers of an in-process cluster import this module from ``sys.path``, and the workers of a ``kedro run``
subprocess from the ``PYTHONPATH`` the test gives it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin
from kedro.framework.hooks import hook_impl


# -- nodes ---------------------------------------------------------------------------------------------
def make_numbers(n: int) -> list[int]:
    return list(range(n))


def scale(numbers: list[int], factor: int) -> list[int]:
    return [factor * x for x in numbers]


def total(numbers: list[int]) -> int:
    return sum(numbers)


def placement(numbers: list[int]) -> dict[str, Any]:
    """Where this node ran: the worker's name and pid, and torch's thread count in the executing thread."""
    import torch
    from distributed import get_worker

    try:
        worker = get_worker().name
    except ValueError:  # not on a dask worker (SequentialRunner)
        worker = None
    return {"worker": worker, "pid": os.getpid(), "torch_threads": torch.get_num_threads(), "n": len(numbers)}


def _claim(marker: str) -> bool:
    """True for the first caller only, across processes (the marker file is created atomically)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def fail_once(numbers: list[int], marker: str) -> int:
    if _claim(marker):
        raise ValueError("fail_once: the first call fails")
    return len(numbers)


def always_fail(numbers: list[int]) -> int:
    raise ValueError(f"always_fail: {len(numbers)} numbers, no result")


def die_once(numbers: list[int], marker: str) -> int:
    """Kill the worker process running this node (SIGKILL, mid-node) the first time it is called."""
    if _claim(marker):
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return 2 * len(numbers)


def finish_once_slowly(numbers: list[int], marker: str) -> int:
    """First call: sleep 0.5 s, record this worker's pid in ``marker`` and return (a test then kills the
    worker while the result waits there for the driver); later calls take 3 s (the re-run is still going
    when the driver looks at the lost result)."""
    if _claim(marker + ".claimed"):
        time.sleep(0.5)
        Path(marker).write_text(str(os.getpid()))
    else:
        time.sleep(3.0)
    return 3 * len(numbers)


def always_die(numbers: list[int]) -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return len(numbers)  # pragma: no cover - never reached


# -- hooks ---------------------------------------------------------------------------------------------
class Recorder:
    """Records every node and dataset hook call: (hook, name, pid of the calling process, payload)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, int, Any]] = []

    def names(self, hook: str) -> list[str]:
        return [name for h, name, _, _ in self.calls if h == hook]

    def payloads(self, hook: str, name: str) -> list[Any]:
        return [payload for h, n, _, payload in self.calls if h == hook and n == name]

    @hook_impl
    def before_dataset_loaded(self, dataset_name: str) -> None:
        self.calls.append(("before_dataset_loaded", dataset_name, os.getpid(), None))

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        self.calls.append(("after_dataset_loaded", dataset_name, os.getpid(), data))

    @hook_impl
    def before_node_run(self, node: Any, inputs: dict[str, Any]) -> None:
        self.calls.append(("before_node_run", node.name, os.getpid(), dict(inputs)))

    @hook_impl
    def after_node_run(self, node: Any, inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
        self.calls.append(("after_node_run", node.name, os.getpid(), dict(outputs)))

    @hook_impl
    def on_node_error(self, error: Exception, node: Any) -> None:
        self.calls.append(("on_node_error", node.name, os.getpid(), error))

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        self.calls.append(("before_dataset_saved", dataset_name, os.getpid(), data))

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        self.calls.append(("after_dataset_saved", dataset_name, os.getpid(), data))


class OverrideInput:
    """A ``before_node_run`` hook that replaces the input ``numbers`` of node ``scale`` (Kedro's contract)."""

    @hook_impl
    def before_node_run(self, node: Any) -> dict[str, Any] | None:
        return {"numbers": [100, 200]} if node.name == "scale" else None


class KillWorkerHoldingResult:
    """An ``after_node_run`` hook (driver side): after node ``after``, wait for the pid that
    :func:`finish_once_slowly` writes to ``marker``, SIGKILL that worker once the node's result sits in its
    memory, and keep the driver busy until the scheduler has removed that worker, so the result is lost before
    the driver fetches it."""

    def __init__(self, after: str, marker: str, scheduler_address: str) -> None:
        self.after, self.marker, self.scheduler_address = after, Path(marker), scheduler_address
        self.killed: int | None = None

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        if node.name != self.after or self.killed is not None:
            return
        deadline = time.monotonic() + 30
        while not self.marker.exists() or not self.marker.read_text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no pid in {self.marker} after 30 s")
            time.sleep(0.05)
        time.sleep(0.5)  # the task goes executing -> memory on its worker
        self.killed = int(self.marker.read_text())
        os.kill(self.killed, signal.SIGKILL)
        from distributed import Client

        with Client(self.scheduler_address, set_as_default=False) as client:  # wait until the scheduler has removed it
            while any(w.get("pid") == self.killed for w in client.scheduler_info(n_workers=-1)["workers"].values()):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the scheduler still lists the killed worker (pid {self.killed}) after 30 s")
                time.sleep(0.05)
        time.sleep(0.5)  # the scheduler's "lost-data" message reaches the runner's client


# -- a worker killer for ``kedro run`` subprocesses ----------------------------------------------------
class KillDuringNode(WorkerPlugin):
    """Kill the worker process (SIGKILL) ``$INSOLE_DASK_KILL_DELAY_S`` after a task whose key starts with
    ``$INSOLE_DASK_KILL_NODE`` starts executing; once per run (the marker file ``$INSOLE_DASK_KILL_MARKER``).

    The marker records the pid and the task's state at the moment of the kill, so a test can check the node
    was killed mid-run rather than after it had finished.
    """

    name = "insole_mtl-test-kill-during-node"

    def setup(self, worker: Any) -> None:
        self.worker = worker
        self.prefix = os.environ.get("INSOLE_DASK_KILL_NODE", "")
        self.marker = os.environ.get("INSOLE_DASK_KILL_MARKER", "")
        self.delay_s = float(os.environ.get("INSOLE_DASK_KILL_DELAY_S", "0.3"))

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not self.prefix or not str(key).startswith(self.prefix) or not _claim(self.marker):
            return

        def kill() -> None:
            task = self.worker.state.tasks.get(key)
            Path(self.marker).write_text(f"{os.getpid()} {key} {task.state if task else 'gone'}")
            os.kill(os.getpid(), signal.SIGKILL)

        threading.Timer(self.delay_s, kill).start()
