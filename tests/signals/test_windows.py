from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl import schema
from insole_mtl.signals.labels import label_recordings, paper_task_config
from insole_mtl.signals.windows import evenly_spaced, make_windows, partition_windows, window_counts

from ._cohort import CHANNELS, cohort, make_cohort  # noqa: F401  (cohort is a fixture)


@pytest.fixture
def labelled(cohort):
    recordings, index, subjects = cohort
    labels, _ = label_recordings(index, subjects, paper_task_config())
    return recordings, labels


def test_window_counts_floor_formula():
    assert window_counts(np.array([10, 7, 3, 4, 2000, 2001, 2039, 2040]), 4, 3).tolist()[:4] == [3, 2, 0, 1]
    # paper sizes: T = 2000 -> 47 windows; a 4 s recording -> exactly 1
    assert window_counts(np.array([2000, 160, 159, 199, 200]), 160, 40).tolist() == [47, 1, 0, 1, 2]


def test_exact_windows_and_labels(labelled):
    recordings, labels = labelled
    windows, wl, report = make_windows(recordings, labels, CHANNELS, length=4, stride=3)
    assert windows.dtype == np.float32 and windows.shape == (5, 2, 4) and windows.flags["C_CONTIGUOUS"]
    assert wl["recording"].tolist() == ["r1", "r1", "r1", "r2", "r2"]
    assert wl["start"].tolist() == [0, 3, 6, 0, 3]
    # channel a holds the sample index, channel b = 100 * recording number + index
    np.testing.assert_array_equal(windows[2, 0], [6, 7, 8, 9])
    np.testing.assert_array_equal(windows[4, 1], [103, 104, 105, 106])
    assert list(wl.columns) == list(schema.WINDOW_LABEL_COLUMNS)
    assert wl["subject"].tolist() == ["s1", "s1", "s1", "s2", "s2"]
    assert wl["activity"].tolist() == [0, 0, 0, 2, 2]
    np.testing.assert_array_equal(wl["speed"].to_numpy(), [0, 0, 0, 7, 7])
    np.testing.assert_array_equal(wl["weight"].to_numpy(), [np.nan, np.nan, np.nan, 61.0, 61.0])
    assert not wl["synthetic"].any()
    dtypes = {c: str(t) for c, t in wl.dtypes.items()}
    assert dtypes["experiment"] == dtypes["start"] == dtypes["activity"] == "int64"
    assert dtypes["speed"] == dtypes["weight"] == "float64" and dtypes["synthetic"] == "bool"
    # r3 has 3 samples < 4: counted, not windowed
    assert report.to_dict("records") == [
        {"stage": "windows", "item": "r3", "reason": "shorter than one window (3 < 4 samples)", "count": 1}
    ]


def test_windows_never_cross_recordings_and_order_independent(labelled):
    recordings, labels = labelled
    windows, wl, _ = make_windows(recordings, labels, CHANNELS, length=4, stride=1)
    # channel b jumps by 100 between recordings: a window spanning two would not be consecutive
    assert (np.diff(windows[:, 1, :], axis=1) == 1).all()
    assert len(wl) == 7 + 4
    # shuffling recordings (keeping sample order inside each) and label rows changes nothing
    rng = np.random.default_rng(0)
    blocks = [g for _, g in recordings.groupby("recording", sort=False)]
    shuffled = pd.concat([blocks[i] for i in rng.permutation(len(blocks))], ignore_index=True)
    w2, l2, _ = make_windows(shuffled, labels.iloc[::-1], CHANNELS, length=4, stride=1)
    np.testing.assert_array_equal(windows, w2)
    pd.testing.assert_frame_equal(wl, l2)


def test_interleaved_rows_keep_sample_order():
    recordings, index, subjects = make_cohort({"x": 6, "y": 6}, {"x": "s1", "y": "s2"}, {"x": 1, "y": 3})
    interleaved = pd.concat([recordings.iloc[[i, i + 6]] for i in range(6)], ignore_index=True)
    labels, _ = label_recordings(index, subjects, paper_task_config())
    a = make_windows(recordings, labels, CHANNELS, 3, 2)[0]
    b = make_windows(interleaved, labels, CHANNELS, 3, 2)[0]
    np.testing.assert_array_equal(a, b)


