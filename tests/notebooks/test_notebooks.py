"""Both notebooks execute top to bottom on the shared finished test-environment project (any cell error fails),
and show what they promise: figures, and the two insole_mtl runs with their loss weightings."""

from __future__ import annotations

import os
import shutil

import nbformat
import pytest
from nbclient import NotebookClient

from pipelines._project import ROOT, kedro_environ

pytestmark = pytest.mark.e2e
NOTEBOOKS = ROOT / "notebooks"


def _execute(work, name: str) -> nbformat.NotebookNode:
    target = work / "notebooks"
    target.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOKS / name, target / name)
    notebook = nbformat.read(target / name, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), "commit notebooks without outputs"
    env = {**kedro_environ(), "INSOLE_NOTEBOOK_ENV": "test", "MPLBACKEND": "Agg"}
    saved = dict(os.environ)
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(target)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return notebook


def _outputs(notebook, kind: str):
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs if kind in o.get("data", {}) or o.get("name") == kind]


def test_recurrence_plot_notebook_runs_and_draws_every_figure(trained_project):
    notebook = _execute(trained_project, "01_recurrence_plots_by_activity.ipynb")
    assert len(_outputs(notebook, "image/png")) == 4  # gallery, signals, two amplitude heat maps
    text = "".join(o.get("text", "") for o in _outputs(notebook, "stdout"))
    assert "test windows of shape (14, 160)" in text


def test_run_comparison_notebook_lists_both_loss_weightings(trained_project):
    notebook = _execute(trained_project, "02_compare_mlflow_runs.ipynb")
    assert len(_outputs(notebook, "image/png")) == 2
    tables = "".join(o["data"]["text/plain"] for o in _outputs(notebook, "text/plain"))
    assert "uniform" in tables and "uncertainty" in tables
    text = "".join(o.get("text", "") for o in _outputs(notebook, "stdout"))
    assert "2 finished insole_mtl runs" in text and "sqlite:///" in text
