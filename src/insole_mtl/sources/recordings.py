"""Reader for a lab's own insole export: one file per subject × experiment.

Format ("recordings folder")
----------------------------
::

    <root>/
        subjects.csv                 one row per subject
        recordings/
            <subject>_EXP<NN>.csv    one file per subject × experiment (or .parquet)
            ...

``subjects.csv``
    Comma-separated with a header. Column ``subject`` (required, unique, read as text so
    ``007`` stays ``007``); ``weight_kg`` (body weight in kg, empty for unknown — the weight
    task then masks that subject); any further columns (``sex``, ``age``, ...) are kept as
    per-subject columns.
``recordings/<subject>_EXP<NN>.csv`` or ``.parquet``
    ``<subject>`` must match a ``subject`` of ``subjects.csv`` (it may contain ``_``);
    ``<NN>`` is the experiment number (``EXP01`` … ``EXP16`` for the paper's protocol, any
    non-negative integer is accepted). Columns: one per configured channel (names exactly
    as configured, e.g. ``x_R, y_R, …, fsr4_L``; order free; extra columns are ignored and
    listed in the drop report) and optionally a time column (default ``time_s``, seconds,
    strictly increasing). Without the time column, time is ``row index / sampling_rate_hz``.
    Every channel value must be a finite number: empty cells, ``NaN`` and text are errors
    (the message names file, row and column). Files at another rate than the pipeline's 40
    Hz are declared with ``sampling_rate_hz`` and resampled downstream.

Files whose name does not match the pattern, empty files, recordings of subjects missing from
``subjects.csv`` and subjects without any recording are skipped and listed in the drop report
(columns ``stage, item, reason, count``), never silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.schema import EXPERIMENT, RECORDING, SUBJECT, TIME
from insole_mtl.signals.validation import DROP_REPORT_COLUMNS, drop_report
from insole_mtl.sources.cohort import RawCohort


logger = logging.getLogger(__name__)

RECORDING_FILE_PATTERN = re.compile(r"^(?P<subject>.+)_EXP(?P<experiment>\d+)\.(?P<ext>csv|parquet)$")
SUBJECTS_FILE = "subjects.csv"
RECORDINGS_DIR = "recordings"
# Relative tolerance between the declared sampling rate and the one implied by the time column.
_RATE_TOLERANCE = 0.02
# A time step longer than this many sampling periods is a gap (lost samples): windows across it would be wrong.
_MAX_GAP_PERIODS = 1.5


def drop_report_frame(rows: Iterable[tuple[str, str, str, int]]) -> pd.DataFrame:
    """Build a drop report (``signals.validation.drop_report`` schema) from tuples.

    Args:
        rows: ``(stage, item, reason, count)``: what was skipped (file, subject, column), at
            which stage, why, and how many units (files, rows, subjects) it concerned.

    Returns:
        DataFrame ``stage, item, reason`` (str), ``count`` (int64); empty with these columns
        when nothing was dropped.
    """
    return drop_report([dict(zip(DROP_REPORT_COLUMNS, row, strict=True)) for row in rows])


def log_drop_report(report: pd.DataFrame, source: str, log: logging.Logger = logger) -> None:
    """Log every drop-report row at WARNING level on ``log`` (one line each): nothing is dropped silently."""
    for row in report.itertuples(index=False):
        log.warning("%s: dropped %s (%s): %s [count=%d]", source, row.item, row.stage, row.reason, row.count)


def _read_subjects(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"recordings folder: subject table {path} not found (expected columns subject, weight_kg, ...)")
    try:
        subjects = pd.read_csv(path, dtype={SUBJECT: str}, engine="c")
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty (0 bytes); expected a header line with 'subject' (and 'weight_kg') and one row per subject") from None
    if SUBJECT not in subjects.columns:
        raise ValueError(f"{path}: missing column 'subject' (columns: {list(subjects.columns)})")
    missing = subjects[SUBJECT].isna()
    if missing.any():
        line = int(np.flatnonzero(missing.to_numpy())[0]) + 2  # +1 header, +1 one-based
        raise ValueError(f"{path}: line {line}: empty 'subject'")
    subjects[SUBJECT] = subjects[SUBJECT].astype(str).str.strip()
    duplicated = subjects[SUBJECT].duplicated()
    if duplicated.any():
        raise ValueError(f"{path}: duplicate subject {subjects[SUBJECT][duplicated].iloc[0]!r}")
    if "weight_kg" in subjects.columns:
        weight = pd.to_numeric(subjects["weight_kg"], errors="coerce")
        bad = weight.isna() & subjects["weight_kg"].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(
                f"{path}: line {i + 2}: column 'weight_kg' must be a number in kg, got {subjects['weight_kg'].iloc[i]!r}"
            )
        subjects["weight_kg"] = weight.astype("float64")
    return subjects


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so error messages show ``nan``/``3.5``, not ``np.float64(...)``."""
    return value.item() if isinstance(value, np.generic) else value


