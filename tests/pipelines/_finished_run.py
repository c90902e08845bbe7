"""One finished ``kedro run --pipeline=<name> --env=test`` per pipeline, shared by the tests that read it.

``insole_mtl_cv`` and ``insole_mtl_protocol`` each take a minute or more on two cores; the end-to-end report tests
(tests/pipelines) and the Dask runner's sequential reference (tests/test_runner_e2e.py) read the same finished run
instead of training it twice. One thread per process (``OMP_NUM_THREADS=1``), as the Dask workers it is compared
with run, so the sequential scores are the reference to the last digit. Built once per test session in a
temporary copy of the project (tests/pipelines/_project.py) under the session's base temp folder; a lock file
serialises pytest-xdist workers. Tests only read it.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
from pathlib import Path

from pipelines._project import copy_project, kedro_environ


def finished_run(base: Path, pipeline: str, timeout_s: int = 1200) -> Path:
    """The project under ``base`` (pytest's ``tmp_path_factory.getbasetemp()``) that ran ``pipeline``; built on first use."""
    work = base / f"finished_{pipeline}"
    done = base / f"finished_{pipeline}.done"
    with open(base / f"finished_{pipeline}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if work.exists():
                shutil.rmtree(work)
            copy_project(work)
            env = {**kedro_environ(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            result = subprocess.run(
                [sys.executable, "-m", "kedro", "run", f"--pipeline={pipeline}", "--env=test"],
                cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s,
            )  # fmt: skip
            assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
            (work / "kedro_run.log").write_text(result.stdout + result.stderr)
            done.write_text("ok")
    return work
