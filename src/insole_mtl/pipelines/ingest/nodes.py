"""Ingest nodes: get a raw cohort from the configured source, validate it, resample it and attach task labels."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from insole_mtl.schema import GIVEN_SPLIT
from insole_mtl.signals.labels import label_recordings
from insole_mtl.signals.resample import resample_recordings
from insole_mtl.signals.split import attach_given_split
from insole_mtl.signals.validation import concat_drop_reports, drop_report, validate_raw_cohort
from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort

logger = logging.getLogger(__name__)

def acquire_raw_cohort(
    source: Mapping[str, Any] | None, synthetic: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the raw cohort tables of the configured source.

    Args:
        source: what the ``raw_source`` dataset loaded: ``None`` for the embedded synthetic default, or
            ``{"cohort": RawCohort, "drop_report": DataFrame}`` from a real-data source dataset.
        synthetic: ``params:synthetic`` (cohort size, seed, durations), used only when ``source`` is None.

    Returns:
        ``raw_recordings`` (long, one row per sample), ``raw_recording_index``, ``raw_subjects`` and the
        source's drop report (``stage, item, reason, count``).
    """
    if source is None:
        config = SyntheticCohortConfig.from_params(synthetic)
        cohort = generate_cohort(config)
        drops = drop_report()
        logger.info(
            "Generated synthetic cohort: %d subjects, %d recordings, %d samples",
            len(cohort.subjects), len(cohort.recording_index), len(cohort.recordings),
        )
    else:
        cohort, drops = source["cohort"], source["drop_report"]
        logger.info(
            "Read cohort: %d subjects, %d recordings, %d samples (%d items skipped, see drop report)",
            len(cohort.subjects), len(cohort.recording_index), len(cohort.recordings), int(drops["count"].sum()),
        )
    return cohort.recordings, cohort.recording_index, cohort.subjects, drops


def prepare_recordings(
    raw_recordings: pd.DataFrame,
    raw_recording_index: pd.DataFrame,
    raw_subjects: pd.DataFrame,
    source_drop_report: pd.DataFrame,
    channels: Sequence[str],
    sampling: Mapping[str, float],
    tasks: Mapping[str, Mapping[str, Any]],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate the raw cohort, resample it to the model's rate and label every recording.

    Returns:
        ``recordings`` (recording, time_s, channels at ``target_rate_hz``), ``recording_labels`` (one row per
        labelled recording: recording, subject, experiment, activity, speed, weight), ``subjects`` and the
        drop report so far (source + labelling).
    """
    validate_raw_cohort(raw_recordings, raw_recording_index, raw_subjects, channels)
    recordings = raw_recordings[["recording", "time_s", *channels]]
    recordings = resample_recordings(
        recordings, channels, source_hz=float(sampling["source_rate_hz"]), target_hz=float(sampling["target_rate_hz"])
    )
    subjects = raw_subjects
    if GIVEN_SPLIT in raw_recording_index.columns and GIVEN_SPLIT not in raw_subjects.columns:
        subjects = attach_given_split(raw_subjects, raw_recording_index)
    labels, label_drops = label_recordings(raw_recording_index, subjects, tasks)
    kept = recordings["recording"].isin(labels["recording"])
    drops = concat_drop_reports(source_drop_report, label_drops)
    return recordings.loc[kept].reset_index(drop=True), labels, subjects, drops
