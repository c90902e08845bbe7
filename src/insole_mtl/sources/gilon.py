"""Reader (and fixture writer) for the GILON multitask dataset release (SPEC §1).

The authors distribute four CSVs, ``{train,test}_{feature,label}_chunk40_window160_72users.csv``
(50 train and 22 test subjects):

feature file
    Columns ``EXP, GLOBAL_ID, x_R, y_R, z_R, x_L, y_L, z_L, fsr1_R … fsr4_L``
    (``schema.PAPER_CHANNELS``); each window is 160 consecutive rows (4 s at 40 Hz) sharing a
    ``GLOBAL_ID``.
label file
    One row per ``GLOBAL_ID`` with at least ``ID`` (subject), ``GLOBAL_ID``, ``EXP``,
    ``Weight`` (kg), ``SPEED`` (km/h); the release also carries ``ACTIVITY`` and ``Site``.
    Other columns are ignored and listed in the drop report.
``cv_dict.pkl`` (optional, beside the CSVs)
    The authors' five user-disjoint folds ``{fold: [ID, ...]}``; read into ``subjects.given_fold``
    (:func:`read_gilon_folds`, plain values only).

Labels as the authors' public loaders read them: the activity class is derived from ``EXP``
(``EXP01``–``EXP16`` → the 7 Table I classes); the release's ``ACTIVITY`` encoding is never
relied on, only cross-checked (read as a class id 0–6 or a Table I class name; windows where it
disagrees with ``EXP`` are counted in the drop report). ``EXP`` is read both as ``EXP01`` text
and as a plain integer and must be one of Table I's 16 experiments. ``ID`` is kept as text
(``007`` stays ``007``); ``Site`` goes to ``recording_index.site``.

The windows are already cut, so each one becomes its own 160-sample recording
``G<GLOBAL_ID>`` (time 0 … 3.975 s): the windowing stage (160 samples, stride 40) then yields
exactly that window. The index column ``source_window_samples`` (= 160) tells the ingest stage
that these recordings are given windows: it then refuses a ``windowing.length`` other than 160
or a resampling, so the windows enter the windowing stage as released (one window each, never
re-cut). The release's train/test assignment is kept in ``given_split``; the split stage keeps
it and builds the subject folds from the train subjects only: the authors' folds of ``cv_dict.pkl``
(``given_fold``) when the release has that file (``split.folds: auto``), else drawn.

``write_gilon_fixture`` emits the same four files and ``cv_dict.pkl`` from any :class:`RawCohort` with the paper's
channels at 40 Hz (e.g. the synthetic one), so the reader can be tried without the gated data.
Its labels follow Table I: ``Weight`` = the subject's ``weight_kg``; ``SPEED`` = 0 for EXP01–02
(standing), the treadmill speed for EXP03–11 and, as the release does, filled for EXP12–16 (8 for
EXP12–13, 0 for EXP14–16: :data:`GILON_FIXTURE_SPEED_NOT_USED`; the paper marks speed "N.U" there
and the speed task uses EXP01–11 only); ``ACTIVITY`` = the Table I class id; ``Site`` = the
subject's ``site`` (or ``lab``); ``cv_dict.pkl`` deals the sorted train IDs round-robin into 5
folds. :func:`full_size_gilon_fixture` writes a release of the real
size (about 7.6 M integer feature rows) for memory measurements.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from insole_mtl.schema import EXPERIMENT, GIVEN_FOLD, GIVEN_SPLIT, PAPER_CHANNELS, RECORDING, SUBJECT, TIME
from insole_mtl.sources.cohort import SOURCE_WINDOW, RawCohort
from insole_mtl.sources.recordings import drop_report_frame, log_drop_report

logger = logging.getLogger(__name__)

GILON_WINDOW = 160
GILON_SAMPLING_RATE_HZ = 40.0
GILON_SPLITS: tuple[str, ...] = ("train", "test")
GILON_FEATURE_ID_COLUMNS: tuple[str, ...] = ("EXP", "GLOBAL_ID")
#: columns a label file must have; ``ACTIVITY`` (cross-checked against EXP) and ``Site`` are read when present
GILON_LABEL_COLUMNS: tuple[str, ...] = ("ID", "GLOBAL_ID", "EXP", "Weight", "SPEED")
GILON_OPTIONAL_LABEL_COLUMNS: tuple[str, ...] = ("ACTIVITY", "Site")
#: the columns the fixture writes, as the release's label files
GILON_FIXTURE_LABEL_COLUMNS: tuple[str, ...] = (*GILON_LABEL_COLUMNS, "ACTIVITY", "Site")
#: the authors' user-disjoint folds beside the CSVs: ``{fold: [ID, ...]}``
GILON_FOLDS_FILE = "cv_dict.pkl"
#: SPEED the release carries for EXP12-16 (not a treadmill speed; the speed task covers EXP01-11 only)
GILON_FIXTURE_SPEED_NOT_USED: dict[int, float] = {12: 8.0, 13: 8.0, 14: 0.0, 15: 0.0, 16: 0.0}
ACTIVITY_NAMES: tuple[str, ...] = (
    "Stand Still", "Treadmill Walk", "Treadmill Run", "Ground Walk", "Squat", "Lunge", "Jumping Jack",
)  # fmt: skip
# Table I: experiment -> (activity class id, speed km/h; NaN = "not used" for speed)
TABLE_I: dict[int, tuple[int, float]] = {
    1: (0, 0.0), 2: (0, 0.0),
    3: (1, 3.0), 4: (1, 3.5), 5: (1, 4.0), 6: (1, 4.5), 7: (1, 5.0), 8: (1, 5.5),
    9: (2, 7.0), 10: (2, 7.5), 11: (2, 8.0),
    12: (3, math.nan), 13: (3, math.nan), 14: (4, math.nan), 15: (5, math.nan), 16: (6, math.nan),
}  # fmt: skip
_EXP_PATTERN = re.compile(r"^\s*(?:EXP)?\s*(\d+)(?:\.0*)?\s*$", re.IGNORECASE)
_INT_PATTERN = re.compile(r"^\s*(\d+)(?:\.0*)?\s*$")
_ACTIVITY_BY_KEY = {re.sub(r"[^a-z]", "", name.lower()): i for i, name in enumerate(ACTIVITY_NAMES)}


def gilon_file_name(split: str, kind: str) -> str:
    """Release file name, e.g. ``gilon_file_name("train", "feature")``."""
    return f"{split}_{kind}_chunk40_window160_72users.csv"


def _plain(value: object) -> object:
    """numpy scalar -> Python scalar, so error messages show ``nan``/``3.5``, not ``np.float64(...)``."""
    return value.item() if isinstance(value, np.generic) else value


def _line(row: int) -> int:
    """CSV line number (1-based, header on line 1) of 0-based data row ``row``."""
    return row + 2


def _parse_codes(values: pd.Series, parse: Callable[[str], object], path: Path, column: str, expected: str) -> np.ndarray:
    """Parse each distinct text value once with ``parse`` (returns None when invalid)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        raise ValueError(f"{path}: line {_line(int(np.flatnonzero(codes < 0)[0]))}, column {column!r}: empty value, expected {expected}")
    parsed = [parse(str(u)) for u in uniques]
    for k, value in enumerate(parsed):
        if value is None:
            row = int(np.flatnonzero(codes == k)[0])
            raise ValueError(f"{path}: line {_line(row)}, column {column!r}: expected {expected}, got {uniques[k]!r}")
    return np.asarray(parsed)[codes]


