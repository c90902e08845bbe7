"""Reader for PhysioNet's "Gait in Parkinson's Disease" (gaitpdb) pressure-insole recordings.

Layout accepted: ``<root>/demographics.txt`` plus recordings either in ``<root>/recordings/``
(this project's copy) or directly in ``<root>`` (PhysioNet's download). Recording files
``SsGgNN_WW.txt`` or ``.txt.gz`` (study ``Ga``/``Ju``/``Si``, group ``Co``/``Pt``, subject
number ``NN``, walk ``WW``), CRLF or LF line endings, 19 tab-separated numeric columns, no
header, 100 Hz: time (s), vertical ground reaction force (N) of sensors L1–L8, R1–R8, then the
total force under the left and the right foot.

Channels: the 16 sensors by default. The two totals are exact sums of the 8 sensors of a foot,
so they add no information a per-channel recurrence plot could not already see in its inputs
and would cost 2/16 more encoding and model input; ``include_totals=True`` appends them
(``L_total``, ``R_total``).

Demographics (``demographics.txt``) is parsed as published: tab-separated, blank rows, trailing
empty columns, ragged rows, ``NaN`` for missing values, Height in m (Ga) or cm (Ju). Missing
weights and speeds stay NaN (labels are masked downstream, never imputed).
"""

from __future__ import annotations

import gzip
import logging
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from insole_mtl.schema import EXPERIMENT, RECORDING, SUBJECT, TIME
from insole_mtl.sources.cohort import RawCohort
from insole_mtl.sources.recordings import drop_report_frame, log_drop_report


logger = logging.getLogger(__name__)

GAITPDB_SAMPLING_RATE_HZ = 100.0
GAITPDB_SENSOR_CHANNELS: tuple[str, ...] = tuple(f"L{i}" for i in range(1, 9)) + tuple(f"R{i}" for i in range(1, 9))
GAITPDB_TOTAL_CHANNELS: tuple[str, ...] = ("L_total", "R_total")
GAITPDB_N_COLUMNS = 19
DEMOGRAPHICS_FILE = "demographics.txt"
RECORDING_NAME = re.compile(
    r"^(?P<subject>(?P<study>Ga|Ju|Si)(?P<group>Co|Pt)(?P<number>\d{2}))_(?P<walk>\d{2})\.txt(?P<gz>\.gz)?$"
)
# Files that ship with the database and are not recordings: listed in the drop report under
# their own reason rather than as a malformed recording name.
_KNOWN_NON_RECORDINGS = re.compile(r"^(SHA256SUMS.*|demographics\.txt|format\.txt|README.*|RECORDS|LICENSE.*|ANNOTATORS)$")
# Height values below this are metres (Ga study); at or above, centimetres (Ju, Si).
_HEIGHT_METRES_BELOW = 3.0
_RATE_TOLERANCE = 0.01
# A time step longer than this many sampling periods is a gap (lost samples).
_MAX_GAP_PERIODS = 1.5
_READ_THREADS = min(4, os.cpu_count() or 1)

# demographics.txt column -> (subjects column, kind)
_DEMOGRAPHIC_COLUMNS: dict[str, tuple[str, str]] = {
    "Study": ("study", "str"),
    "Group": ("group", "int"),
    "Gender": ("sex", "sex"),
    "Age": ("age", "float"),
    "Height": ("height_cm", "height"),
    "Weight": ("weight_kg", "float"),
    "HoehnYahr": ("hoehn_yahr", "float"),
    "UPDRS": ("updrs", "float"),
    "UPDRSM": ("updrs_motor", "float"),
    "TUAG": ("tuag_s", "float"),
}
_SPEED_COLUMN = re.compile(r"^Speed_(\d{2})$")
_MISSING = {"", "nan", "na", "n/a"}


@dataclass(frozen=True)
class _Demographics:
    subjects: pd.DataFrame  # one row per ID, columns of _DEMOGRAPHIC_COLUMNS (renamed)
    speeds: dict[tuple[str, int], float]  # (subject, walk) -> m/s (NaN when published as NaN)
    blank_rows: int


def _cell_float(text: str, path: Path, line: int, column: str) -> float:
    if text.strip().lower() in _MISSING:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}: line {line}, column {column!r}: expected a number or NaN, got {text!r}") from None