def test_unlabelled_recording_reported(labelled):
    recordings, labels = labelled
    _, wl, report = make_windows(recordings, labels[labels.recording != "r2"], CHANNELS, length=4, stride=3)
    assert set(wl["recording"]) == {"r1"}
    assert report["item"].tolist() == ["r2", "r3"]
    assert report["reason"].iloc[0] == "no label row (excluded at labelling)"


def test_paper_defaults_shape():
    recordings, index, subjects = make_cohort({"r": 2000, "q": 159}, {"r": "s", "q": "s"}, {"r": 5, "q": 5})
    labels, _ = label_recordings(index, subjects, paper_task_config())
    windows, wl, report = make_windows(recordings, labels, CHANNELS)
    assert windows.shape == (47, 2, 160)
    assert wl["start"].iloc[-1] == 46 * 40
    assert report["item"].tolist() == ["q"]


def test_all_too_short_gives_empty_arrays(labelled):
    recordings, labels = labelled
    windows, wl, report = make_windows(recordings, labels, CHANNELS, length=50, stride=1)
    assert windows.shape == (0, 2, 50) and len(wl) == 0 and len(report) == 3
    assert list(wl.columns) == list(schema.WINDOW_LABEL_COLUMNS)


def test_errors(labelled):
    recordings, labels = labelled
    with pytest.raises(ValueError, match=re.escape("make_windows: stride=0; expected a positive integer")):
        make_windows(recordings, labels, CHANNELS, 4, 0)
    with pytest.raises(ValueError, match=re.escape("raw_recordings: missing column(s) ['c']")):
        make_windows(recordings, labels, ["a", "c"], 4, 3)
    with pytest.raises(ValueError, match=re.escape("recording_labels: recording(s) ['r1'] appear more than once")):
        make_windows(recordings, pd.concat([labels, labels.iloc[:1]]), CHANNELS, 4, 3)
    with pytest.raises(ValueError, match=re.escape("recording_labels: recording(s) ['r1'] have no samples")):
        make_windows(recordings[recordings.recording != "r1"], labels, CHANNELS, 4, 3)
    bad = recordings.copy()
    bad.loc[11, "a"] = np.nan
    with pytest.raises(ValueError, match=re.escape("non-finite channel value in recording 'r2'")):
        make_windows(bad, labels, CHANNELS, 4, 3)


def test_partition_windows(labelled):
    recordings, labels = labelled
    windows, wl, _ = make_windows(recordings, labels, CHANNELS, length=4, stride=3)
    split = pd.DataFrame({"subject": ["s1", "s2"], "split": ["train", "test"], "fold": [0, -1]})
    parts = partition_windows(windows, wl, split)
    assert set(parts) == {"train", "val", "test"}
    np.testing.assert_array_equal(parts["train"][0], windows[:3])
    np.testing.assert_array_equal(parts["test"][0], windows[3:])
    assert parts["val"][0].shape == (0, 2, 4) and len(parts["val"][1]) == 0
    assert parts["test"][1].index.tolist() == [0, 1]
    with pytest.raises(ValueError, match=re.escape("subject(s) ['s2'] of the windows are not in the split table")):
        partition_windows(windows, wl, split.iloc[:1])
    leaky = pd.concat([split, pd.DataFrame({"subject": ["s1"], "split": ["val"], "fold": [1]})])
    with pytest.raises(ValueError, match=re.escape("subject leakage: 1 subject(s) in more than one split: 's1'")):
        partition_windows(windows, wl, leaky)
    with pytest.raises(ValueError, match="5 windows but 4 label rows"):
        partition_windows(windows, wl.iloc[:4], split)


def test_evenly_spaced_is_exact():
    assert evenly_spaced(10, 3).tolist() == [0, 4, 9]  # linspace(0, 9, 3) = 0, 4.5, 9 -> rounds half to even
    assert evenly_spaced(4, None).tolist() == [0, 1, 2, 3]
    assert evenly_spaced(2, 5).tolist() == [0, 1]
