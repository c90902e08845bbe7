"""Every stage pipeline run as a slice with Kedro's SequentialRunner on an in-memory catalog with tiny data.

The stages run in the order of ``insole_mtl`` on one catalog (the ``test`` environment's parameters, a
cohort of 6 subjects at a tenth of the durations, one short training): what a stage saves is what the next
one reads, as in one ``kedro run``. Each test checks one stage's outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from insole_mtl.datasets.checkpoint import CheckpointDataset
from insole_mtl.datasets.sources import NoSourceDataset
from insole_mtl.pipeline_registry import register_pipelines
from insole_mtl.pipelines.run_config.pipeline import CONFIG_DATASETS
from insole_mtl.settings import CONFIG_LOADER_ARGS

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = {
    "synthetic": {"n_subjects": 6, "duration_scale": 0.1},
    "training": {"max_epochs": 1, "max_train_batches_per_epoch": 1, "precision": "fp32", "log_every_s": 0.0},
}
STAGES = ("ingest", "split", "windowing", "oversampling", "encoding", "training", "evaluation")


class KeptDataset(MemoryDataset):
    """A memory dataset the runner cannot release after its last consumer: the tests read every output."""

    def _release(self) -> None:
        return None


def _feed(params: dict[str, Any], prefix: str = "params:") -> dict[str, Any]:
    """``params:<key>`` for every nesting level, as Kedro feeds parameters to a catalog."""
    feed = {}
    for key, value in params.items():
        feed[f"{prefix}{key}"] = value
        if isinstance(value, dict):
            feed.update(_feed(value, f"{prefix}{key}."))
    return feed


def _parameters() -> dict[str, Any]:
    args = {k: v for k, v in CONFIG_LOADER_ARGS.items() if k != "default_run_env"}
    params = dict(OmegaConfigLoader(conf_source=str(ROOT / "conf"), env="test", **args)["parameters"])
    for group, values in OVERRIDES.items():
        params[group] = {**params[group], **values}
    return params


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    params = _parameters()
    catalog = DataCatalog(
        datasets={
            "raw_source": NoSourceDataset(),
            "training_checkpoints": CheckpointDataset(path=str(tmp_path_factory.mktemp("checkpoints"))),
        }
    )
    for name, value in _feed(params).items():
        catalog[name] = value
    pipelines = register_pipelines()
    saved: dict[str, set[str]] = {}
    for stage in STAGES:
        pipeline = pipelines[stage]
        for name in pipeline.all_outputs():
            if name not in catalog:
                catalog[name] = KeptDataset()  # keep every output, intermediate ones included, for the checks
        SequentialRunner().run(pipeline, catalog)
        saved[stage] = pipeline.all_outputs()
    return catalog, saved, params


def _load(catalog: DataCatalog, name: str) -> Any:
    return catalog.load(name)


def test_each_stage_reads_only_what_earlier_stages_saved(run):
    catalog, saved, _ = run
    pipelines = register_pipelines()
    produced = set()
    for stage in STAGES:
        inputs = {n for n in pipelines[stage].inputs() if not n.startswith("params:")} - {"raw_source", "training_checkpoints"}
        assert inputs <= produced, (stage, inputs - produced)
        produced |= saved[stage]


def test_ingest_gives_labelled_recordings_of_the_configured_channels(run):
    catalog, _, params = run
    recordings, labels, subjects = (_load(catalog, n) for n in ("recordings", "recording_labels", "subjects"))
    assert list(recordings.columns[-len(params["channels"]):]) == list(params["channels"])
    assert set(labels["subject"].astype(str)) <= set(subjects["subject"].astype(str)) and len(subjects) == 6
    assert isinstance(_load(catalog, "ingest_drop_report"), pd.DataFrame)


def test_windowing_cuts_windows_of_the_configured_length(run):
    catalog, _, params = run
    windows, labels = _load(catalog, "windows"), _load(catalog, "window_labels")
    assert windows.shape[1:] == (len(params["channels"]), params["windowing"]["length"]) and len(labels) == len(windows)


def test_split_puts_every_subject_in_exactly_one_split(run):
    catalog, _, _ = run
    split = _load(catalog, "subject_split")
    assert split["subject"].is_unique and set(split["split"]) == {"train", "val", "test"}


def test_run_configuration_is_the_stage_parameters(run):
    catalog, _, params = run
    for name, group in zip(CONFIG_DATASETS, ("oversampling", "recurrence", "model", "loss_weighting", "training", "evaluation")):
        assert _load(catalog, name) == params[group]


def test_oversampling_adds_training_windows_only(run):
    catalog, _, _ = run
    train, oversampled = _load(catalog, "train.windows"), _load(catalog, "train_oversampled.windows")
    assert len(oversampled) >= len(train)
    np.testing.assert_array_equal(oversampled[: len(train)], train)  # originals first, synthetic windows after
    split = _load(catalog, "subject_split").set_index("subject")["split"]
    for part in ("val", "test"):
        labels = _load(catalog, f"{part}.window_labels")
        assert set(split.loc[labels["subject"].unique()]) == {part}


def test_encoding_counts_recurrences_per_cell(run):
    catalog, _, params = run
    resolution = params["recurrence"]["resolution"]
    for part, source in (("train", "train_oversampled.windows"), ("val", "val.windows"), ("test", "test.windows")):
        plots = _load(catalog, f"{part}.recurrence_plots")
        assert plots.shape == (len(_load(catalog, source)), len(params["channels"]), resolution, resolution)
        cell = params["windowing"]["length"] // resolution
        assert plots.dtype == np.uint8 and int(plots.max()) <= cell * cell


def test_training_returns_a_model_with_its_preprocessing_and_one_epoch_of_history(run):
    catalog, _, params = run
    model, history, summary = (_load(catalog, n) for n in ("trained_model", "training_history", "training_summary"))
    assert model.preprocessing["channels"] == list(params["channels"])
    assert len(history) == 1 and summary["precision"] == "fp32" and summary["device"] == "cpu"


def test_evaluation_scores_every_test_window_against_the_mean_predictor(run):
    catalog, _, _ = run
    predictions, metrics = _load(catalog, "test.predictions"), _load(catalog, "metrics")
    assert len(predictions) == len(_load(catalog, "test.window_labels"))
    assert {"activity_accuracy", "activity_accuracy_baseline", "speed_mae", "speed_mae_baseline"} <= set(metrics)
    assert 0.0 <= metrics["activity_accuracy"] <= 1.0
    report = _load(catalog, "task_report")
    assert report  # the task report of the run
