from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.validation import concat_drop_reports, drop_report, validate_raw_cohort

from ._cohort import CHANNELS, cohort  # noqa: F401  (cohort is a fixture)


def test_valid_cohort_passes(cohort):
    validate_raw_cohort(*cohort, CHANNELS)


def test_drop_report_schema_and_concat():
    empty = drop_report()
    assert list(empty.columns) == ["stage", "item", "reason", "count"]
    assert str(empty["count"].dtype) == "int64" and len(empty) == 0
    a = drop_report([{"stage": "labels", "item": "r1", "reason": "x", "count": 1}])
    b = drop_report([{"stage": "windows", "item": "r2", "reason": "y", "count": 2}])
    both = concat_drop_reports(a, empty, b)
    assert both.to_dict("records") == [
        {"stage": "labels", "item": "r1", "reason": "x", "count": 1},
        {"stage": "windows", "item": "r2", "reason": "y", "count": 2},
    ]
    assert len(concat_drop_reports(empty, empty)) == 0
    with pytest.raises(ValueError, match=re.escape("row 0 misses key(s) ['count']")):
        drop_report([{"stage": "s", "item": "i", "reason": "r"}])
    with pytest.raises(ValueError, match="count -1"):
        drop_report([{"stage": "s", "item": "i", "reason": "r", "count": -1}])


def test_missing_column(cohort):
    rec, idx, sub = cohort
    with pytest.raises(ValueError, match=re.escape("raw_recordings: missing required column(s) ['b']")):
        validate_raw_cohort(rec.drop(columns="b"), idx, sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("raw_recording_index: missing required column(s) ['experiment']")):
        validate_raw_cohort(rec, idx.drop(columns="experiment"), sub, CHANNELS)


def test_non_numeric_channel(cohort):
    rec, idx, sub = cohort
    rec = rec.assign(a=rec["a"].astype(str))
    with pytest.raises(ValueError, match=re.escape("raw_recordings: column 'a' has dtype")):
        validate_raw_cohort(rec, idx, sub, CHANNELS)


def test_non_finite_names_recording_and_row(cohort):
    rec, idx, sub = cohort
    rec.loc[12, "b"] = np.inf  # row 12 = sample 2 of r2
    with pytest.raises(ValueError, match=re.escape("column 'b' has a non-finite value (inf) in recording 'r2' at row 12")):
        validate_raw_cohort(rec, idx, sub, CHANNELS)
    rec.loc[3, "time_s"] = np.nan
    with pytest.raises(ValueError, match=re.escape("column 'time_s' has a non-finite value (nan) in recording 'r1' at row 3")):
        validate_raw_cohort(rec, idx, sub, CHANNELS)


def test_time_not_increasing(cohort):
    rec, idx, sub = cohort
    rec.loc[14, "time_s"] = rec.loc[13, "time_s"]
    with pytest.raises(ValueError, match=re.escape("'time_s' is not strictly increasing in recording 'r2' at row 14")):
        validate_raw_cohort(rec, idx, sub, CHANNELS)


def test_time_restarts_per_recording_is_fine(cohort):
    # every recording's time starts at 0 again: only within-recording order matters
    rec, idx, sub = cohort
    assert rec["time_s"].iloc[10] == 0.0
    validate_raw_cohort(rec, idx, sub, CHANNELS)


def test_index_problems(cohort):
    rec, idx, sub = cohort
    with pytest.raises(ValueError, match=re.escape("column 'recording' must be unique; duplicated value(s): 'r1'")):
        validate_raw_cohort(rec, pd.concat([idx, idx.iloc[:1]]), sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("recording(s) 'r3' have samples but no row in raw_recording_index")):
        validate_raw_cohort(rec, idx.iloc[:2], sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("raw_recording_index: recording(s) 'r3' have no samples")):
        validate_raw_cohort(rec[rec["recording"] != "r3"], idx, sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("column 'experiment' has dtype float64; expected an integer dtype")):
        validate_raw_cohort(rec, idx.assign(experiment=idx["experiment"].astype(float)), sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("column 'experiment' is missing in recording 'r2' at row 1")):
        validate_raw_cohort(rec, idx.assign(experiment=pd.array([1, None, 3], dtype="Int64")), sub, CHANNELS)


def test_subject_problems(cohort):
    rec, idx, sub = cohort
    with pytest.raises(ValueError, match=re.escape("raw_subjects: column 'subject' must be unique; duplicated value(s): 's1'")):
        validate_raw_cohort(rec, idx, pd.concat([sub, sub.iloc[:1]]), CHANNELS)
    with pytest.raises(ValueError, match=re.escape("subject(s) 's2' have no row in raw_subjects")):
        validate_raw_cohort(rec, idx, sub[sub["subject"] != "s2"], CHANNELS)


def test_given_split_checks(cohort):
    rec, idx, sub = cohort
    validate_raw_cohort(rec, idx.assign(given_split=["train", "test", "train"]), sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("has value 'dev' in recording 'r2'")):
        validate_raw_cohort(rec, idx.assign(given_split=["train", "dev", "train"]), sub, CHANNELS)
    with pytest.raises(ValueError, match=re.escape("subject(s) 's1' have recordings in both given splits")):
        validate_raw_cohort(rec, idx.assign(given_split=["train", "test", "test"]), sub, CHANNELS)


def test_bad_channel_list(cohort):
    with pytest.raises(ValueError, match="channels is empty"):
        validate_raw_cohort(*cohort, [])
    with pytest.raises(ValueError, match=re.escape("channel name(s) ['a'] listed more than once")):
        validate_raw_cohort(*cohort, ["a", "a"])
    with pytest.raises(TypeError, match="raw_recordings: expected a pandas DataFrame"):
        validate_raw_cohort(np.zeros(3), *cohort[1:], CHANNELS)
