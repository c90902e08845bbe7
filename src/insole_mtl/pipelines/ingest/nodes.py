"""Ingest nodes: get a raw cohort from the configured source, validate it, resample it and attach task labels."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.schema import GIVEN_SPLIT, RECORDING, TIME
from insole_mtl.signals.labels import label_recordings
from insole_mtl.signals.resample import resample_recordings
from insole_mtl.signals.split import attach_given_split
from insole_mtl.signals.validation import (
    check_drop_limit,
    check_label_ranges,
    check_parameter_keys,
    check_window_fits,
    concat_drop_reports,
    drop_report,
    validate_raw_cohort,
)
from insole_mtl.sources.cohort import SOURCE_WINDOW
from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort

logger = logging.getLogger(__name__)

# Relative tolerance between params:sampling.source_rate_hz and the rate a recording's time column implies.
RATE_TOLERANCE = 0.02
#: keys each parameters block read at ingest may hold (any other key is a typo and refused)
SAMPLING_KEYS: tuple[str, ...] = ("source_rate_hz", "target_rate_hz")
WINDOWING_KEYS: tuple[str, ...] = ("length", "stride")
INGEST_KEYS: tuple[str, ...] = ("max_dropped_fraction", "label_ranges")
SHORT_REASON = "windows: recording shorter than one window"


def check_sampling_rate(recordings: pd.DataFrame, source_rate_hz: float) -> None:
    """Check that every recording's time column matches the configured source rate.

    The rate of a recording is ``1 / median(diff(time_s))``; single-sample recordings are not checked.

    Raises:
        ValueError: naming the first recording whose implied rate differs from ``source_rate_hz`` by more
            than 2 %, with both rates (a source read at 100 Hz but configured as 40 Hz would otherwise be
            windowed 2.5x too long and never resampled).
    """
    if recordings.empty:
        return
    step = recordings.groupby(RECORDING, sort=False)[TIME].diff()
    median = step.groupby(recordings[RECORDING], sort=False).median().dropna()
    if median.empty:
        return
    implied = 1.0 / median.to_numpy(dtype=np.float64)
    bad = np.flatnonzero(np.abs(implied - source_rate_hz) > RATE_TOLERANCE * source_rate_hz)
    if bad.size:
        k = int(bad[0])
        hint = (
            "; the time column looks like milliseconds: expected seconds"
            if abs(implied[k] * 1000.0 - source_rate_hz) <= RATE_TOLERANCE * source_rate_hz
            else " (the pipeline resamples to sampling.target_rate_hz)"
        )
        raise ValueError(
            f"raw_recordings: recording {median.index[k]!r} is sampled at {implied[k]:.4g} Hz (column {TIME!r}) but "
            f"params sampling.source_rate_hz = {source_rate_hz:g} ({bad.size} recording(s) disagree); set "
            f"sampling.source_rate_hz to the rate of the files{hint}"
        )


def check_source_windows(
    recording_index: pd.DataFrame, sampling: Mapping[str, float], windowing: Mapping[str, int]
) -> None:
    """For a source of already-cut windows (``source_window_samples`` in the index), require that the
    windowing stage keeps each given window as it is: same rate in and out, ``windowing.length`` = the
    window length of the source. No-op for continuous recordings.

    Raises:
        ValueError: mixed window lengths, resampling requested, or another window length configured.
    """
    if SOURCE_WINDOW not in recording_index.columns or recording_index.empty:
        return
    lengths = sorted(int(v) for v in pd.unique(recording_index[SOURCE_WINDOW]))
    if len(lengths) != 1:
        raise ValueError(f"raw_recording_index: column {SOURCE_WINDOW!r} has several window lengths {lengths}; expected one")
    source_hz, target_hz = float(sampling["source_rate_hz"]), float(sampling["target_rate_hz"])
    if source_hz != target_hz:
        raise ValueError(
            f"the source holds already-cut windows of {lengths[0]} samples: they cannot be resampled "
            f"(sampling.source_rate_hz = {source_hz:g}, target_rate_hz = {target_hz:g}); set both to the source rate"
        )
    if int(windowing["length"]) != lengths[0]:
        raise ValueError(
            f"the source holds already-cut windows of {lengths[0]} samples but windowing.length = {windowing['length']}; "
            f"set windowing.length: {lengths[0]} so each given window enters the model unchanged"
        )


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
    windowing: Mapping[str, int] | None = None,
    ingest: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate the raw cohort, resample it to the model's rate and label every recording.

    Checks, beyond :func:`validate_raw_cohort`: no unknown key in ``sampling``, ``windowing`` and ``ingest``;
    the time column agrees with ``sampling.source_rate_hz`` (:func:`check_sampling_rate`); for a source of
    already-cut windows, ``windowing`` keeps them as given (:func:`check_source_windows`); every label within
    ``ingest.label_ranges``; ``windowing.length`` not longer than every recording; at most
    ``ingest.max_dropped_fraction`` of the source's recordings skipped (source skips, recordings without an
    activity label, recordings shorter than one window — all listed in the drop report either way).

    Returns:
        ``recordings`` (recording, time_s, channels at ``target_rate_hz``), ``recording_labels`` (one row per
        labelled recording: recording, subject, experiment, activity, speed, weight), ``subjects`` and the
        drop report so far (source + labelling).
    """
    check_parameter_keys("sampling", sampling, SAMPLING_KEYS)
    check_parameter_keys("windowing", windowing, WINDOWING_KEYS)
    check_parameter_keys("ingest", ingest, INGEST_KEYS)
    ingest = dict(ingest or {})
    validate_raw_cohort(raw_recordings, raw_recording_index, raw_subjects, channels)
    check_sampling_rate(raw_recordings, float(sampling["source_rate_hz"]))
    if windowing is not None:
        check_source_windows(raw_recording_index, sampling, windowing)
    recordings = raw_recordings[["recording", "time_s", *channels]]
    recordings = resample_recordings(
        recordings, channels, source_hz=float(sampling["source_rate_hz"]), target_hz=float(sampling["target_rate_hz"])
    )
    subjects = raw_subjects
    if GIVEN_SPLIT in raw_recording_index.columns and GIVEN_SPLIT not in raw_subjects.columns:
        subjects = attach_given_split(raw_subjects, raw_recording_index)
    labels, label_drops = label_recordings(raw_recording_index, subjects, tasks)
    check_label_ranges(labels, ingest.get("label_ranges"), tasks)
    kept = recordings["recording"].isin(labels["recording"])
    drops = concat_drop_reports(source_drop_report, label_drops)
    recordings = recordings.loc[kept].reset_index(drop=True)
    short = 0
    if windowing is not None:
        lengths = recordings.groupby("recording", sort=False).size()
        check_window_fits(lengths, windowing, float(sampling["target_rate_hz"]))
        short = int((lengths < int(windowing["length"])).sum())  # the windowing stage lists each in the drop report
    check_drop_limit(drops, len(labels) - short, {SHORT_REASON: short}, ingest.get("max_dropped_fraction"))
    return recordings, labels, subjects, drops