def _parse_experiment(text: str) -> int | None:
    match = _EXP_PATTERN.match(text)
    return int(match.group(1)) if match else None


def _parse_activity(text: str) -> int | None:
    match = _INT_PATTERN.match(text)
    if match:
        value = int(match.group(1))
        return value if value < len(ACTIVITY_NAMES) else None
    return _ACTIVITY_BY_KEY.get(re.sub(r"[^a-z]", "", text.lower()))


def _check_table_i(experiments: np.ndarray, text: pd.Series, path: Path) -> None:
    """Every experiment must be one of Table I's EXP01-EXP16 (the activity class is derived from it)."""
    outside = np.flatnonzero(~np.isin(experiments, list(TABLE_I)))
    if outside.size:
        row = int(outside[0])
        raise ValueError(f"{path}: line {_line(row)}, column 'EXP': expected an experiment EXP01-EXP16 of Table I, got {text.iloc[row]!r}")


def _activity_from_experiment(
    window_exp: np.ndarray, labels: pd.DataFrame, at: np.ndarray, order_ids: np.ndarray, path: Path,
    drops: list[tuple[str, str, str, int]],
) -> np.ndarray:
    """Activity class id of each window from its EXP (Table I), as the authors' loaders do; the release's own
    ``ACTIVITY`` column (encoding undocumented) is only cross-checked: disagreeing or unreadable values are counted
    in the drop report (stage ``labels``) and logged, never used."""
    derived = np.array([TABLE_I[int(e)][0] for e in window_exp], dtype="int64")
    if "ACTIVITY" not in labels.columns or not len(derived):
        return derived
    released = labels["ACTIVITY"].to_numpy(dtype=object)[at]
    parsed = np.array([(_parse_activity(str(v)) if isinstance(v, str) and v.strip() else None) for v in released], dtype=object)
    disagree = np.flatnonzero(np.array([p != d for p, d in zip(parsed, derived, strict=True)], dtype=bool))
    if disagree.size:
        k = int(disagree[0])
        first = (
            f"first: GLOBAL_ID {order_ids[k]}, ACTIVITY {released[k]!r}, EXP{int(window_exp[k]):02d} -> class "
            f"{int(derived[k])} {ACTIVITY_NAMES[int(derived[k])]!r}"
        )
        reason = f"ACTIVITY disagrees with the Table I class of EXP ({first}); the activity is taken from EXP"
        drops.append(("labels", f"{path.name}:ACTIVITY", reason, int(disagree.size)))
        logger.warning("%s: %d window(s): %s", path, disagree.size, reason)
    return derived