def _numeric_channel(values: pd.Series, path: Path, column: str, header_lines: int) -> np.ndarray:
    """Return ``values`` as float64, raising with file/row/column on text, empty or non-finite cells."""
    if pd.api.types.is_bool_dtype(values) or not (
        pd.api.types.is_numeric_dtype(values) or pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)
    ):
        raise ValueError(f"{path}: column {column!r} has dtype {values.dtype}, expected numbers")
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = ~np.isfinite(numeric)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        location = f"row {row} (line {row + header_lines + 1})" if header_lines else f"row {row}"
        raise ValueError(f"{path}: {location}, column {column!r}: expected a finite number, got {_plain(values.iloc[row])!r}")
    return numeric


def _read_recording_file(
    path: Path, channels: Sequence[str], time_column: str | None, sampling_rate_hz: float
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read one file; return ``time_s`` (n,) float64, channel values (n, C) float64, ignored columns."""
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
        header_lines = 0
    else:
        # Read as text first so a stray word in a number column is reported with its row.
        try:
            frame = pd.read_csv(path, engine="c", dtype=str, keep_default_na=False, na_values=[""])
        except pd.errors.EmptyDataError:
            frame = pd.DataFrame()  # 0 bytes: no header, no rows (counted as an empty file by the caller)
        header_lines = 1
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame.columns) == 0:
        return np.zeros(0), np.zeros((0, len(channels))), []
    # pandas renames a repeated header name x to x.1, x.2, ...: report the name as written in the file
    duplicated = sorted({c.rsplit(".", 1)[0] for c in frame.columns if re.fullmatch(r".+\.\d+", c) and c.rsplit(".", 1)[0] in frame.columns})
    if duplicated:
        raise ValueError(f"{path}: column(s) {duplicated} appear more than once in the header; expected each channel once")
    missing = [c for c in channels if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing channel column(s) {missing} (columns: {list(frame.columns)})")
    used = set(channels) | ({time_column} if time_column else set())
    ignored = [c for c in frame.columns if c not in used]
    values = np.column_stack([_numeric_channel(frame[c], path, c, header_lines) for c in channels]) if len(frame) else np.zeros((0, len(channels)))
    n = len(frame)
    if time_column is not None and time_column in frame.columns:
        time = _numeric_channel(frame[time_column], path, time_column, header_lines)
        steps = np.diff(time)
        if (steps <= 0).any():
            row = int(np.flatnonzero(steps <= 0)[0]) + 1
            raise ValueError(
                f"{path}: column {time_column!r} must be strictly increasing, row {row} has {float(time[row])!r} after {float(time[row - 1])!r}"
            )
        if n > 1:
            implied_hz = 1.0 / float(np.median(steps))
            if abs(implied_hz * 1000.0 - sampling_rate_hz) <= _RATE_TOLERANCE * sampling_rate_hz:
                raise ValueError(
                    f"{path}: column {time_column!r} implies {implied_hz:.4g} Hz but sampling_rate_hz={sampling_rate_hz:g}; "
                    "the column looks like milliseconds: expected seconds"
                )
            if abs(implied_hz - sampling_rate_hz) > _RATE_TOLERANCE * sampling_rate_hz:
                raise ValueError(
                    f"{path}: column {time_column!r} implies {implied_hz:.4g} Hz but sampling_rate_hz={sampling_rate_hz:g}; "
                    "pass the file's real rate as sampling_rate_hz (the pipeline resamples to 40 Hz)"
                )
            gaps = np.flatnonzero(steps > _MAX_GAP_PERIODS / sampling_rate_hz)
            if gaps.size:
                row = int(gaps[0]) + 1
                lost = int(round(float(steps[gaps[0]]) * sampling_rate_hz)) - 1
                raise ValueError(
                    f"{path}: row {row} (line {row + header_lines + 1}), column {time_column!r}: gap of "
                    f"{float(steps[gaps[0]]):.6g} s after {float(time[row - 1])!r} (about {lost} sample(s) missing at "
                    f"{sampling_rate_hz:g} Hz; {gaps.size} gap(s) in the file); expected one sample every "
                    f"{1.0 / sampling_rate_hz:.6g} s: split the recording at the gap into two files"
                )
    else:
        if time_column is not None:
            logger.info("%s: no %r column, time = row index / %g Hz", path, time_column, sampling_rate_hz)
        time = np.arange(n, dtype="float64") / sampling_rate_hz
    return time, values, ignored


def _list_recording_files(folder: Path) -> tuple[list[tuple[Path, str, int]], list[tuple[str, str, str, int]]]:
    """Match file names; return ``(path, subject, experiment)`` sorted by name plus drop rows."""
    matched: dict[tuple[str, int], Path] = {}
    drops: list[tuple[str, str, str, int]] = []
    for path in sorted(p for p in folder.iterdir()):
        match = RECORDING_FILE_PATTERN.match(path.name)
        if not path.is_file() or match is None:
            drops.append(("files", path.name, "name does not match <subject>_EXP<NN>.csv|.parquet", 1))
            continue
        key = (match["subject"], int(match["experiment"]))
        if key in matched:
            raise ValueError(
                f"{folder}: two files for subject {key[0]!r} experiment {key[1]}: {matched[key].name} and {path.name}"
            )
        matched[key] = path
    files = [(p, s, e) for (s, e), p in sorted(matched.items(), key=lambda kv: kv[1].name)]
    return files, drops


def read_recordings_folder(
    root: Path,
    channels: Sequence[str],
    time_column: str | None = "time_s",
    sampling_rate_hz: float = 40.0,
) -> tuple[RawCohort, pd.DataFrame]:
    """Read a recordings folder (format in the module docstring) into the raw contract.

    Args:
        root: Folder holding ``subjects.csv`` and ``recordings/``.
        channels: Channel columns to read, in output order (e.g. ``schema.PAPER_CHANNELS``).
        time_column: Name of the optional time column (seconds); ``None`` always uses
            ``row index / sampling_rate_hz``.
        sampling_rate_hz: Sampling rate of the files in Hz (checked against the time column
            when present, within 2 %).

    Returns:
        ``(cohort, drop_report)``. ``cohort.recordings``: ``recording`` (str, the file stem
        ``<subject>_EXP<NN>``), ``time_s`` (float64 s), one float32 column per channel.
        ``cohort.recording_index``: ``recording, subject, experiment`` (int64).
        ``cohort.subjects``: the rows of ``subjects.csv`` that have recordings, all columns,
        ``weight_kg`` float64 (added as NaN if absent). ``drop_report``: ``stage, item,
        reason, count``.

    Raises:
        FileNotFoundError: ``root``, ``subjects.csv`` or ``recordings/`` missing.
        ValueError: bad subject table, duplicate (subject, experiment), missing channel,
            non-numeric or empty value, non-increasing time, rate mismatch.
    """
    root = Path(root)
    channels = list(channels)
    if not channels:
        raise ValueError("read_recordings_folder: 'channels' is empty")
    if sampling_rate_hz <= 0 or not np.isfinite(sampling_rate_hz):
        raise ValueError(f"read_recordings_folder: sampling_rate_hz must be a positive number, got {sampling_rate_hz!r}")
    folder = root / RECORDINGS_DIR
    if not folder.is_dir():
        raise FileNotFoundError(f"recordings folder: {folder} not found (expected <root>/recordings/<subject>_EXP<NN>.csv)")
    subjects = _read_subjects(root / SUBJECTS_FILE)
    known = set(subjects[SUBJECT])
    files, drops = _list_recording_files(folder)

    names: list[str] = []
    index_rows: list[tuple[str, str, int]] = []
    times: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    ignored_columns: dict[str, int] = {}
    for path, subject, experiment in files:
        if subject not in known:
            drops.append(("recordings", path.name, f"subject {subject!r} not in {SUBJECTS_FILE}", 1))
            continue
        time, values, ignored = _read_recording_file(path, channels, time_column, sampling_rate_hz)
        for column in ignored:
            ignored_columns[column] = ignored_columns.get(column, 0) + 1
        if len(time) == 0:
            drops.append(("recordings", path.name, "empty recording (no rows)", 1))
            continue
        name = path.name.rsplit(".", 1)[0]
        names.append(name)
        index_rows.append((name, subject, experiment))
        times.append(time)
        blocks.append(values)
    for column, count in sorted(ignored_columns.items()):
        drops.append(("columns", column, "column is neither a configured channel nor the time column", count))

    with_recordings = {s for _, s, _ in index_rows}
    for subject in subjects[SUBJECT]:
        if subject not in with_recordings:
            drops.append(("subjects", subject, "subject has no recording", 1))
    subjects = subjects[subjects[SUBJECT].isin(with_recordings)].reset_index(drop=True)
    if "weight_kg" not in subjects.columns:
        subjects["weight_kg"] = np.nan
        drops.append(("subjects", "weight_kg", f"column absent from {SUBJECTS_FILE}: no weight labels", len(subjects)))

    recordings = _long_frame(names, times, blocks, channels)
    recording_index = pd.DataFrame(index_rows, columns=[RECORDING, SUBJECT, EXPERIMENT]).astype(
        {RECORDING: str, SUBJECT: str, EXPERIMENT: "int64"}
    )
    report = drop_report_frame(drops)
    log_drop_report(report, f"recordings folder {root}")
    logger.info("recordings folder %s: %d subjects, %d recordings, %d samples", root, len(subjects), len(names), len(recordings))
    return RawCohort(recordings=recordings, recording_index=recording_index, subjects=subjects), report


def _long_frame(names: list[str], times: list[np.ndarray], blocks: list[np.ndarray], channels: Sequence[str]) -> pd.DataFrame:
    """Stack per-recording arrays into the long raw-recordings table (recording, time_s, channels)."""
    lengths = [len(t) for t in times]
    data: dict[str, Any] = {
        RECORDING: pd.Series(np.repeat(np.asarray(names, dtype=object), lengths), dtype=str),
        TIME: np.concatenate(times) if times else np.zeros(0, dtype="float64"),
    }
    stacked = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, len(channels)))
    for j, channel in enumerate(channels):
        data[channel] = stacked[:, j].astype("float32")
    return pd.DataFrame(data)


def write_recordings_folder(
    cohort: RawCohort,
    out_dir: Path,
    channels: Sequence[str],
    file_format: str = "csv",
    time_column: str | None = "time_s",
) -> Path:
    """Write a :class:`RawCohort` in the recordings-folder format (the inverse of :func:`read_recordings_folder`).

    Args:
        cohort: Cohort whose ``recording_index`` has ``recording, subject, experiment``.
        out_dir: Folder to create (``subjects.csv`` and ``recordings/<subject>_EXP<NN>.<ext>``).
        channels: Channel columns to write, in this order.
        file_format: ``csv`` or ``parquet``.
        time_column: Name of the written time column; None writes no time column.

    Returns:
        ``out_dir``.

    Raises:
        ValueError: unknown format, missing channel, or a recording whose subject/experiment
            cannot be written as ``<subject>_EXP<NN>``.
    """
    if file_format not in ("csv", "parquet"):
        raise ValueError(f"write_recordings_folder: file_format={file_format!r}; expected 'csv' or 'parquet'")
    channels = list(channels)
    missing = [c for c in (RECORDING, TIME, *channels) if c not in cohort.recordings.columns]
    if missing:
        raise ValueError(f"write_recordings_folder: cohort.recordings misses column(s) {missing}")
    out_dir = Path(out_dir)
    folder = out_dir / RECORDINGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    cohort.subjects.to_csv(out_dir / SUBJECTS_FILE, index=False)
    groups = cohort.recordings.groupby(RECORDING, sort=False).indices
    for row in cohort.recording_index.itertuples(index=False):
        name = f"{getattr(row, SUBJECT)}_EXP{int(getattr(row, EXPERIMENT)):02d}"
        rows = groups.get(getattr(row, RECORDING))
        if rows is None:
            continue
        frame = cohort.recordings.iloc[rows][[TIME, *channels]].reset_index(drop=True)
        if time_column is None:
            frame = frame.drop(columns=[TIME])
        elif time_column != TIME:
            frame = frame.rename(columns={TIME: time_column})
        if file_format == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        else:
            frame.to_parquet(folder / f"{name}.parquet", index=False)
    return out_dir