def read_demographics(path: Path) -> _Demographics:
    """Parse ``demographics.txt`` as published (see module docstring).

    Returns:
        Subject table (``subject`` str, ``study`` str, ``group`` int64 (1 PD, 2 control),
        ``parkinsons`` int64 0/1, ``sex`` ``"M"``/``"F"``, ``age`` years, ``height_cm``,
        ``weight_kg``, ``hoehn_yahr``, ``updrs``, ``updrs_motor``, ``tuag_s`` float64, NaN
        where missing), per-walk speeds (m/s) and the number of blank rows.

    Raises:
        FileNotFoundError: no such file.
        ValueError: missing ``ID`` column, duplicate ID, a value in a column without header,
            non-numeric value, group not 1/2, gender not 1/2.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"gaitpdb: demographics file {path} not found")
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()  # handles CRLF and LF
    header_at = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_at is None:
        raise ValueError(f"{path}: file is empty")
    header = [h.strip() for h in lines[header_at].split("\t")]
    while header and not header[-1]:
        header.pop()  # trailing empty columns
    if "ID" not in header:
        raise ValueError(f"{path}: line {header_at + 1}: no 'ID' column in header {header}")
    rows: list[dict[str, object]] = []
    speeds: dict[tuple[str, int], float] = {}
    blank = 0
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        cells = [c.strip() for c in line.split("\t")]
        if not any(cells):
            blank += 1
            continue
        if any(cells[len(header) :]):
            raise ValueError(f"{path}: line {number}: value {next(c for c in cells[len(header):] if c)!r} beyond the {len(header)} header columns")
        cells = (cells + [""] * len(header))[: len(header)]  # ragged rows: pad short ones
        record = dict(zip(header, cells, strict=True))
        subject = record["ID"]
        if not subject:
            raise ValueError(f"{path}: line {number}: empty ID")
        if subject in seen:
            raise ValueError(f"{path}: line {number}: duplicate ID {subject!r} (first on line {seen[subject]})")
        seen[subject] = number
        out: dict[str, object] = {SUBJECT: subject}
        for column, (name, kind) in _DEMOGRAPHIC_COLUMNS.items():
            text = record.get(column, "")
            if kind == "str":
                out[name] = text
                continue
            value = _cell_float(text, path, number, column)
            if kind == "height" and value < _HEIGHT_METRES_BELOW:
                value *= 100.0  # Ga publishes metres, Ju centimetres
            if (kind == "int" or (kind == "sex" and not np.isnan(value))) and value not in (1.0, 2.0):
                raise ValueError(f"{path}: line {number}, column {column!r}: expected 1 or 2, got {text!r}")
            if kind == "sex":
                out[name] = {1.0: "M", 2.0: "F"}.get(value)  # None (missing) when not published
            else:
                out[name] = value
        for column, text in record.items():
            match = _SPEED_COLUMN.match(column)
            if match:
                speeds[(subject, int(match.group(1)))] = _cell_float(text, path, number, column)
        rows.append(out)
    names = [SUBJECT] + [name for name, _ in _DEMOGRAPHIC_COLUMNS.values()]
    subjects = pd.DataFrame(rows, columns=names)
    subjects["group"] = subjects["group"].astype("int64")
    subjects.insert(3, "parkinsons", (subjects["group"] == 1).astype("int64"))
    subjects = subjects.astype({SUBJECT: str, "study": str, "sex": str})
    float_columns = [n for n, k in _DEMOGRAPHIC_COLUMNS.values() if k in ("float", "height")]
    subjects[float_columns] = subjects[float_columns].astype("float64")
    return _Demographics(subjects=subjects, speeds=speeds, blank_rows=blank)


def _open_text(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def _locate_bad_line(path: Path) -> str | None:
    """Slow exact scan used only after the fast parser failed: first malformed line, or None."""
    with _open_text(path) as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if not text.strip():
                continue
            cells = text.split("\t")
            if len(cells) != GAITPDB_N_COLUMNS:
                return f"line {number}: expected {GAITPDB_N_COLUMNS} tab-separated columns, got {len(cells)}"
            for col, cell in enumerate(cells, start=1):
                try:
                    value = float(cell)
                except ValueError:
                    return f"line {number}, column {col}: expected a number, got {cell!r}"
                if not np.isfinite(value):
                    return f"line {number}, column {col}: expected a finite number, got {cell!r}"
    return None


def read_gaitpdb_recording(path: Path) -> np.ndarray:
    """Read one gaitpdb recording file.

    Args:
        path: ``.txt`` or ``.txt.gz`` file, CRLF or LF.

    Returns:
        float64 array of shape (n_samples, 19): time (s), L1–L8, R1–R8, L total, R total (N).

    Raises:
        ValueError: a row without 19 numeric columns (names file and line number), a
            non-increasing time, a sampling interval other than 10 ms, or a gap (a step > 15 ms).
    """
    path = Path(path)
    try:
        # The C engine reads CRLF and LF and decompresses .gz by extension.
        table = pd.read_csv(
            path, sep="\t", header=None, engine="c", dtype="float64", na_filter=True, skip_blank_lines=True
        ).to_numpy()
    except pd.errors.EmptyDataError:  # a ValueError subclass: must come first
        raise ValueError(f"gaitpdb: {path}: file has no rows") from None
    except ValueError as exc:  # includes ParserError (too many fields) and unparsable numbers
        problem = _locate_bad_line(path) or str(exc)
        raise ValueError(f"gaitpdb: {path}: {problem}") from None
    if table.shape[1] != GAITPDB_N_COLUMNS or not np.isfinite(table).all():
        problem = _locate_bad_line(path) or f"expected {GAITPDB_N_COLUMNS} numeric columns, got {table.shape[1]}"
        raise ValueError(f"gaitpdb: {path}: {problem}")
    time = table[:, 0]
    steps = np.diff(time)
    if (steps <= 0).any():
        row = int(np.flatnonzero(steps <= 0)[0]) + 1
        raise ValueError(f"gaitpdb: {path}: time not strictly increasing at data row {row + 1} ({float(time[row])!r} after {float(time[row - 1])!r})")
    if len(steps):
        rate = 1.0 / float(np.median(steps))
        if abs(rate - GAITPDB_SAMPLING_RATE_HZ) > _RATE_TOLERANCE * GAITPDB_SAMPLING_RATE_HZ:
            raise ValueError(f"gaitpdb: {path}: time column implies {rate:.4g} Hz, expected {GAITPDB_SAMPLING_RATE_HZ:g} Hz")
        gaps = np.flatnonzero(steps > _MAX_GAP_PERIODS / GAITPDB_SAMPLING_RATE_HZ)
        if gaps.size:  # none in the published database (largest step 10 ms); windows across a gap would be wrong
            row = int(gaps[0]) + 1
            raise ValueError(
                f"gaitpdb: {path}: gap in the time column at data row {row + 1}: {float(time[row])!r} after "
                f"{float(time[row - 1])!r} (about {int(round(float(steps[gaps[0]]) * GAITPDB_SAMPLING_RATE_HZ)) - 1} "
                f"sample(s) missing; {gaps.size} gap(s) in the file); expected one sample every 0.01 s"
            )
    return table


def _recordings_folder(root: Path) -> Path:
    folder = root / "recordings"
    return folder if folder.is_dir() else root


def read_gaitpdb(
    root: Path, include_totals: bool = False, max_files: int | None = None
) -> tuple[RawCohort, pd.DataFrame]:
    """Read the gaitpdb database into the raw contract.

    Args:
        root: Folder with ``demographics.txt`` and the recordings (in ``recordings/`` or
            directly in ``root``).
        include_totals: Also return the two per-foot total-force channels (default False:
            they are linear sums of the sensors, see module docstring).
        max_files: Read only the first ``max_files`` recording files in name order (for
            quick tests); None reads all.

    Returns:
        ``(cohort, drop_report)``.
        ``cohort.recordings``: ``recording`` (str, file stem such as ``GaCo01_01``),
        ``time_s`` (float64 s, as in the file, 100 Hz), ``L1``…``L8``, ``R1``…``R8``
        (float32, N) [+ ``L_total``, ``R_total``].
        ``cohort.recording_index``: ``recording``, ``subject`` (ID), ``experiment`` (walk
        number WW, int64), ``speed_mps`` (float64, that walk's ``Speed_WW``, NaN if not
        published), ``group`` (int64: 1 PD, 2 control), ``study`` (str).
        ``cohort.subjects`` (subjects with at least one recording): ``subject, study, group,
        parkinsons`` (int64 0/1), ``sex`` (M/F), ``age, height_cm, weight_kg, hoehn_yahr,
        updrs, updrs_motor, tuag_s`` (float64, NaN where not published).
        ``drop_report``: ``stage, item, reason, count``.

    Raises:
        FileNotFoundError: ``root`` or ``demographics.txt`` missing.
        ValueError: malformed recording (file and line named), malformed demographics,
            the same recording as both ``.txt`` and ``.txt.gz``, group/study of a file name
            contradicting demographics, no recording file at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"gaitpdb: folder {root} not found")
    demographics = read_demographics(root / DEMOGRAPHICS_FILE)
    known = demographics.subjects.set_index(SUBJECT)
    drops: list[tuple[str, str, str, int]] = []
    if demographics.blank_rows:
        drops.append(("demographics", DEMOGRAPHICS_FILE, "blank rows", demographics.blank_rows))

    folder = _recordings_folder(root)
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        match = RECORDING_NAME.match(path.name)
        if match is None or not path.is_file():
            if path.is_dir() or (folder == root and _KNOWN_NON_RECORDINGS.match(path.name)):
                continue  # the database's own metadata next to PhysioNet-layout recordings
            reason = "database metadata file, not a recording" if _KNOWN_NON_RECORDINGS.match(path.name) else "name does not match SsGgNN_WW.txt[.gz]"
            drops.append(("files", path.name, reason, 1))
            continue
        stem = match["subject"] + "_" + match["walk"]
        if stem in files:
            raise ValueError(f"gaitpdb: {stem} present twice: {files[stem].name} and {path.name}; keep one")
        files[stem] = path
    if not files:
        raise ValueError(f"gaitpdb: no recording files SsGgNN_WW.txt[.gz] in {folder}")
    stems = sorted(files)
    if max_files is not None:
        stems = stems[:max_files]

    channels = GAITPDB_SENSOR_CHANNELS + (GAITPDB_TOTAL_CHANNELS if include_totals else ())
    n_channels = len(channels)
    names: list[str] = []
    index_rows: list[tuple[str, str, int, float, int, str]] = []
    for stem in stems:
        path = files[stem]
        match = RECORDING_NAME.match(path.name)
        assert match is not None
        subject, walk = match["subject"], int(match["walk"])
        if subject not in known.index:
            drops.append(("recordings", path.name, f"subject {subject} not in {DEMOGRAPHICS_FILE}", 1))
            continue
        meta = known.loc[subject]
        expected_group = 1 if match["group"] == "Pt" else 2
        if int(meta["group"]) != expected_group or meta["study"] != match["study"]:
            raise ValueError(
                f"gaitpdb: {path.name}: file name says study {match['study']} group {expected_group}, "
                f"{DEMOGRAPHICS_FILE} says study {meta['study']} group {int(meta['group'])}"
            )
        names.append(stem)
        speed = demographics.speeds.get((subject, walk), float("nan"))
        index_rows.append((stem, subject, walk, speed, expected_group, match["study"]))
    # Decompression and the C tokenizer release the GIL: a few threads cut the ~240-file read
    # time roughly in proportion to the free cores. map() re-raises the first failing file in
    # name order, so errors are deterministic.
    with ThreadPoolExecutor(max_workers=_READ_THREADS) as pool:
        blocks = [table[:, : 1 + n_channels] for table in pool.map(read_gaitpdb_recording, [files[n] for n in names])]

    used = {row[1] for row in index_rows}
    for subject in demographics.subjects[SUBJECT]:
        if subject not in used and max_files is None:
            drops.append(("subjects", subject, "in demographics but has no recording (e.g. misspelled ID)", 1))
    subjects = demographics.subjects[demographics.subjects[SUBJECT].isin(used)].reset_index(drop=True)

    stacked = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, 1 + n_channels))
    lengths = [len(b) for b in blocks]
    data: dict[str, object] = {
        RECORDING: pd.Series(np.repeat(np.asarray(names, dtype=object), lengths), dtype=str),
        TIME: stacked[:, 0].astype("float64"),
    }
    for j, channel in enumerate(channels, start=1):
        data[channel] = stacked[:, j].astype("float32")
    recordings = pd.DataFrame(data)
    recording_index = pd.DataFrame(
        index_rows, columns=[RECORDING, SUBJECT, EXPERIMENT, "speed_mps", "group", "study"]
    ).astype({RECORDING: str, SUBJECT: str, EXPERIMENT: "int64", "speed_mps": "float64", "group": "int64", "study": str})

    report = drop_report_frame(drops)
    log_drop_report(report, f"gaitpdb {root}", logger)
    logger.info(
        "gaitpdb %s: %d subjects, %d recordings, %d samples, %d channels",
        root, len(subjects), len(recording_index), len(recordings), n_channels,
    )  # fmt: skip
    return RawCohort(recordings=recordings, recording_index=recording_index, subjects=subjects), report


def label_availability(cohort: RawCohort) -> pd.DataFrame:
    """Count how many recordings/subjects carry each gaitpdb label.

    Returns:
        DataFrame indexed by label (``parkinsons``, ``hoehn_yahr``, ``speed_mps``,
        ``weight_kg``, ``height_cm``) with ``subjects`` and ``recordings`` counts (int64)
        of non-missing values, and the totals as ``all``.
    """
    index = cohort.recording_index.merge(cohort.subjects.drop(columns=["study", "group"]), on=SUBJECT, how="left")
    rows = {"all": (cohort.subjects[SUBJECT].nunique(), len(index))}
    for label in ("parkinsons", "hoehn_yahr", "speed_mps", "weight_kg", "height_cm"):
        present = index[label].notna()
        rows[label] = (index.loc[present, SUBJECT].nunique(), int(present.sum()))
    return pd.DataFrame.from_dict(rows, orient="index", columns=["subjects", "recordings"]).astype("int64")