def read_gilon_folds(root: Path, subjects: pd.DataFrame) -> pd.Series | None:
    """The authors' user-disjoint folds from ``<root>/cv_dict.pkl`` (``{fold: [ID, ...]}``), if present.

    Only plain containers, numbers and strings (and numpy scalars) are unpickled: the file cannot run code.

    Returns:
        ``given_fold`` (int64) per subject of ``subjects`` (index aligned; -1 = in no fold), or None without the file.

    Raises:
        ValueError: not a mapping of lists, an ID in two folds, or an ID that is not a subject of the release.
    """
    import pickle

    path = Path(root) / GILON_FOLDS_FILE
    if not path.is_file():
        return None

    class _PlainUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> object:
            if module.split(".")[0] == "numpy" and name in ("scalar", "dtype", "_reconstruct", "ndarray"):
                return super().find_class(module, name)
            raise ValueError(f"{path}: holds a {module}.{name} object; expected a dict {{fold: [ID, ...]}} of plain values")

    with open(path, "rb") as handle:
        folds = _PlainUnpickler(handle).load()
    if not isinstance(folds, dict) or not all(isinstance(v, (list, tuple, np.ndarray)) for v in folds.values()):
        raise ValueError(f"{path}: expected a dict {{fold: [ID, ...]}}, got {type(folds).__name__}")
    known = set(subjects[SUBJECT].astype(str))
    fold_of: dict[str, int] = {}
    for number, (fold, ids) in enumerate(sorted(folds.items(), key=lambda kv: str(kv[0]))):
        for raw in ids:
            subject = str(raw.item() if isinstance(raw, np.generic) else raw).strip()
            if subject not in known:
                raise ValueError(f"{path}: fold {fold!r} lists ID {subject!r}, which is not a subject of the release")
            if subject in fold_of:
                raise ValueError(f"{path}: ID {subject!r} is in two folds ({sorted(folds, key=str)[fold_of[subject]]!r} and {fold!r}); expected user-disjoint folds")
            fold_of[subject] = number
    return subjects[SUBJECT].astype(str).map(fold_of).fillna(-1).astype("int64")


def _global_ids(values: pd.Series, path: Path) -> np.ndarray:
    """GLOBAL_ID as canonical text: integers without a fractional ``.0``, other ids stripped."""
    def parse(text: str) -> str | None:
        match = _INT_PATTERN.match(text)
        return str(int(match.group(1))) if match else (text.strip() or None)

    return _parse_codes(values, parse, path, "GLOBAL_ID", "a window id").astype(object)


