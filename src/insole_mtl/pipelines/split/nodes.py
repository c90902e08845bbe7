"""Subject-wise split node."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pandas as pd

from insole_mtl import schema
from insole_mtl.signals.split import assert_disjoint_splits, split_subjects
from insole_mtl.signals.validation import check_parameter_keys

#: keys of ``params:split`` (any other is a typo and refused)
SPLIT_KEYS: tuple[str, ...] = ("test_fraction", "n_folds", "val_fold", "seed", "test_seed", "folds")
#: ``split.folds``: draw the folds (``kfold``), keep a release's own (``given``), or ``given`` when it has them
FOLD_SOURCES: tuple[str, ...] = ("auto", "kfold", "given")

logger = logging.getLogger(__name__)


def split_cohort_subjects(subjects: pd.DataFrame, split: Mapping[str, Any]) -> pd.DataFrame:
    """Assign every subject to exactly one of train / val / test (SPEC §2).

    Args:
        subjects: one row per subject (``subject`` column; optional ``given_split`` from a release).
        split: ``params:split`` — ``test_fraction``, ``n_folds``, ``val_fold``, ``seed`` (optional ``test_seed``;
            optional ``folds``: ``auto`` (default: the release's own folds when ``subjects`` has a
            ``given_fold`` column, e.g. GILON's ``cv_dict.pkl``, else drawn), ``kfold`` or ``given``).

    Returns:
        Table ``subject, split, fold`` (fold = -1 for test subjects).

    Raises:
        ValueError: an unknown key or ``folds`` value, and the errors of :func:`split_subjects`.
    """
    check_parameter_keys("split", split, SPLIT_KEYS)
    folds = str(split.get("folds", "auto"))
    if folds not in FOLD_SOURCES:
        raise ValueError(f"params split.folds: {folds!r}; expected one of {list(FOLD_SOURCES)}")
    given = folds == "given" or (folds == "auto" and schema.GIVEN_FOLD in subjects.columns)
    table = split_subjects(
        subjects,
        test_fraction=float(split["test_fraction"]),
        n_folds=int(split["n_folds"]),
        val_fold=int(split["val_fold"]),
        seed=int(split["seed"]),
        test_seed=split.get("test_seed"),
        given_fold_column=schema.GIVEN_FOLD if given else None,
    )
    assert_disjoint_splits(table)
    counts = table["split"].value_counts().to_dict()
    logger.info("Subject split (val fold %s of the %s folds): %s", split["val_fold"], "given" if given else "drawn", counts)
    return table
