"""kedro-viz and the MLflow UI over a finished test-environment run, checked in headless Chromium.

Screenshots: ``data/test/08_reporting/kedro_viz.png`` and ``mlflow_runs.png`` in the project copy, also copied into
this checkout's (git-ignored) ``data/test/08_reporting/`` to look at.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from pipelines._project import ROOT, kedro_environ

from ._servers import browser_available, chromium, free_port, python_tool, server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not browser_available(), reason="needs Debian's chromium + chromium-driver (.ci/run installs them)"),
]

LAYERS = ["configuration", "raw", "intermediate", "primary", "feature", "model_input", "models", "model_output", "reporting"]


def _save(driver, work: Path, name: str) -> Path:
    target = work / "data" / "test" / "08_reporting" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target))
    local = ROOT / "data" / "test" / "08_reporting"
    local.mkdir(parents=True, exist_ok=True)
    shutil.copy(target, local / name)
    return target


def _wait(driver, condition, timeout_s: float = 90.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition(driver)
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - page still rendering
            last = error
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {last!r}")


def _dismiss(driver, texts=("Dismiss",)) -> None:
    from selenium.webdriver.common.by import By

    for text in texts:
        for element in driver.find_elements(By.XPATH, f"//*[self::button or self::a][normalize-space()='{text}']"):
            try:
                element.click()
            except Exception:  # noqa: BLE001 - decorative pop-ups only
                pass


def _expected_insole_mtl(work: Path) -> set[str]:
    from kedro.framework.project import pipelines
    from kedro.framework.startup import bootstrap_project

    bootstrap_project(work)
    pipeline = pipelines["insole_mtl"]
    names = {node.name for node in pipeline.nodes}
    names |= {name for name in pipeline.datasets() if not name.startswith("params:") and name != "parameters"}
    return names


def test_kedro_viz_renders_the_insole_mtl_nodes_and_layers(trained_project):
    from selenium.webdriver.common.by import By

    port = free_port()
    expected = _expected_insole_mtl(trained_project)
    # --pipeline: without it kedro-viz lays out all 15 registered pipelines, the paper protocol's 2 893 nodes in 748
    # modular pipelines among them (~145 s on two cores instead of ~9 s; README "Look at the results")
    command = python_tool("kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port), "--env", "test",
                          "--pipeline", "insole_mtl")  # fmt: skip
    log = trained_project / "kedro_viz.log"
    with server(command, trained_project, f"http://127.0.0.1:{port}/api/main", log, kedro_environ()), chromium() as driver:
        driver.get(f"http://127.0.0.1:{port}/?pid=insole_mtl")
        rendered = _wait(
            driver,
            lambda d: {e.text for e in d.find_elements(By.CSS_SELECTOR, ".pipeline-node") if e.text} >= expected
            and {e.text for e in d.find_elements(By.CSS_SELECTOR, ".pipeline-node")},
            what="every insole_mtl node and dataset drawn",
        )
        layers = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".pipeline-layer-name")]
        _dismiss(driver)
        time.sleep(1.0)
        shot = _save(driver, trained_project, "kedro_viz.png")
    assert {"train_multitask_model", "predict_test_windows", "trained_model", "metrics"} <= rendered
    assert layers == LAYERS
    assert shot.stat().st_size > 20_000


def test_mlflow_ui_lists_the_named_runs_and_their_metrics(trained_project):
    from selenium.webdriver.common.by import By

    db = sqlite3.connect(trained_project / "mlflow.db")
    experiment = db.execute("select experiment_id from experiments where name = 'insole_mtl'").fetchone()[0]
    runs = dict(db.execute("select name, run_uuid from runs where status = 'FINISHED'").fetchall())
    training = next(run for name, run in runs.items() if name.startswith("insole_mtl · mobilenetv2@40+amp · uncertainty"))
    accuracy = db.execute(
        "select value from latest_metrics where run_uuid = ? and key = 'test.activity_accuracy'", (training,)
    ).fetchone()[0]
    port = free_port()
    command = python_tool("mlflow", "ui", "--backend-store-uri", "sqlite:///mlflow.db", "--host", "127.0.0.1",
                          "--port", str(port), "--workers", "1")  # fmt: skip
    log = trained_project / "mlflow_ui.log"
    base = f"http://127.0.0.1:{port}"
    with server(command, trained_project, f"{base}/health", log, kedro_environ()), chromium() as driver:
        # the experiment's runs table (MLflow 3.17's UI defaults to its GenAI workflow unless told otherwise)
        driver.get(f"{base}/#/experiments/{experiment}/runs?workflowType=machine_learning")
        _wait(driver, lambda d: "Runs" in d.title, what="the runs page")
        listed = _wait(
            driver,
            lambda d: (lambda text: all(name[:30] in text for name in runs) and text)(d.find_element(By.TAG_NAME, "body").text),
            what=f"every finished run name listed: {sorted(runs)}",
        )
        assert "Overview" not in driver.title
        # the runs beside their test metrics: chart view filtered to the test.* metrics
        driver.get(f"{base}/#/experiments/{experiment}/runs?workflowType=machine_learning&compareRunsMode=CHART")
        search = _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, "input[placeholder='Search metric charts']"), what="charts")
        search.send_keys("test.")
        for close in driver.find_elements(By.CSS_SELECTOR, "button[aria-label=Close]"):  # the assistant side panel
            close.click()
        charts = _wait(
            driver,
            lambda d: (lambda text: "test.activity_accuracy" in text and "test.activity_macro_f1" in text and text)(d.find_element(By.TAG_NAME, "body").text),
            what="test metric charts",
        )
        assert "insole_mtl · mobilenetv2@40+amp · uncertainty · test · seed 1" in charts
        time.sleep(1.0)
        shot = _save(driver, trained_project, "mlflow_runs.png")
        # one run's page lists its metrics with values
        driver.get(f"{base}/#/experiments/{experiment}/runs/{training}?workflowType=machine_learning")
        body = _wait(
            driver,
            lambda d: (lambda text: "test.activity_accuracy" in text and "epoch.train_loss" in text and text)(
                d.find_element(By.TAG_NAME, "body").text
            ),
            what="the training run's metrics",
        )
    assert f"{accuracy:.3g}"[:4] in body or f"{accuracy}"[:4] in body
    assert "insole_infer" in listed and "insole_mtl" in listed
    assert shot.stat().st_size > 20_000
