"""The raw cohort container every source returns (the raw contract of :mod:`insole_mtl.schema`).

Kept in its own module so that any source (synthetic generator, GILON, recordings folder,
gaitpdb) can build one without importing another source. Column-level checks live in
:func:`insole_mtl.signals.validation.validate_raw_cohort`; this container only checks that it
holds three DataFrames.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Optional ``recording_index`` column of a source whose recordings are already-cut windows (the
# GILON release): every recording is one window of this many samples at the source rate. The
# ingest stage then requires ``windowing.length`` to equal it, so the windowing stage passes each
# given window through unchanged (one window per recording) instead of re-cutting it.
SOURCE_WINDOW = "source_window_samples"


@dataclass(frozen=True)
class RawCohort:
    """Three raw tables of one cohort.

    Attributes:
        recordings: Long format, one row per sample: ``recording`` (str), ``time_s`` (float64,
            seconds, strictly increasing within a recording, restarting per recording), then one
            float32 column per channel in the source's channel order.
        recording_index: One row per recording: ``recording`` (str, unique), ``subject`` (str),
            ``experiment`` (int64), plus optional per-recording columns (e.g. ``order``).
        subjects: One row per subject: ``subject`` (str, unique) plus per-subject columns
            (``weight_kg``, ``sex``, ...).
    """

    recordings: pd.DataFrame
    recording_index: pd.DataFrame
    subjects: pd.DataFrame

    def __post_init__(self) -> None:
        for name in ("recordings", "recording_index", "subjects"):
            value = getattr(self, name)
            if not isinstance(value, pd.DataFrame):
                raise TypeError(f"RawCohort.{name}: expected a pandas DataFrame, got {type(value).__name__}")