def _numeric(frame: pd.DataFrame, column: str, path: Path, allow_nan: bool) -> np.ndarray:
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = np.isnan(values) & frame[column].notna().to_numpy() if allow_nan else ~np.isfinite(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: line {_line(row)}, column {column!r}: expected a number, got {_plain(frame[column].iloc[row])!r}")
    return values


def _read_csv(path: Path, required: Sequence[str], text_columns: Sequence[str], literal_na: bool = False) -> pd.DataFrame:
    """``literal_na``: only an empty cell is missing (``n/a``, ``NaN`` stay text, so an error shows them as written)."""
    if not path.is_file():
        raise FileNotFoundError(f"GILON release: file {path.name} not found in {path.parent}")
    na = {"keep_default_na": False, "na_values": [""]} if literal_na else {}
    try:
        # literal_na (the 7.6 M-row feature files): ids as categories, a few int32 codes per row instead of a
        # Python string per row (about 1 GB less at the release's size)
        text_dtype = "category" if literal_na else str
        frame = pd.read_csv(path, engine="c", dtype={c: text_dtype for c in text_columns}, **na)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: file is empty (0 bytes); expected a header line with {list(required)}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (columns: {list(frame.columns)})")
    return frame


def _read_split(root: Path, split: str, drops: list[tuple[str, str, str, int]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read and cross-check one split; return (window-level index, feature rows)."""
    feature_path = root / gilon_file_name(split, "feature")
    label_path = root / gilon_file_name(split, "label")
    features = _read_csv(feature_path, (*GILON_FEATURE_ID_COLUMNS, *PAPER_CHANNELS), GILON_FEATURE_ID_COLUMNS, literal_na=True)
    labels = _read_csv(label_path, GILON_LABEL_COLUMNS, ("ID", "GLOBAL_ID", "EXP", "ACTIVITY", "Site"))
    label_known = (*GILON_LABEL_COLUMNS, *GILON_OPTIONAL_LABEL_COLUMNS)
    for path, frame, known in ((feature_path, features, (*GILON_FEATURE_ID_COLUMNS, *PAPER_CHANNELS)), (label_path, labels, label_known)):
        for column in frame.columns:
            if column not in known:
                drops.append(("columns", f"{path.name}:{column}", "column not used by the pipeline", 1))

    gid = _global_ids(features["GLOBAL_ID"], feature_path)
    codes, order_ids = pd.factorize(gid, sort=False)
    sizes = np.bincount(codes, minlength=len(order_ids))
    wrong = np.flatnonzero(sizes != GILON_WINDOW)
    if wrong.size:
        k = int(wrong[0])
        raise ValueError(
            f"{feature_path}: GLOBAL_ID {order_ids[k]} has {sizes[k]} rows, expected {GILON_WINDOW} "
            f"({wrong.size} window(s) affected)"
        )
    runs = int(np.count_nonzero(np.diff(codes))) + 1 if len(codes) else 0
    if runs != len(order_ids):
        row = int(np.flatnonzero(np.diff(codes) != 0)[0]) + 1
        raise ValueError(f"{feature_path}: rows of a GLOBAL_ID are not consecutive (line {_line(row)})")
    feature_exp = _parse_codes(features["EXP"], _parse_experiment, feature_path, "EXP", "EXPnn or an integer").astype("int64")
    _check_table_i(feature_exp, features["EXP"], feature_path)
    per_window_exp = feature_exp.reshape(-1, GILON_WINDOW) if len(codes) else np.zeros((0, GILON_WINDOW), "int64")
    mixed = np.flatnonzero((per_window_exp != per_window_exp[:, :1]).any(axis=1))
    if mixed.size:
        raise ValueError(f"{feature_path}: GLOBAL_ID {order_ids[int(mixed[0])]} has rows of several experiments")

    label_gid = _global_ids(labels["GLOBAL_ID"], label_path)
    duplicated = pd.Series(label_gid).duplicated().to_numpy()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated)[0])
        raise ValueError(f"{label_path}: line {_line(row)}: GLOBAL_ID {label_gid[row]} listed twice")
    label_pos = pd.Index(label_gid)
    feature_set, label_set = set(order_ids), set(label_gid)
    only_features = [g for g in order_ids if g not in label_set]
    only_labels = [g for g in label_gid if g not in feature_set]
    if only_features or only_labels:
        raise ValueError(
            f"GLOBAL_ID mismatch between {feature_path.name} and {label_path.name}: "
            f"{len(only_features)} window(s) without label (e.g. {only_features[:5]}), "
            f"{len(only_labels)} label(s) without window (e.g. {only_labels[:5]})"
        )
    at = label_pos.get_indexer(order_ids)  # label row of each window, in feature-file order
    label_exp_rows = _parse_codes(labels["EXP"], _parse_experiment, label_path, "EXP", "EXPnn or an integer").astype("int64")
    _check_table_i(label_exp_rows, labels["EXP"], label_path)
    label_exp = label_exp_rows[at]
    window_exp = per_window_exp[:, 0]
    clash = np.flatnonzero(label_exp != window_exp)
    if clash.size:
        k = int(clash[0])
        raise ValueError(
            f"EXP mismatch for GLOBAL_ID {order_ids[k]}: {feature_path.name} says {window_exp[k]}, "
            f"{label_path.name} says {label_exp[k]}"
        )
    ids = labels["ID"].astype(str).str.strip()
    empty = (labels["ID"].isna() | (ids == "")).to_numpy()
    if empty.any():
        raise ValueError(f"{label_path}: line {_line(int(np.flatnonzero(empty)[0]))}, column 'ID': empty subject id")
    subject = ids.to_numpy(dtype=object)
    index = pd.DataFrame(
        {
            RECORDING: pd.Series([f"G{g}" for g in order_ids], dtype=str),
            SUBJECT: pd.Series(subject[at], dtype=str),
            EXPERIMENT: window_exp.astype("int64"),
            GIVEN_SPLIT: pd.Series([split] * len(order_ids), dtype=str),
            "speed_kmh": _numeric(labels, "SPEED", label_path, allow_nan=True)[at],
            "activity": _activity_from_experiment(window_exp, labels, at, order_ids, label_path, drops),
            "weight_kg": _numeric(labels, "Weight", label_path, allow_nan=True)[at],
            "global_id": pd.Series(order_ids, dtype=str),
            SOURCE_WINDOW: np.full(len(order_ids), GILON_WINDOW, dtype="int64"),
        }
    )
    if "Site" in labels.columns:
        index["site"] = pd.Series(labels["Site"].fillna("").astype(str).str.strip().to_numpy()[at], dtype=str)
    # one channel at a time, float32 as soon as it is checked, the parsed column freed: the full-size release's
    # 7.6 M rows x 14 channels never exist twice in float64
    channel_values = {}
    for c in PAPER_CHANNELS:
        channel_values[c] = _numeric(features, c, feature_path, allow_nan=False).astype("float32")
        del features[c]
    return index, pd.DataFrame(channel_values)


def _subject_table(index: pd.DataFrame) -> pd.DataFrame:
    """One row per subject: weight (must be constant per subject) and given split."""
    spread = index.groupby(SUBJECT, sort=False)["weight_kg"].agg(["min", "max"])
    varying = spread.index[(spread["max"] - spread["min"]).abs() > 1e-9]
    if len(varying):
        raise ValueError(f"GILON release: subject {varying[0]!r} has several Weight values {sorted(float(v) for v in index.loc[index[SUBJECT] == varying[0], 'weight_kg'].unique())}")
    # "first" skips NaN: a subject whose weight is given on some rows only keeps that weight.
    table = index.groupby(SUBJECT, sort=False).agg(weight_kg=("weight_kg", "first"), given_split=(GIVEN_SPLIT, "first"))
    return table.reset_index().astype({SUBJECT: str, "weight_kg": "float64", GIVEN_SPLIT: str})


def read_gilon(root: Path) -> tuple[RawCohort, pd.DataFrame]:
    """Read the four GILON release CSVs into the raw contract.

    Args:
        root: Folder holding ``{train,test}_{feature,label}_chunk40_window160_72users.csv``.

    Returns:
        ``(cohort, drop_report)``.
        ``cohort.recordings``: one 160-sample recording per window, ``recording`` =
        ``G<GLOBAL_ID>`` (str), ``time_s`` = 0, 0.025, …, 3.975 (float64), the 14
        ``PAPER_CHANNELS`` (float32), train windows then test windows in file order.
        ``cohort.recording_index``: ``recording, subject`` (str(ID)), ``experiment`` (int64),
        ``given_split`` (``train``/``test``), ``speed_kmh`` (float64, SPEED as released),
        ``activity`` (int64, the Table I class of EXP), ``global_id`` (str), ``source_window_samples``
        (int64, 160: each recording is one given window), ``site`` (str, when the label files have ``Site``).
        ``cohort.subjects``: ``subject, weight_kg`` (float64), ``given_split``, ``given_fold`` (int64, the
        authors' fold, -1 = none; only with ``cv_dict.pkl``).
        ``drop_report``: ignored columns (stage ``columns``) and ``ACTIVITY`` values that disagree with
        ``EXP`` (stage ``labels``, count = windows); nothing is ever skipped — every other inconsistency
        is an error.

    Raises:
        FileNotFoundError: a release file is missing (named).
        ValueError: missing columns; a GLOBAL_ID with other than 160 rows, non-consecutive
            rows or several experiments; GLOBAL_IDs of feature and label files differ; EXP of
            the two files differs; a subject (or GLOBAL_ID) in both train and test (leak); a
            subject with several weights; an EXP outside Table I; unparsable EXP/number (file and line);
            an empty file or header-only training files; a malformed ``cv_dict.pkl``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"GILON release: folder {root} not found")
    for split in GILON_SPLITS:  # name every missing file before parsing anything
        for kind in ("feature", "label"):
            if not (root / gilon_file_name(split, kind)).is_file():
                raise FileNotFoundError(f"GILON release: file {gilon_file_name(split, kind)} not found in {root}")
    drops: list[tuple[str, str, str, int]] = []
    parts = [_read_split(root, split, drops) for split in GILON_SPLITS]
    train_index, test_index = parts[0][0], parts[1][0]
    if train_index.empty:
        raise ValueError(f"{root / gilon_file_name('train', 'feature')}: header only, no data rows; expected the training windows")
    if test_index.empty:
        logger.warning("GILON release %s: the test files hold no window (header only)", root)
    leaked = sorted(set(train_index[SUBJECT]) & set(test_index[SUBJECT]))
    if leaked:
        raise ValueError(f"GILON release: subject(s) {leaked[:5]} appear in both the train and the test files (subject leak)")
    shared = sorted(set(train_index[RECORDING]) & set(test_index[RECORDING]))
    if shared:
        raise ValueError(f"GILON release: GLOBAL_ID(s) {[s[1:] for s in shared[:5]]} appear in both the train and the test files")

    index = pd.concat([p[0] for p in parts], ignore_index=True)
    values = pd.concat([p[1] for p in parts], ignore_index=True)
    subjects = _subject_table(index)
    folds = read_gilon_folds(root, subjects)
    if folds is not None:
        subjects[GIVEN_FOLD] = folds.to_numpy()
        logger.info("GILON release %s: the authors' folds from %s (%d folds)", root, GILON_FOLDS_FILE, int(folds.max()) + 1)
    recording_index = index.drop(columns=["weight_kg"])
    n_windows = len(recording_index)
    recordings = pd.DataFrame(
        {
            RECORDING: pd.Series(np.repeat(recording_index[RECORDING].to_numpy(dtype=object), GILON_WINDOW), dtype=str),
            TIME: np.tile(np.arange(GILON_WINDOW, dtype="float64") / GILON_SAMPLING_RATE_HZ, n_windows),
            **{c: values[c].to_numpy(dtype="float32") for c in PAPER_CHANNELS},
        }
    )
    report = drop_report_frame(drops)
    log_drop_report(report, f"GILON release {root}", logger)
    logger.info(
        "GILON release %s: %d subjects (%d train, %d test), %d windows",
        root, len(subjects), train_index[SUBJECT].nunique(), test_index[SUBJECT].nunique(), n_windows,
    )  # fmt: skip
    return RawCohort(recordings=recordings, recording_index=recording_index, subjects=subjects), report


def write_gilon_fixture(
    cohort: RawCohort,
    subjects_test: set[str],
    out_dir: Path,
    window: int = GILON_WINDOW,
    stride: int = 40,
    n_folds: int | None = 5,
) -> dict[str, Path]:
    """Write a RawCohort as the four GILON release CSVs (labels per Table I, see module doc) and the
    authors' folds ``cv_dict.pkl`` (:func:`write_gilon_folds`).

    Args:
        cohort: Recordings at 40 Hz with the 14 ``PAPER_CHANNELS``, experiments 1–16, and a
            ``weight_kg`` column in ``subjects`` (NaN written as an empty cell).
        subjects_test: Subjects written to the test files; all others go to the train files.
        out_dir: Output folder (created).
        window: Samples per window (the release uses 160).
        stride: Samples between window starts (the release uses 40); full windows only,
            ``floor((T - window) / stride) + 1`` per recording, none when T < window.
        n_folds: user-disjoint folds of the train subjects written to ``cv_dict.pkl`` (the release has 5;
            capped at the number of train subjects); None, or fewer than 2 train subjects = no ``cv_dict.pkl``.

    Returns:
        ``{"train_feature": path, "train_label": ..., "test_feature": ..., "test_label": ...}`` (+ ``"folds"``).

    Raises:
        ValueError: missing channel/column, unknown (test) subject, experiment outside 1–16,
            a recording not sampled at 40 Hz, window/stride < 1.
    """
    if window < 1 or stride < 1:
        raise ValueError(f"write_gilon_fixture: window and stride must be >= 1, got window={window}, stride={stride}")
    recordings, index, subjects = cohort.recordings, cohort.recording_index, cohort.subjects
    missing = [c for c in (RECORDING, TIME, *PAPER_CHANNELS) if c not in recordings.columns]
    if missing:
        raise ValueError(f"write_gilon_fixture: cohort.recordings misses column(s) {missing}")
    if "weight_kg" not in subjects.columns:
        raise ValueError("write_gilon_fixture: cohort.subjects has no 'weight_kg' column (the release's Weight label)")
    unknown = sorted(set(subjects_test) - set(subjects[SUBJECT]))
    if unknown:
        raise ValueError(f"write_gilon_fixture: test subject(s) {unknown[:5]} not in cohort.subjects")
    bad_exp = sorted(set(index[EXPERIMENT]) - set(TABLE_I))
    if bad_exp:
        raise ValueError(f"write_gilon_fixture: experiment(s) {bad_exp} are not in Table I (1-16)")
    orphans = sorted(set(index[SUBJECT]) - set(subjects[SUBJECT]))
    if orphans:
        raise ValueError(f"write_gilon_fixture: recording_index subject(s) {orphans[:5]} not in cohort.subjects")
    weight = dict(zip(subjects[SUBJECT], subjects["weight_kg"].astype("float64"), strict=True))
    site_of = dict(zip(subjects[SUBJECT], subjects["site"].astype(str), strict=True)) if "site" in subjects.columns else {}  # else "lab"

    positions = recordings.groupby(RECORDING, sort=False).indices
    values = recordings[list(PAPER_CHANNELS)].to_numpy()
    times = recordings[TIME].to_numpy(dtype="float64")
    # Per window: its source rows (window,) and its label row; GLOBAL_IDs run over all windows
    # in recording_index order, so train and test ids interleave as in a real global numbering.
    rows_of_window: dict[str, list[np.ndarray]] = {s: [] for s in GILON_SPLITS}
    labels: dict[str, list[tuple[object, ...]]] = {s: [] for s in GILON_SPLITS}
    global_id = 0
    skipped = 0
    for rec in index.itertuples(index=False):
        name, subject, experiment = getattr(rec, RECORDING), getattr(rec, SUBJECT), int(getattr(rec, EXPERIMENT))
        rows = positions.get(name)
        if rows is None or len(rows) < window:
            skipped += 1
            continue
        if len(rows) > 1:
            rate = 1.0 / float(np.median(np.diff(times[rows])))
            if abs(rate - GILON_SAMPLING_RATE_HZ) > 0.01 * GILON_SAMPLING_RATE_HZ:
                raise ValueError(
                    f"write_gilon_fixture: recording {name!r} is sampled at {rate:.4g} Hz, expected 40 Hz "
                    "(resample first with signals.resample.resample_recordings)"
                )
        starts = np.arange(0, len(rows) - window + 1, stride)
        split = "test" if subject in subjects_test else "train"
        site = site_of.get(subject, "lab")
        activity, speed = TABLE_I[experiment]
        speed = GILON_FIXTURE_SPEED_NOT_USED.get(experiment, speed)
        rows_of_window[split].append(rows[starts[:, None] + np.arange(window)[None, :]])
        for _ in starts:
            labels[split].append((subject, global_id, f"EXP{experiment:02d}", weight[subject], speed, activity, site))
            global_id += 1
    if skipped:
        logger.warning("write_gilon_fixture: %d recording(s) shorter than %d samples give no window", skipped, window)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for split in GILON_SPLITS:
        label_frame = pd.DataFrame(labels[split], columns=list(GILON_FIXTURE_LABEL_COLUMNS))
        rows = np.concatenate(rows_of_window[split]).ravel() if rows_of_window[split] else np.zeros(0, dtype=int)
        feature_frame = pd.DataFrame(values[rows], columns=list(PAPER_CHANNELS))
        feature_frame.insert(0, "GLOBAL_ID", np.repeat(label_frame["GLOBAL_ID"].to_numpy(dtype="int64"), window))
        feature_frame.insert(0, "EXP", np.repeat(label_frame["EXP"].to_numpy(dtype=object), window))
        paths[f"{split}_feature"] = out_dir / gilon_file_name(split, "feature")
        paths[f"{split}_label"] = out_dir / gilon_file_name(split, "label")
        # pyarrow's writer is ~7x faster than DataFrame.to_csv on float32 and prints the shortest
        # repr that round-trips; EXP values (EXPnn) never need quoting. It quotes header names,
        # so the (plain) header line is written here.
        with open(paths[f"{split}_feature"], "wb") as handle:
            handle.write((",".join(feature_frame.columns) + "\n").encode())
            pa_csv.write_csv(
                pa.Table.from_pandas(feature_frame, preserve_index=False),
                handle,
                pa_csv.WriteOptions(include_header=False, quoting_style="none"),
            )
        label_frame.to_csv(paths[f"{split}_label"], index=False)
    train_ids = sorted({str(row[0]) for row in labels["train"]})  # IDs with a written window (column ID)
    if (folds := write_gilon_folds(out_dir, train_ids, n_folds)) is not None:
        paths["folds"] = folds
    logger.info("write_gilon_fixture: %d windows written to %s", global_id, out_dir)
    return paths


def write_gilon_folds(out_dir: Path, train_subjects: Sequence[str], n_folds: int | None = 5) -> Path | None:
    """Write ``<out_dir>/cv_dict.pkl`` as the release has it: ``{fold: [ID, ...]}`` with folds ``0 .. k-1``
    cutting the train subjects (sorted ids dealt round-robin, so the folds differ in size by at most one).

    ``k = min(n_folds, number of train subjects)`` (tiny fixtures: at most one fold per subject); with
    ``n_folds`` None or ``k < 2`` there are no folds to write and None is returned.
    """
    import pickle

    if n_folds is None:
        return None
    ids = sorted(str(s) for s in train_subjects)
    k = min(int(n_folds), len(ids))
    if k < 2:
        return None
    path = Path(out_dir) / GILON_FOLDS_FILE
    path.write_bytes(pickle.dumps({fold: ids[fold::k] for fold in range(k)}))
    return path


def synthetic_gilon_fixture(
    out_dir: Path, n_subjects: int = 8, n_test: int = 2, seed: int = 0, duration_scale: float = 0.1, n_folds: int | None = 5
) -> dict[str, Path]:
    """Generate the synthetic cohort and write it as a GILON release (the exact public schema).

    Args:
        out_dir: Output folder for the four CSVs.
        n_subjects: Subjects of the synthetic cohort (all 16 experiments each).
        n_test: The last ``n_test`` subjects (by id) go to the test files.
        seed: Seed of the synthetic cohort.
        duration_scale: Duration multiplier of every experiment (never below 4 s = one window).
        n_folds: folds of the train subjects in ``cv_dict.pkl`` (see :func:`write_gilon_fixture`).

    Returns:
        The paths (see :func:`write_gilon_fixture`).
    """
    from insole_mtl.sources.synthetic import SyntheticCohortConfig, generate_cohort  # heavy: only when asked

    if not 0 <= n_test < n_subjects:
        raise ValueError(f"synthetic_gilon_fixture: n_test={n_test}; expected 0 <= n_test < n_subjects={n_subjects}")
    cohort = generate_cohort(SyntheticCohortConfig(n_subjects=n_subjects, seed=seed, duration_scale=duration_scale))
    subjects = sorted(cohort.subjects[SUBJECT])
    return write_gilon_fixture(cohort, set(subjects[n_subjects - n_test :]), out_dir, n_folds=n_folds)


def full_size_gilon_fixture(
    out_dir: Path, n_train: int = 50, n_test: int = 22, windows_per_subject: int = 660, seed: int = 0, n_folds: int | None = 5
) -> dict[str, Path]:
    """Write a release of the real release's size and value types (about 7.6 M integer feature rows with the
    defaults: 72 subjects x 660 windows x 160 rows), fast, for measuring the reader's memory and time.

    Channel values are random integers (the release's feature files hold integers); every subject has the 16
    experiments in turn; labels follow Table I like :func:`write_gilon_fixture` (SPEED filled for EXP12-16).

    Returns:
        The paths, as :func:`write_gilon_fixture` (``cv_dict.pkl`` with ``n_folds`` folds of the train subjects).
    """
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    global_id = 0
    for split, subjects in (("train", range(n_train)), ("test", range(n_train, n_train + n_test))):
        n = len(subjects) * windows_per_subject
        ids = np.arange(global_id, global_id + n)
        global_id += n
        subject = np.repeat([f"{s:03d}" for s in subjects], windows_per_subject)
        experiment = np.tile(np.arange(windows_per_subject) % 16 + 1, len(subjects))
        weight = np.repeat(rng.integers(45, 110, len(subjects)).astype("float64"), windows_per_subject)
        speed = np.array([GILON_FIXTURE_SPEED_NOT_USED.get(int(e), TABLE_I[int(e)][1]) for e in range(17) if e], dtype="float64")[experiment - 1]
        activity = np.array([TABLE_I[e][0] for e in range(1, 17)], dtype="int64")[experiment - 1]
        codes = np.array([f"EXP{e:02d}" for e in range(1, 17)], dtype=object)[experiment - 1]
        labels = pd.DataFrame({"ID": subject, "GLOBAL_ID": ids, "EXP": codes, "Weight": weight, "SPEED": speed,
                               "ACTIVITY": activity, "Site": "lab"})  # fmt: skip
        paths[f"{split}_label"] = out_dir / gilon_file_name(split, "label")
        labels.to_csv(paths[f"{split}_label"], index=False)
        features = {"EXP": np.repeat(codes, GILON_WINDOW), "GLOBAL_ID": np.repeat(ids, GILON_WINDOW)}
        features.update({c: rng.integers(0, 4096, n * GILON_WINDOW, dtype="int32") for c in PAPER_CHANNELS})
        paths[f"{split}_feature"] = out_dir / gilon_file_name(split, "feature")
        with open(paths[f"{split}_feature"], "wb") as handle:
            handle.write((",".join(features) + "\n").encode())
            pa_csv.write_csv(pa.table(features), handle, pa_csv.WriteOptions(include_header=False, quoting_style="none"))
    if (folds := write_gilon_folds(out_dir, [f"{s:03d}" for s in range(n_train)], n_folds)) is not None:
        paths["folds"] = folds
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m insole_mtl.sources.gilon OUT_DIR [--subjects N] [--test N] [--seed S] [--duration-scale X] [--folds K] [--full-size]``."""
    import argparse

    parser = argparse.ArgumentParser(description="Write a synthetic GILON release (four CSVs and cv_dict.pkl) to OUT_DIR.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--test", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--duration-scale", type=float, default=0.1)
    parser.add_argument("--folds", type=int, default=5, help="folds of the train subjects in cv_dict.pkl (0 = no file)")
    parser.add_argument("--full-size", action="store_true", help="the real release's size (7.6 M integer rows), for memory measurements")
    args = parser.parse_args(argv)
    if args.full_size:
        paths = full_size_gilon_fixture(args.out_dir, seed=args.seed, n_folds=args.folds or None)
    else:
        paths = synthetic_gilon_fixture(args.out_dir, args.subjects, args.test, args.seed, args.duration_scale, args.folds or None)
    for path in paths.values():
        print(path)


if __name__ == "__main__":  # pragma: no cover
    main()
