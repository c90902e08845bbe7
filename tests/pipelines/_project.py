"""A throw-away copy of the Kedro project for tests that run ``kedro`` in a subprocess.

Outputs, mlflow.db and mlruns/ land in the copy, never in the checkout.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
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


def built_once(base: Path, name: str, build: Callable[[Path], None]) -> Path:
    """``base / name``: a copy of the project (:func:`copy_project`) that ``build`` ran in, built on first use.

    ``base`` is pytest's ``tmp_path_factory.getbasetemp()``, so the copy is shared by every test of the session; a
    lock file serialises pytest-xdist workers, and a copy whose build did not finish is built afresh.
    """
    work, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            if work.exists():
                shutil.rmtree(work)
            build(copy_project(work))
            done.write_text("ok")
    return work
