"""One ``kedro run --pipeline=insole_mtl_protocol --env=test`` (2 folds x 1 seed, 8 variants, tiny windows).

The run is the session's shared one (tests/pipelines/_finished_run.py, also the Dask runner's sequential
reference), in a temporary copy of the project so outputs, mlflow.db and mlruns/ never touch the checkout. Checks
that every table and figure is written (versioned) and that every table number is the mean of MLflow child runs
nested under the protocol's run.
"""

import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from ._finished_run import finished_run

TABLES = ("iii", "iv", "v", "vi", "a", "extras", "complexity")
FIGURES = ("tsne_embedding", "fsr3_by_weight", "forest_importances")


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return finished_run(tmp_path_factory.getbasetemp(), "insole_mtl_protocol")


def _latest(folder: Path) -> Path:
    """The file inside the newest version folder of a versioned dataset."""
    versions = sorted(p for p in folder.iterdir() if p.is_dir())
    assert versions, f"{folder} has no version"
    return versions[-1] / folder.name


@pytest.mark.e2e
def test_every_table_and_figure_is_written_versioned(project):
    out = project / "data" / "test" / "08_reporting" / "protocol"
    runs = pd.read_csv(_latest(out / "runs.csv"))
    assert len(runs) == 18 and runs["variant"].nunique() == 9
    assert set(runs["fold_key"]) == {"fold_0", "fold_1"} and set(runs["seed_key"]) == {"seed_0"}
    tables = {name: pd.read_csv(_latest(out / f"table_{name}.csv")) for name in TABLES}
    iii = tables["iii"].set_index("row")
    assert list(iii.index) == ["st_mobilenetv2", "mtl_lstm", "mtl_cnn1d", "mtl_mobilenetv2"]  # the rows this env ran
    assert (iii["n_runs"] == 2).all()
    assert iii.loc["mtl_mobilenetv2", "activity_accuracy_pct_paper"] == 97.2
    assert 0.0 <= iii.loc["mtl_mobilenetv2", "activity_accuracy_pct_mean"] <= 100.0
    assert list(tables["iv"]["row"]) == ["uniform", "uncertainty"]
    assert list(tables["v"]["row"]) == ["mtl", "single_task"]
    v = tables["v"].set_index("row")
    assert v.loc["single_task", "params_k_mean"] > 2.5 * v.loc["mtl", "params_k_mean"]  # three models
    assert list(tables["vi"]["row"]) == ["adamw", "adam"]
    assert list(tables["a"]["row"]) == ["bottlenecks_3", "bottlenecks_4"]
    assert tables["a"].set_index("row").loc["bottlenecks_3", "params_k_mean"] < v.loc["mtl", "params_k_mean"]
    assert tables["complexity"].set_index("variant").loc["mtl_lstm", "params_k"] > 800  # 2 x 256 LSTM
    markdown = _latest(out / "paper_tables.md").read_text()
    for title in ("Table III", "Table IV", "Table V", "Table VI", "Appendix A", "Extras", "Model complexity"):
        assert f"### {title}" in markdown
    for figure in FIGURES:
        assert _latest(out / f"{figure}.png").stat().st_size > 5000
    for report in ("fsr3_by_weight.csv", "forest_importances.csv", "forest_scores.json", "tsne_coordinates.csv"):
        assert _latest(out / report).stat().st_size > 50


@pytest.mark.e2e
def test_every_number_is_the_mean_of_nested_mlflow_runs(project):
    db = sqlite3.connect(project / "mlflow.db")
    runs = dict(db.execute("select run_uuid, name from runs").fetchall())
    parents = [uuid for uuid, name in runs.items() if name == "insole_mtl_protocol"]
    assert len(parents) == 1 and len(runs) == 19
    parent = parents[0]
    tags = pd.DataFrame(db.execute("select run_uuid, key, value from tags").fetchall(), columns=["run", "key", "value"])
    children = tags[(tags["key"] == "mlflow.parentRunId") & (tags["value"] == parent)]["run"]
    assert len(children) == 18
    status = dict(db.execute("select run_uuid, status from runs").fetchall())
    assert {status[c] for c in children} == {"FINISHED"}
    protocol_run = tags[tags["key"] == "protocol.run"].set_index("run")["value"]
    out = project / "data" / "test" / "08_reporting" / "protocol"
    runs_table = pd.read_csv(_latest(out / "runs.csv"))
    assert set(runs_table["run"]) == set(protocol_run[children])

    metrics = pd.DataFrame(db.execute("select run_uuid, key, value from metrics").fetchall(), columns=["run", "key", "value"])
    mtl = protocol_run[protocol_run.str.startswith("mtl_mobilenetv2.")].index
    accuracy = metrics[metrics["run"].isin(mtl) & (metrics["key"] == "test.activity_accuracy")]["value"]
    assert len(accuracy) == 2
    iii = pd.read_csv(_latest(out / "table_iii.csv")).set_index("row")
    assert iii.loc["mtl_mobilenetv2", "activity_accuracy_pct_mean"] == pytest.approx(100 * accuracy.mean())
    assert iii.loc["mtl_mobilenetv2", "activity_accuracy_pct_std"] == pytest.approx(100 * accuracy.std(ddof=1))
    summary = metrics[(metrics["run"] == parent) & (metrics["key"] == "protocol.III.mtl_mobilenetv2.activity_accuracy_pct.mean")]
    assert summary["value"].iloc[0] == pytest.approx(100 * accuracy.mean())
    artifacts = {p.name for p in (project / "mlruns").rglob("*") if parent in str(p) and p.is_file()}
    assert {"paper_tables.md", "table_iii.csv", "run_index.csv", "tsne_figure.png"} <= artifacts
