"""Subject-wise train / validation / test split (paper Sec. IV-A, V-B2).

The paper holds out 22 of 72 subjects for testing and cuts the other 50 into 5 subject-wise
folds; each run uses one fold as validation (5 folds x 5 seeds = 25 runs on one test set).
Everything here works on subjects, never on windows, so no subject can leak between splits.

The test subjects depend only on ``test_seed`` (or a release's fixed ``given_split``), never
on ``val_fold`` or the fold ``seed``: every run of the protocol is scored on the same test set.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, train_test_split

from insole_mtl import schema

logger = logging.getLogger(__name__)

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_COLUMNS: tuple[str, ...] = ("subject", "split", "fold")


def _subject_ids(subjects: pd.DataFrame) -> np.ndarray:
    if schema.SUBJECT not in subjects.columns:
        raise ValueError(f"subjects: missing required column {schema.SUBJECT!r}; present: {list(subjects.columns)}")
    ids = subjects[schema.SUBJECT].astype(str)
    dup = ids[ids.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"subjects: column 'subject' must be unique; duplicated: {dup[:5]}")
    return ids.to_numpy()


def attach_given_split(subjects: pd.DataFrame, recording_index: pd.DataFrame) -> pd.DataFrame:
    """Copy the per-recording ``given_split`` column of the index onto the subjects table.

    The raw contract stores a release's fixed train/test assignment per recording; the split
    works per subject. Returns ``subjects`` unchanged when the index has no ``given_split``.

    Raises:
        ValueError: If a subject has recordings in both given splits, or an indexed subject with
            a given split is absent from ``subjects`` (or vice versa).
    """
    if schema.GIVEN_SPLIT not in recording_index.columns:
        return subjects
    per_subject = recording_index.groupby(recording_index[schema.SUBJECT].astype(str))[schema.GIVEN_SPLIT]
    counts = per_subject.nunique()
    mixed = counts.index[counts > 1].tolist()
    if mixed:
        raise ValueError(f"raw_recording_index: subject(s) {mixed[:5]} have recordings in both given splits")
    given = per_subject.first()
    ids = subjects[schema.SUBJECT].astype(str)
    missing = sorted(set(ids) - set(given.index))
    if missing:
        raise ValueError(f"attach_given_split: subject(s) {missing[:5]} have no recording with a {schema.GIVEN_SPLIT!r}")
    out = subjects.copy()
    out[schema.GIVEN_SPLIT] = ids.map(given).to_numpy()
    return out


def split_subjects(
    subjects: pd.DataFrame,
    test_fraction: float = 22 / 72,
    n_folds: int = 5,
    val_fold: int = 0,
    seed: int = 0,
    given_split_column: str | None = schema.GIVEN_SPLIT,
    test_seed: int | None = None,
) -> pd.DataFrame:
    """Assign every subject to ``train``, ``val`` or ``test`` and a fold.

    Args:
        subjects: One row per subject, column ``subject`` (unique). If ``given_split_column`` is
            a column of it (values ``train``/``test``), that test set is used as is and only the
            train subjects are folded; ``test_fraction`` and ``test_seed`` are then unused.
        test_fraction: Fraction of subjects held out for testing, in [0, 1); the test count is
            ``round(test_fraction * n_subjects)`` (72 subjects -> 22).
        n_folds: Number of subject-wise folds of the train pool (>= 2).
        val_fold: Which fold is the validation split, ``0 <= val_fold < n_folds``.
        seed: Seed of the fold assignment (scikit-learn ``KFold(shuffle=True)``).
        given_split_column: Column holding a fixed train/test assignment; None to ignore it.
        test_seed: Seed of the test draw; defaults to ``seed``. Fix it across the protocol's
            seeds so all runs share one test set.

    Returns:
        DataFrame ``subject`` (str), ``split`` (``train``/``val``/``test``), ``fold`` (int64,
        ``-1`` for test), sorted by subject. The result depends only on the set of subject ids
        and the arguments, not on the row order of ``subjects``.

    Raises:
        ValueError: On invalid arguments, a malformed given split, or too few subjects for one
            test subject and ``n_folds`` non-empty folds.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"split_subjects: test_fraction={test_fraction}; expected 0 <= test_fraction < 1")
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"split_subjects: n_folds={n_folds}; expected an integer >= 2")
    if int(val_fold) != val_fold or not 0 <= val_fold < n_folds:
        raise ValueError(f"split_subjects: val_fold={val_fold}; expected an integer in [0, {n_folds - 1}]")
    test_seed = seed if test_seed is None else test_seed

    ids = _subject_ids(subjects)
    order = np.argsort(ids, kind="stable")  # row-order independence
    ids = ids[order]

    if given_split_column is not None and given_split_column in subjects.columns:
        given = subjects[given_split_column].astype(str).to_numpy()[order]
        invalid = sorted(set(given) - {"train", "test"})
        if invalid:
            raise ValueError(
                f"subjects: column {given_split_column!r} has value(s) {invalid}; expected 'train' or 'test'"
            )
        test_ids, pool = ids[given == "test"], ids[given == "train"]
        logger.info("split_subjects: using the given split (%d test subjects)", len(test_ids))
    else:
        n_test = int(round(test_fraction * len(ids)))
        if test_fraction > 0 and n_test < 1:
            raise ValueError(
                f"split_subjects: {len(ids)} subject(s) with test_fraction={test_fraction:.4f} gives no test subject; "
                "expected at least 1 test subject"
            )
        if len(ids) - n_test < n_folds:
            raise ValueError(
                f"split_subjects: {len(ids)} subject(s) with {n_test} for test leave {len(ids) - n_test} train "
                f"subject(s); expected at least n_folds={n_folds} train subjects"
            )
        if n_test:
            pool, test_ids = train_test_split(ids, test_size=n_test, random_state=test_seed, shuffle=True)
        else:
            pool, test_ids = ids, ids[:0]

    if len(pool) < n_folds:
        raise ValueError(
            f"split_subjects: {len(pool)} train subject(s) cannot be cut into n_folds={n_folds} subject-wise folds "
            f"({len(ids)} subjects in total, {len(test_ids)} for test); expected at least {n_folds} train subjects"
        )
    pool = np.sort(pool)
    fold_of = np.empty(len(pool), dtype=np.int64)
    for fold, (_, held) in enumerate(KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(pool)):
        fold_of[held] = fold

    table = pd.DataFrame(
        {
            "subject": np.concatenate([pool, np.sort(test_ids)]),
            "split": np.concatenate([np.where(fold_of == val_fold, "val", "train"), np.full(len(test_ids), "test")]),
            "fold": np.concatenate([fold_of, np.full(len(test_ids), -1, dtype=np.int64)]),
        }
    )
    table = table.sort_values("subject", kind="stable").reset_index(drop=True)
    table = table.astype({"subject": "str", "split": "str", "fold": "int64"})
    assert_disjoint_splits(table)
    counts = table["split"].value_counts()
    logger.info(
        "split_subjects: train=%d val=%d test=%d subjects (val_fold=%d, seed=%d, test_seed=%d)",
        counts.get("train", 0),
        counts.get("val", 0),
        counts.get("test", 0),
        val_fold,
        seed,
        test_seed,
    )
    return table


def assert_disjoint_splits(split_table: pd.DataFrame) -> None:
    """Check that no subject appears in more than one split.

    Args:
        split_table: Table with ``subject`` and ``split`` columns (e.g. from
            :func:`split_subjects`, or the concatenated subjects of partitioned windows).

    Raises:
        ValueError: Naming the leaking subject(s) and their splits, or an unknown split value.
    """
    for column in ("subject", "split"):
        if column not in split_table.columns:
            raise ValueError(f"split table: missing required column {column!r}")
    invalid = sorted(set(split_table["split"].astype(str)) - set(SPLITS))
    if invalid:
        raise ValueError(f"split table: column 'split' has value(s) {invalid}; expected one of {list(SPLITS)}")
    splits_per_subject = split_table.groupby(split_table["subject"].astype(str))["split"].unique()
    leaking = {s: sorted(v) for s, v in splits_per_subject.items() if len(v) > 1}
    if leaking:
        detail = ", ".join(f"{s!r} in {v}" for s, v in list(leaking.items())[:5])
        raise ValueError(f"subject leakage: {len(leaking)} subject(s) in more than one split: {detail}")
