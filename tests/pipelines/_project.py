"""A throw-away copy of the Kedro project for tests that run ``kedro`` in a subprocess.

Outputs, mlflow.db and mlruns/ land in the copy, never in the checkout.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def copy_project(work: Path) -> Path:
    """Copy pyproject.toml, conf/ (without local/, recreated empty) and src/ into ``work``; returns ``work``.

    src/ is copied, not linked: kedro bootstraps from <project>/src and refuses a symlink that resolves
    outside the project.
    """
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "pyproject.toml", work / "pyproject.toml")
    shutil.copytree(ROOT / "conf", work / "conf", ignore=shutil.ignore_patterns("local"))
    (work / "conf" / "local").mkdir()
    shutil.copytree(ROOT / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    return work


def kedro_environ() -> dict[str, str]:
    """The environment of a test's kedro subprocess: no telemetry, no KEDRO_ENV leaking in from the caller."""
    env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "PYTHONPATH": str(ROOT / "src")}
    env.pop("KEDRO_ENV", None)
    return env
