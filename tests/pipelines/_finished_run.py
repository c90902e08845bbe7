"""One finished ``kedro run --pipeline=<name> --env=test`` per pipeline, shared by the tests that read it.

``insole_mtl_cv`` and ``insole_mtl_protocol`` each take a minute or more on two cores; the end-to-end report tests
(tests/pipelines) and the Dask runner's sequential reference (tests/test_runner_e2e.py) read the same finished run
instead of training it twice. One thread per process (``OMP_NUM_THREADS=1``), as the Dask workers it is compared
with run, so the sequential scores are the reference to the last digit. Built once per test session
(``_project.built_once``, as the inference tests' trained project); tests only read it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipelines._project import built_once, kedro_environ


def finished_run(base: Path, pipeline: str, timeout_s: int = 1200) -> Path:
    """The project under ``base`` (pytest's ``tmp_path_factory.getbasetemp()``) that ran ``pipeline``; built on first use."""

    def run(work: Path) -> None:
        env = {**kedro_environ(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "kedro", "run", f"--pipeline={pipeline}", "--env=test"],
            cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-6000:]
        (work / "kedro_run.log").write_text(result.stdout + result.stderr)

    return built_once(base, f"finished_{pipeline}", run)
