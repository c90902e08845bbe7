from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl import schema
from insole_mtl.signals.oversample import oversample_windows


def _data(counts=(30, 12, 6), separated: bool = False, seed: int = 0):
    """Overlapping Gaussian classes (so Borderline-SMOTE finds 'danger' windows), (n, 2, 4) float32."""
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(n, c) for c, n in enumerate(counts)])
    shift = 50.0 if separated else 0.4
    windows = (rng.normal(size=(len(y), 2, 4)) + shift * y[:, None, None]).astype(np.float32)
    labels = pd.DataFrame(
        {
            "subject": [f"s{i % 4}" for i in range(len(y))],
            "recording": [f"r{i}" for i in range(len(y))],
            "experiment": np.arange(len(y), dtype=np.int64),
            "start": np.zeros(len(y), dtype=np.int64),
            "activity": y.astype(np.int64),
            "speed": np.linspace(0, 8, len(y)),
            "weight": np.linspace(50, 90, len(y)),
            "synthetic": np.zeros(len(y), dtype=bool),
        }
    )
    return windows, labels


def test_balances_and_keeps_originals():
    windows, labels = _data()
    w, lab, counts = oversample_windows(windows, labels, seed=0)
    n = len(windows)
    assert w.dtype == np.float32 and w.shape[1:] == (2, 4)
    np.testing.assert_array_equal(w[:n], windows)  # originals first, unchanged, in order
    pd.testing.assert_frame_equal(lab.iloc[:n], labels)
    assert counts.to_dict("list") == {
        "activity": [0, 1, 2],
        "before": [30, 12, 6],
        "target": [30, 30, 30],
        "after": [30, 30, 30],
        "synthetic": [0, 18, 24],
    }
    assert lab["activity"].value_counts().sort_index().tolist() == [30, 30, 30]
    synth = lab.iloc[n:]
    assert len(synth) == len(w) - n == 42
    assert synth["synthetic"].all() and (synth["subject"] == "synthetic").all() and (synth["recording"] == "synthetic").all()
    assert (synth["experiment"] == -1).all() and (synth["start"] == -1).all()
    assert synth["speed"].isna().all() and synth["weight"].isna().all()  # masked for the regressions
    assert list(lab.columns) == list(schema.WINDOW_LABEL_COLUMNS)
    assert str(lab["activity"].dtype) == "int64" and str(lab["synthetic"].dtype) == "bool"
    # synthetic windows of class 1 lie in the span of class 1 (interpolations)
    cls1 = windows[labels.activity == 1].reshape(12, -1)
    new1 = w[n:][synth["activity"].to_numpy() == 1].reshape(-1, 8)
    assert (new1 >= cls1.min(axis=0) - 1e-5).all() and (new1 <= cls1.max(axis=0) + 1e-5).all()
    assert np.array_equal(windows, _data()[0])  # input untouched


def test_target_ratio_partial():
    windows, labels = _data()
    _, _, counts = oversample_windows(windows, labels, target_ratio=0.5)
    # ceil(0.5 * 30) = 15: class 1 (12) raised to 15, class 2 (6) raised to 15, never reduced
    assert counts["target"].tolist() == [30, 15, 15]
    assert counts["after"].tolist() == [30, 15, 15]
    _, _, counts = oversample_windows(windows, labels, target_ratio=0.3)  # 0.3 * 30 = 9 (no float ceil surprise)
    assert counts["target"].tolist() == [30, 12, 9] and counts["synthetic"].tolist() == [0, 0, 3]


def test_deterministic_in_seed():
    windows, labels = _data()
    a = oversample_windows(windows, labels, seed=1)
    b = oversample_windows(windows, labels, seed=1)
    c = oversample_windows(windows, labels, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_balanced_input_is_returned_as_is():
    windows, labels = _data(counts=(5, 5))
    w, lab, counts = oversample_windows(windows, labels)
    np.testing.assert_array_equal(w, windows)
    assert len(lab) == 10 and counts["synthetic"].tolist() == [0, 0]


def test_small_class_reduces_k_with_warning(caplog):
    windows, labels = _data(counts=(30, 3))
    with caplog.at_level(logging.WARNING, logger="insole_mtl.signals.oversample"):
        _, _, counts = oversample_windows(windows, labels, k_neighbors=5)
    assert "k_neighbors reduced from 5 to 2" in caplog.text
    assert counts["after"].tolist() == [30, 30]


def test_single_window_class_is_an_error():
    windows, labels = _data(counts=(30, 1))
    with pytest.raises(ValueError, match=re.escape("activity class(es) [1] have a single window")):
        oversample_windows(windows, labels)


def test_no_danger_samples_reported(caplog):
    # far-apart classes: Borderline-SMOTE finds no border windows and adds nothing; say so
    windows, labels = _data(counts=(30, 12), separated=True)
    with caplog.at_level(logging.WARNING, logger="insole_mtl.signals.oversample"):
        w, _, counts = oversample_windows(windows, labels)
    assert counts["after"].tolist() == [30, 12] and counts["target"].tolist() == [30, 30]
    assert len(w) == 42
    assert "stay below target" in caplog.text


def test_errors():
    windows, labels = _data()
    with pytest.raises(ValueError, match=re.escape("target_ratio=0.0; expected 0 < target_ratio <= 1")):
        oversample_windows(windows, labels, target_ratio=0.0)
    with pytest.raises(ValueError, match=re.escape("kind='svm'")):
        oversample_windows(windows, labels, kind="svm")
    with pytest.raises(ValueError, match="48 windows but 47 label rows"):
        oversample_windows(windows, labels.iloc[:-1])
    with pytest.raises(ValueError, match=re.escape("expected (n, channels, length)")):
        oversample_windows(windows.reshape(48, 8), labels)
    with pytest.raises(ValueError, match="already contain synthetic windows"):
        oversample_windows(windows, labels.assign(synthetic=True))
    with pytest.raises(ValueError, match=re.escape("k_neighbors=0")):
        oversample_windows(windows, labels, k_neighbors=0)


def test_borderline_2_runs():
    windows, labels = _data()
    w, _, counts = oversample_windows(windows, labels, kind="borderline-2", seed=0)
    assert counts["after"].tolist() == [30, 30, 30] and w.dtype == np.float32
