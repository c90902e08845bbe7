"""The stage benchmarks run slices of the registered pipeline with Kedro's runner, on a scratch catalog."""

import json
import re
import subprocess
import sys
import textwrap

import pytest

from tests.pipelines._project import copy_project, kedro_environ

from insole_mtl.benchmarks import memory, paper_run
from insole_mtl.benchmarks._kedro import nested_params

SCRIPT = textwrap.dedent(
    """
    import json, logging
    from pathlib import Path
    from insole_mtl.benchmarks import memory, paper_run
    logging.disable(logging.WARNING)
    run = paper_run.main(["--env", "test", "--max-epochs", "1", "--expected-epochs", "3", "--runs-in-protocol", "2"])
    rss = memory.main(["--env", "test", "--n-subjects", "12", "--duration-scale", "0.05", "--max-train-batches", "1",
                       "--steps", "cohort", "windowing"])
    print(json.dumps({"run": run, "rss": rss}))
    """
)


def test_the_stage_benchmarks_slice_the_registered_pipeline():
    # every stage is a slice of insole_mtl's own nodes; nothing the pipeline does not have
    nodes = {"acquire_raw_cohort", "prepare_recordings", "window_recordings", "split_subjects", "configure_run",
             "partition_by_split", "oversample_training_windows", "encode_train_recurrence_plots",
             "encode_val_recurrence_plots", "encode_test_recurrence_plots", "train_multitask_model",
             "predict_test_windows", "compute_test_metrics"}  # fmt: skip
    assert set().union(*paper_run.STAGES.values()) == nodes
    assert set().union(*memory.STEPS.values()) <= nodes
    assert memory.step_parameters(72, 1.0, 20) == {
        "synthetic.n_subjects": 72, "synthetic.duration_scale": 1.0, "training.max_epochs": 1, "training.device": "cpu",
        "training.max_train_batches_per_epoch": 20,
    }  # fmt: skip


def test_memory_params_are_read_as_kedro_run_params():
    assert memory.parse_params("training.batch_size=32, model.options.checkpoint_activations=true,x=a") == {
        "training.batch_size": 32, "model.options.checkpoint_activations": True, "x": "a",
    }  # fmt: skip
    assert memory.parse_params("") == {}
    with pytest.raises(ValueError, match=re.escape("--params: 'batch'; expected key=value")):
        memory.parse_params("batch")


def test_runtime_parameters_are_nested_as_kedro_run_params_gives_them():
    assert nested_params({"training.max_epochs": 1, "training.device": "cpu", "seed": 3}) == {
        "training": {"max_epochs": 1, "device": "cpu"}, "seed": 3,
    }  # fmt: skip


@pytest.mark.e2e
def test_paper_run_and_memory_benchmarks_run_on_a_scratch_catalog(tmp_path):
    work = copy_project(tmp_path / "project")
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=work, env=kedro_environ(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-6000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    run, rss = out["run"], out["rss"]
    assert list(run["stages_s"]) == list(paper_run.STAGES) and run["epochs_run"] == 1
    assert run["windows"]["test"] > 0 and 0.0 <= run["test_metrics"]["activity_accuracy"] <= 1.0
    assert run["projected_protocol_s"] > run["stages_s"]["evaluation"]
    assert list(rss["steps"]) == ["cohort", "windowing"] and rss["peak_rss_mb"] > 0
    # the project's own data folder and MLflow store are untouched: outputs went to the scratch copy
    assert not (work / "data").exists() and not (work / "mlflow.db").exists() and not (work / "mlruns").exists()
