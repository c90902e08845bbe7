"""Column names and channel order shared by every stage (the data contract).

Raw contract, produced by every source (synthetic generator, GILON, recordings folder, gaitpdb):

``raw_recordings`` (long format, one row per sample)
    ``recording`` (str), ``time_s`` (float64, seconds, strictly increasing within a recording),
    then one float32 column per channel, in the configured channel order.
``raw_recording_index`` (one row per recording)
    ``recording`` (str, unique), ``subject`` (str), ``experiment`` (int), plus optional
    per-recording label columns a task may read (e.g. ``speed_mps`` for gaitpdb) and an optional
    ``given_split`` column (``train``/``test``) when a release fixes the test subjects.
``raw_subjects`` (one row per subject)
    ``subject`` (str, unique) plus per-subject columns (``weight_kg``, ``sex``, ...).

Window labels (``window_labels`` tables, one row per window, aligned with the window array):
    ``subject``, ``recording``, ``experiment``, ``start`` (first sample index in the recording),
    ``activity`` (int64 class id), ``speed`` (float64, NaN where the task does not use the window),
    ``weight`` (float64 kg, NaN where unused), ``synthetic`` (bool, True for oversampled windows).
"""

from __future__ import annotations

PAPER_CHANNELS: tuple[str, ...] = (
    "x_R", "y_R", "z_R", "x_L", "y_L", "z_L",
    "fsr1_R", "fsr2_R", "fsr3_R", "fsr4_R",
    "fsr1_L", "fsr2_L", "fsr3_L", "fsr4_L",
)  # fmt: skip

RECORDING = "recording"
SUBJECT = "subject"
EXPERIMENT = "experiment"
TIME = "time_s"
GIVEN_SPLIT = "given_split"
#: a release's own subject folds of its train subjects (GILON ``cv_dict.pkl``), int64, -1 = in no fold
GIVEN_FOLD = "given_fold"

TASKS: tuple[str, ...] = ("activity", "speed", "weight")
WINDOW_LABEL_COLUMNS: tuple[str, ...] = (
    "subject", "recording", "experiment", "start", "activity", "speed", "weight", "synthetic",
)  # fmt: skip
#: dtype of every window-label column (pandas ``astype`` mapping, keys in ``WINDOW_LABEL_COLUMNS`` order).
WINDOW_LABEL_DTYPES: dict[str, str] = {
    "subject": "str", "recording": "str", "experiment": "int64", "start": "int64",
    "activity": "int64", "speed": "float64", "weight": "float64", "synthetic": "bool",
}  # fmt: skip
