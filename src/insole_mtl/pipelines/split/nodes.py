"""Subject-wise split node."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from insole_mtl.signals.split import assert_disjoint_splits, split_subjects

logger = logging.getLogger(__name__)


def split_cohort_subjects(subjects: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """Assign every subject to exactly one of train / val / test (SPEC §2).

    Args:
        subjects: one row per subject (``subject`` column; optional ``given_split`` from a release).
        split: ``params:split`` — ``test_fraction``, ``n_folds``, ``val_fold``, ``seed`` (optional ``test_seed``).

    Returns:
        Table ``subject, split, fold`` (fold = -1 for test subjects).
    """
    table = split_subjects(
        subjects,
        test_fraction=float(split["test_fraction"]),
        n_folds=int(split["n_folds"]),
        val_fold=int(split["val_fold"]),
        seed=int(split["seed"]),
        test_seed=split.get("test_seed"),
    )
    assert_disjoint_splits(table)
    counts = table["split"].value_counts().to_dict()
    logger.info("Subject split (val fold %s): %s", split["val_fold"], counts)
    return table
