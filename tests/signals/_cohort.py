"""Tiny raw cohorts for the signal tests (a helper module, not a conftest, so other test files here are unaffected)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CHANNELS = ("a", "b")


def make_cohort(lengths: dict[str, int], subject_of: dict[str, str], experiment_of: dict[str, int]):
    """Raw tables where channel a = sample index, b = 100 * recording number + sample index."""
    rows = []
    for number, (rec, n) in enumerate(lengths.items()):
        idx = np.arange(n)
        rows.append(
            pd.DataFrame(
                {
                    "recording": rec,
                    "time_s": idx / 40.0,
                    "a": idx.astype(np.float32),
                    "b": (100 * number + idx).astype(np.float32),
                }
            )
        )
    recordings = pd.concat(rows, ignore_index=True)
    index = pd.DataFrame(
        {
            "recording": list(lengths),
            "subject": [subject_of[r] for r in lengths],
            "experiment": np.array([experiment_of[r] for r in lengths], dtype=np.int64),
        }
    )
    subjects = pd.DataFrame({"subject": sorted(set(subject_of.values()))})
    subjects["weight_kg"] = 60.0 + np.arange(len(subjects))
    return recordings, index, subjects


@pytest.fixture
def cohort():
    return make_cohort(
        {"r1": 10, "r2": 7, "r3": 3},
        {"r1": "s1", "r2": "s2", "r3": "s1"},
        {"r1": 1, "r2": 9, "r3": 3},
    )
