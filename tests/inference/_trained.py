"""One finished ``test``-environment project shared by the inference, notebook and browser tests.

In a temporary copy of the project (tests/pipelines/_project.py): ``insole_mtl`` trained twice (loss weighting
``uniform``, then the default ``uncertainty``: two runs to compare), ``insole_infer`` on the training's own cohort
(its predictions kept as ``07_model_output/same_cohort_predictions.csv``), then ``insole_infer`` on a new
synthetic cohort (the default). Built once per test session: the first fixture that asks builds it under the
session's base temp folder (a lock file serialises pytest-xdist workers), the others reuse it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from pipelines._project import built_once, kedro_environ

#: the training cohort of conf/test/parameters.yml, as insole_infer parameters
SAME_COHORT = "inference_synthetic.n_subjects=9,inference_synthetic.seed=3,inference_synthetic.duration_scale=0.2"


def kedro(work: Path, *args: str, timeout: int = 900) -> str:
    """``python -m kedro <args>`` in ``work``; returns stdout + stderr, asserts exit status 0."""
    result = subprocess.run(
        [sys.executable, "-m", "kedro", *args], cwd=work, env=kedro_environ(), capture_output=True, text=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"kedro {' '.join(args)} failed:\n{output[-8000:]}"
    return output


def ensure_trained_project(base: Path) -> Path:
    """The shared project under ``base`` (pytest's ``tmp_path_factory.getbasetemp()``), built on first use."""
    return built_once(base, "insole_trained_project", _train_and_infer)


def _train_and_infer(work: Path) -> None:
    kedro(work, "run", "--pipelines=insole_mtl", "--env=test", "--params=loss_weighting.method=uniform")
    kedro(work, "run", "--pipelines=insole_mtl", "--env=test")
    kedro(work, "run", "--pipelines=insole_infer", "--env=test", f"--params={SAME_COHORT}")
    out = work / "data" / "test" / "07_model_output"
    shutil.copy(out / "predictions.csv", out / "same_cohort_predictions.csv")
    kedro(work, "run", "--pipelines=insole_infer", "--env=test")
