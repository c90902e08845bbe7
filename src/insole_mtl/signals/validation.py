"""Validation of the raw cohort contract and the shared drop-report table.

Every source (synthetic generator, GILON, recordings folder, gaitpdb) produces the three raw
tables described in :mod:`insole_mtl.schema`. :func:`validate_raw_cohort` checks them once, at
the entry of the signal pipeline, so later stages can rely on the contract instead of
re-checking it. Errors name the table, the column, the offending recording id / row and what
was expected, so a broken source is fixed from the message alone.

:func:`drop_report` builds the ``stage, item, reason, count`` table that every stage returns to
count what it skips (recordings without a label, recordings shorter than one window, ...):
nothing is ever dropped silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from insole_mtl import schema

logger = logging.getLogger(__name__)

DROP_REPORT_COLUMNS: tuple[str, ...] = ("stage", "item", "reason", "count")
GIVEN_SPLIT_VALUES: frozenset[str] = frozenset({"train", "test"})
_MAX_LISTED = 5  # how many offending ids an error message lists before "... and N more"


def drop_report(rows: Iterable[Mapping[str, object]] = ()) -> pd.DataFrame:
    """Build a drop-report table (possibly empty) with a fixed schema.

    Args:
        rows: Mappings with keys ``stage`` (str, e.g. ``"labels"``), ``item`` (str, e.g. a
            recording id), ``reason`` (str, human-readable) and ``count`` (int, how many units
            of the stage -- recordings, windows -- were skipped for that reason).

    Returns:
        DataFrame with columns ``stage, item, reason`` (str) and ``count`` (int64), one row per
        input mapping, in input order.

    Raises:
        ValueError: If a row misses a key or has a negative count.
    """
    records = []
    for i, row in enumerate(rows):
        missing = [c for c in DROP_REPORT_COLUMNS if c not in row]
        if missing:
            raise ValueError(f"drop_report: row {i} misses key(s) {missing}; expected {list(DROP_REPORT_COLUMNS)}")
        count = int(row["count"])  # type: ignore[call-overload]
        if count < 0:
            raise ValueError(f"drop_report: row {i} has count {count}; expected a count >= 0")
        records.append((str(row["stage"]), str(row["item"]), str(row["reason"]), count))
    frame = pd.DataFrame(records, columns=list(DROP_REPORT_COLUMNS))
    return frame.astype({"stage": "str", "item": "str", "reason": "str", "count": "int64"})


def concat_drop_reports(*reports: pd.DataFrame) -> pd.DataFrame:
    """Concatenate drop reports of several stages into one table with the same schema."""
    frames = [r for r in reports if len(r)]
    if not frames:
        return drop_report()
    for r in frames:
        missing = [c for c in DROP_REPORT_COLUMNS if c not in r.columns]
        if missing:
            raise ValueError(f"concat_drop_reports: a report misses column(s) {missing}")
    return drop_report(pd.concat([r[list(DROP_REPORT_COLUMNS)] for r in frames]).to_dict("records"))


def _fmt_ids(ids: Sequence[object]) -> str:
    """Format a list of offending ids for an error message (first few, then a count)."""
    shown = ", ".join(repr(i) for i in list(ids)[:_MAX_LISTED])
    extra = len(ids) - _MAX_LISTED
    return shown + (f" ... and {extra} more" if extra > 0 else "")


def _require_dataframe(table: object, name: str) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(table).__name__}")
    return table


def _require_columns(table: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name}: missing required column(s) {missing}; present columns: {list(table.columns)}")


def _require_numeric(table: pd.DataFrame, name: str, column: str) -> None:
    dtype = table[column].dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise ValueError(f"{name}: column {column!r} has dtype {dtype}; expected a numeric (int/float) dtype")


def _require_unique(table: pd.DataFrame, name: str, column: str) -> None:
    dup = table[column][table[column].duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{name}: column {column!r} must be unique; duplicated value(s): {_fmt_ids(dup)}")


def _require_no_missing_ids(table: pd.DataFrame, name: str, column: str) -> None:
    missing = table[column].isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise ValueError(f"{name}: column {column!r} has a missing id at row {row}; expected a non-empty id")


def _check_recordings(recordings: pd.DataFrame, channels: Sequence[str]) -> None:
    """Dtypes, finiteness and strictly increasing time of ``raw_recordings``."""
    name = "raw_recordings"
    _require_columns(recordings, name, [schema.RECORDING, schema.TIME, *channels])
    _require_no_missing_ids(recordings, name, schema.RECORDING)
    for column in (schema.TIME, *channels):
        _require_numeric(recordings, name, column)

    # Finite values: one vectorised pass, then locate the first offender for the message.
    values = recordings[[schema.TIME, *channels]].to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        column = [schema.TIME, *channels][col]
        rec = recordings[schema.RECORDING].iloc[row]
        raise ValueError(
            f"{name}: column {column!r} has a non-finite value ({values[row, col]}) in recording {rec!r} "
            f"at row {int(row)} (position in the table); expected finite numbers"
        )

    # Strictly increasing time within each recording, in row order (rows of one recording need
    # not be contiguous, but their order is the sample order).
    step = recordings.groupby(schema.RECORDING, sort=False)[schema.TIME].diff().to_numpy()
    bad = step <= 0  # NaN (first sample of a recording) compares False
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        rec = recordings[schema.RECORDING].iloc[row]
        raise ValueError(
            f"{name}: column {schema.TIME!r} is not strictly increasing in recording {rec!r} at row {row} "
            f"(position in the table; step {float(step[row])!r} s); expected strictly increasing time within a recording"
        )


def _check_index(recording_index: pd.DataFrame, recordings: pd.DataFrame) -> None:
    """Columns, unique ids, integer experiments and coverage of ``raw_recording_index``."""
    name = "raw_recording_index"
    _require_columns(recording_index, name, [schema.RECORDING, schema.SUBJECT, schema.EXPERIMENT])
    for column in (schema.RECORDING, schema.SUBJECT):
        _require_no_missing_ids(recording_index, name, column)
    _require_unique(recording_index, name, schema.RECORDING)

    experiment = recording_index[schema.EXPERIMENT]
    if not pd.api.types.is_integer_dtype(experiment.dtype) or pd.api.types.is_bool_dtype(experiment.dtype):
        raise ValueError(f"{name}: column {schema.EXPERIMENT!r} has dtype {experiment.dtype}; expected an integer dtype")
    if experiment.isna().any():
        row = int(np.flatnonzero(experiment.isna().to_numpy())[0])
        raise ValueError(
            f"{name}: column {schema.EXPERIMENT!r} is missing in recording {recording_index[schema.RECORDING].iloc[row]!r} "
            f"at row {row}; expected an experiment number for every recording"
        )

    indexed = set(recording_index[schema.RECORDING])
    sampled = pd.unique(recordings[schema.RECORDING])
    unindexed = [r for r in sampled if r not in indexed]
    if unindexed:
        raise ValueError(
            f"raw_recordings: recording(s) {_fmt_ids(unindexed)} have samples but no row in {name}; "
            "expected every recording to be listed in the index"
        )
    sampled_set = set(sampled)
    empty = [r for r in recording_index[schema.RECORDING] if r not in sampled_set]
    if empty:
        raise ValueError(
            f"{name}: recording(s) {_fmt_ids(empty)} have no samples in raw_recordings; "
            "expected every indexed recording to have at least one sample"
        )

    if schema.GIVEN_SPLIT in recording_index.columns:
        given = recording_index[schema.GIVEN_SPLIT]
        invalid = ~given.isin(sorted(GIVEN_SPLIT_VALUES))
        if invalid.any():
            row = int(np.flatnonzero(invalid.to_numpy())[0])
            raise ValueError(
                f"{name}: column {schema.GIVEN_SPLIT!r} has value {given.iloc[row]!r} in recording "
                f"{recording_index[schema.RECORDING].iloc[row]!r}; expected one of {sorted(GIVEN_SPLIT_VALUES)}"
            )
        per_subject = recording_index.groupby(schema.SUBJECT)[schema.GIVEN_SPLIT].nunique()
        mixed = per_subject.index[per_subject > 1].tolist()
        if mixed:
            raise ValueError(
                f"{name}: subject(s) {_fmt_ids(mixed)} have recordings in both given splits "
                f"(column {schema.GIVEN_SPLIT!r}); expected one split per subject"
            )


def _check_subjects(subjects: pd.DataFrame, recording_index: pd.DataFrame) -> None:
    name = "raw_subjects"
    _require_columns(subjects, name, [schema.SUBJECT])
    _require_no_missing_ids(subjects, name, schema.SUBJECT)
    _require_unique(subjects, name, schema.SUBJECT)
    known = set(subjects[schema.SUBJECT])
    unknown = [s for s in pd.unique(recording_index[schema.SUBJECT]) if s not in known]
    if unknown:
        raise ValueError(
            f"raw_recording_index: subject(s) {_fmt_ids(unknown)} have no row in {name}; "
            "expected every indexed subject to be listed in the subjects table"
        )


def validate_raw_cohort(
    recordings: pd.DataFrame,
    recording_index: pd.DataFrame,
    subjects: pd.DataFrame,
    channels: Sequence[str],
) -> None:
    """Check the three raw tables against the contract in :mod:`insole_mtl.schema`.

    Checks, in order: ``raw_recordings`` has ``recording``, ``time_s`` and every channel column,
    numeric channels and time, only finite values, and strictly increasing ``time_s`` within each
    recording; ``raw_recording_index`` has ``recording``/``subject``/``experiment``, unique
    recording ids, integer experiments, exactly the recordings that have samples, and (when
    present) a valid per-subject ``given_split``; ``raw_subjects`` has unique ``subject`` ids and
    lists every indexed subject.

    Args:
        recordings: Long-format samples, one row per sample (see schema).
        recording_index: One row per recording.
        subjects: One row per subject.
        channels: Channel column names, in model input order.

    Raises:
        TypeError: If a table is not a DataFrame.
        ValueError: On the first violated expectation, naming table, column, recording/row.
    """
    recordings = _require_dataframe(recordings, "raw_recordings")
    recording_index = _require_dataframe(recording_index, "raw_recording_index")
    subjects = _require_dataframe(subjects, "raw_subjects")
    channels = list(channels)
    if not channels:
        raise ValueError("validate_raw_cohort: channels is empty; expected at least one channel name")
    dup_channels = sorted({c for c in channels if channels.count(c) > 1})
    if dup_channels:
        raise ValueError(f"validate_raw_cohort: channel name(s) {dup_channels} listed more than once")

    _check_recordings(recordings, channels)
    _check_index(recording_index, recordings)
    _check_subjects(subjects, recording_index)
    logger.info(
        "raw cohort valid: %d samples, %d recordings, %d subjects, %d channels",
        len(recordings),
        len(recording_index),
        len(subjects),
        len(channels),
    )


# ------------------------------------------------------------------------------------------------
# Configuration, label plausibility and drop limits (checked at ingest, before any expensive stage)
# ------------------------------------------------------------------------------------------------
#: recording-level stages of a drop report: each row's ``count`` is a number of recordings (files) never used
RECORDING_DROP_STAGES: frozenset[str] = frozenset({"files", "recordings"})


def check_parameter_keys(
    name: str, params: Mapping[str, object] | None, allowed: Sequence[str], where: str = "params"
) -> None:
    """Refuse a parameters block with a key the code does not read (a typo would otherwise be ignored).

    Raises:
        ValueError: ``{where} {name}: unknown key(s) [...]; allowed: [...]`` (with the closest allowed key).
    """
    if params is None:
        return
    if not isinstance(params, Mapping):
        raise ValueError(f"{where} {name}: expected a mapping of keys {sorted(allowed)}, got {type(params).__name__} {params!r}")
    unknown = sorted(str(k) for k in params if k not in allowed)
    if unknown:
        import difflib

        hints = [f"{k!r} -> {m[0]!r}" for k in unknown if (m := difflib.get_close_matches(k, list(allowed), n=1))]
        hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
        raise ValueError(f"{where} {name}: unknown key(s) {unknown}; allowed: {sorted(allowed)}{hint}")


def check_label_ranges(
    labels: pd.DataFrame, ranges: Mapping[str, Sequence[float]] | None, tasks: Mapping[str, Mapping[str, object]]
) -> None:
    """Refuse labels outside their plausible range (negative or absurd weights and speeds, a unit mismatch).

    Args:
        labels: ``recording_labels`` (``recording``, ``subject``, one column per task; NaN = masked).
        ranges: ``params:ingest.label_ranges``, task -> ``[low, high]`` in the task's unit (after its ``scale``);
            a task without a range is not checked.
        tasks: ``params:tasks`` (the ``unit`` of each task, for the message).

    Raises:
        ValueError: naming the first recording and subject outside the range, the value, the range, how many
            recordings are outside, and the likely cause.
    """
    for task, bounds in (ranges or {}).items():
        if task not in tasks:
            raise ValueError(f"params ingest.label_ranges: task {task!r} is not configured; configured tasks: {sorted(tasks)}")
        if not isinstance(bounds, Sequence) or len(bounds) != 2 or not float(bounds[0]) <= float(bounds[1]):
            raise ValueError(f"params ingest.label_ranges.{task}: expected [low, high] with low <= high, got {bounds!r}")
        if task not in labels.columns:
            continue
        low, high = float(bounds[0]), float(bounds[1])
        values = labels[task].to_numpy(dtype=np.float64)
        outside = np.flatnonzero(~np.isnan(values) & ((values < low) | (values > high)))
        if outside.size:
            i = int(outside[0])
            unit = str(tasks[task].get("unit", "")) if isinstance(tasks[task], Mapping) else ""
            u = f" {unit}" if unit else ""
            raise ValueError(
                f"recording_labels: task {task!r} = {values[i]:g}{u} for recording {labels['recording'].iloc[i]!r} "
                f"(subject {labels['subject'].iloc[i]!r}; {outside.size} recording(s) outside); expected "
                f"{low:g} <= {task} <= {high:g}{u} (params ingest.label_ranges.{task}): a negative value, a typo or "
                f"another unit in the source (grams, pounds, m/s instead of km/h)?"
            )


def check_window_fits(lengths: pd.Series, windowing: Mapping[str, int], rate_hz: float) -> None:
    """Refuse a window longer than every recording (the run would have no window at all).

    Args:
        lengths: samples per recording at the model's rate (index: recording id).
        windowing: ``params:windowing`` (``length`` in samples).
        rate_hz: the model's rate (``sampling.target_rate_hz``).
    """
    length = int(windowing["length"])
    if len(lengths) and int(lengths.max()) < length:
        longest = lengths.idxmax()
        raise ValueError(
            f"params windowing.length = {length} samples ({length / rate_hz:g} s at {rate_hz:g} Hz) is longer than every "
            f"recording (the longest, {longest!r}, has {int(lengths.max())} samples); expected windowing.length <= "
            f"{int(lengths.max())}"
        )


def check_drop_limit(
    report: pd.DataFrame, n_used: int, n_dropped_here: Mapping[str, int], max_fraction: float | None
) -> None:
    """Turn too many skipped recordings into an error (``params:ingest.max_dropped_fraction``).

    Args:
        report: drop report so far; rows of :data:`RECORDING_DROP_STAGES` count recordings the source skipped
            and rows whose reason ends with ``(recording excluded)`` recordings the labelling excluded.
        n_used: recordings that will give at least one window.
        n_dropped_here: further skips not in ``report`` yet, reason -> recordings (e.g. shorter than one window).
        max_fraction: largest share of skipped recordings accepted (None = no limit).

    Raises:
        ValueError: ``<k> of <n> recordings (<p> %) are skipped, more than ingest.max_dropped_fraction`` with the
            reasons and counts (largest first).
    """
    reasons: dict[str, int] = {}
    for row in report.itertuples(index=False):
        if row.stage in RECORDING_DROP_STAGES or str(row.reason).endswith("(recording excluded)"):
            key = f"{row.stage}: {row.reason}" if row.stage in RECORDING_DROP_STAGES else str(row.reason)
            reasons[key] = reasons.get(key, 0) + int(row.count)
    for reason, count in n_dropped_here.items():
        if count:
            reasons[reason] = reasons.get(reason, 0) + int(count)
    dropped = sum(reasons.values())
    total = n_used + dropped
    if total == 0:
        raise ValueError("ingest: the source holds no recording")
    if n_used == 0:
        raise ValueError(f"ingest: all {total} recording(s) are skipped ({_fmt_reasons(reasons)}); nothing is left to train on")
    if max_fraction is None:
        return
    if not 0.0 <= float(max_fraction) <= 1.0:
        raise ValueError(f"params ingest.max_dropped_fraction: expected a number in [0, 1] or null, got {max_fraction!r}")
    if dropped > float(max_fraction) * total:
        raise ValueError(
            f"ingest: {dropped} of {total} recordings ({100.0 * dropped / total:.1f} %) are skipped, more than params "
            f"ingest.max_dropped_fraction = {float(max_fraction):g}: {_fmt_reasons(reasons)}; fix the source or raise "
            "the limit (the drop report lists every skipped item)"
        )


def _fmt_reasons(reasons: Mapping[str, int]) -> str:
    ordered = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{count} x {reason}" for reason, count in ordered[:_MAX_LISTED])
    extra = len(ordered) - _MAX_LISTED
    return shown + (f" ... and {extra} more reason(s)" if extra > 0 else "")
