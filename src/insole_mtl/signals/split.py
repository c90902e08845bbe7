"""Subject-wise train / validation / test split (paper Sec. IV-A, V-B2).

The paper holds out 22 of 72 subjects for testing and cuts the other 50 into 5 subject-wise
folds; each run uses one fold as validation (5 folds x 5 seeds = 25 runs on one test set).
Everything here works on subjects, never on windows, so no subject can leak between splits.

The test subjects depend only on ``test_seed`` (or a release's fixed ``given_split``), never
on ``val_fold`` or the fold ``seed``: every run of the protocol is scored on the same test set.

Cross-validation (:func:`cross_validation_split`) scores every subject out of fold instead: K
subject-disjoint folds (stratified by class when the class is a property of the subject), fold
``k`` is the test split and an inner, subject-disjoint share of the other folds the validation
split for early stopping. :func:`file_level_split` is the LEAKY protocol behind most published
gaitpdb figures (folds over walk files, the model picked on the test fold), offered only to
measure the size of that inflation.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

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
    given_fold_column: str | None = None,
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
        given_fold_column: Column holding a release's own folds of its train subjects (int, ``-1`` = in
            no fold; GILON's ``cv_dict.pkl``): the train subjects keep those folds (numbered in order,
            ``n_folds`` of them) instead of a ``KFold`` draw, and ``seed`` is unused. None = draw the folds.

    Returns:
        DataFrame ``subject`` (str), ``split`` (``train``/``val``/``test``), ``fold`` (int64,
        ``-1`` for test), sorted by subject. The result depends only on the set of subject ids
        and the arguments, not on the row order of ``subjects``.

    Raises:
        ValueError: On invalid arguments, a malformed given split, or too few subjects for one
            test subject and ``n_folds`` non-empty folds; with ``given_fold_column``: the column is
            missing, a train subject is in no given fold, a test subject is in one, or the given folds
            are not ``n_folds``.
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
    if given_fold_column is not None:
        fold_of = _given_folds(subjects, given_fold_column, pool, np.asarray(test_ids), n_folds)
    else:
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


def _given_folds(subjects: pd.DataFrame, column: str, pool: np.ndarray, test_ids: np.ndarray, n_folds: int) -> np.ndarray:
    """The fold of each ``pool`` subject (sorted ids) from ``subjects[column]``, renumbered 0..n_folds-1."""
    if column not in subjects.columns:
        raise ValueError(
            f"split.folds: given needs the release's folds in column {column!r} of subjects (the GILON reader fills it "
            f"from cv_dict.pkl beside the CSVs); subjects has columns {list(subjects.columns)}"
        )
    given = pd.Series(subjects[column].to_numpy(), index=subjects[schema.SUBJECT].astype(str))
    if not pd.api.types.is_integer_dtype(given.dtype):
        raise ValueError(f"subjects: column {column!r} must hold integer folds (-1 = in no fold), got dtype {given.dtype}")
    in_test = sorted(s for s in test_ids if given[s] >= 0)
    if in_test:
        raise ValueError(
            f"split.folds: given: test subject(s) {in_test[:5]} are in a given fold; expected the given folds to cut "
            "the train subjects only"
        )
    pool_folds = given.loc[pool].to_numpy()
    outside = sorted(pool[pool_folds < 0].tolist())
    if outside:
        raise ValueError(f"split.folds: given: train subject(s) {outside[:5]} are in no given fold ({column} = -1)")
    numbers = np.unique(pool_folds)
    if len(numbers) != n_folds:
        raise ValueError(
            f"split.folds: given: the train subjects are in {len(numbers)} given fold(s) {numbers.tolist()}; "
            f"params split.n_folds is {n_folds}"
        )
    logger.info("split_subjects: the release's own %d subject folds (column %r)", n_folds, column)
    return np.searchsorted(numbers, pool_folds).astype(np.int64)


def subject_strata(recording_labels: pd.DataFrame, column: str = "activity") -> pd.Series | None:
    """The class of each subject when the classification is per subject, else None.

    Args:
        recording_labels: one row per recording with ``subject`` and the class ``column`` (-1 = none).

    Returns:
        ``subject -> class`` (int64, sorted by subject) when every subject's labelled recordings share
        one class and at least two classes occur; None otherwise (e.g. the paper's activities, which
        vary within a subject).
    """
    if column not in recording_labels.columns:
        return None
    labelled = recording_labels[recording_labels[column] >= 0]
    per_subject = labelled.groupby(labelled[schema.SUBJECT].astype(str))[column]
    if labelled.empty or (per_subject.nunique() > 1).any():
        return None
    strata = per_subject.first().astype("int64").sort_index()
    return strata if strata.nunique() >= 2 else None


def _fold_assignment(ids: np.ndarray, n_folds: int, seed: int, strata: np.ndarray | None) -> np.ndarray:
    """Fold index of each id (ids sorted): StratifiedKFold when ``strata`` allow it, else KFold."""
    fold_of = np.empty(len(ids), dtype=np.int64)
    if strata is not None and np.bincount(strata).min(initial=n_folds) >= n_folds:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed).split(ids, strata)
    else:
        if strata is not None:
            logger.warning("fold assignment: a class has fewer than %d subjects, folds are not stratified", n_folds)
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(ids)
    for fold, (_, held) in enumerate(splitter):
        fold_of[held] = fold
    return fold_of


def _inner_validation(pool: np.ndarray, val_fraction: float, seed: int, strata: np.ndarray | None) -> np.ndarray:
    """Boolean mask of ``pool`` drawn for validation: ``round(val_fraction * len(pool))`` (at least 1)."""
    n_val = max(1, int(round(val_fraction * len(pool))))
    if n_val >= len(pool):
        raise ValueError(f"cv: val_fraction={val_fraction} leaves no training subject out of {len(pool)}")
    stratify = strata if strata is not None and np.bincount(strata).min(initial=2) >= 2 and n_val >= len(np.unique(strata)) else None
    _, val = train_test_split(np.arange(len(pool)), test_size=n_val, random_state=seed, shuffle=True, stratify=stratify)
    mask = np.zeros(len(pool), dtype=bool)
    mask[val] = True
    return mask


def cross_validation_split(
    subjects: Sequence[str],
    n_folds: int,
    test_fold: int,
    seed: int = 0,
    val_fraction: float = 0.15,
    strata: pd.Series | None = None,
) -> pd.DataFrame:
    """Subject-wise K-fold split for out-of-fold scoring: fold ``test_fold`` is the test split.

    Args:
        subjects: every subject id (order irrelevant; duplicates are an error).
        n_folds: K >= 2 folds, each subject in exactly one.
        test_fold: ``0 <= test_fold < K``.
        seed: seed of the fold assignment (the same for every ``test_fold``, so the K calls partition
            the subjects) and of the inner validation draw.
        val_fraction: share of the non-test subjects drawn (subject-wise) as the validation split.
        strata: optional ``subject -> class`` (:func:`subject_strata`): folds and the validation draw are
            then stratified by class.

    Returns:
        ``subject, split, fold`` (``fold`` = the subject's outer fold), sorted by subject.

    Raises:
        ValueError: bad arguments, duplicated subjects, fewer subjects than folds.
    """
    ids = np.asarray(sorted(str(s) for s in subjects))
    if len(set(ids)) != len(ids):
        raise ValueError("cv: subject ids must be unique")
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"cv: n_folds={n_folds}; expected an integer >= 2")
    if int(test_fold) != test_fold or not 0 <= test_fold < n_folds:
        raise ValueError(f"cv: test_fold={test_fold}; expected an integer in [0, {n_folds - 1}]")
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"cv: val_fraction={val_fraction}; expected 0 < val_fraction < 1")
    if len(ids) < n_folds:
        raise ValueError(f"cv: {len(ids)} subject(s) cannot be cut into {n_folds} subject-wise folds; expected at least {n_folds}")
    classes = None
    if strata is not None:
        lookup = strata.copy()
        lookup.index = lookup.index.astype(str)
        missing = sorted(str(s) for s in set(ids) - set(lookup.index))
        if missing:
            raise ValueError(f"cv: subject(s) {missing[:5]} have no class in the strata")
        classes = np.unique(lookup.loc[ids].to_numpy(np.int64), return_inverse=True)[1]
    fold_of = _fold_assignment(ids, int(n_folds), seed, classes)
    test = fold_of == test_fold
    pool = np.flatnonzero(~test)
    val = np.zeros(len(ids), dtype=bool)
    val[pool[_inner_validation(ids[pool], val_fraction, seed + 1 + int(test_fold), None if classes is None else classes[pool])]] = True
    split = np.where(test, "test", np.where(val, "val", "train"))
    table = pd.DataFrame({"subject": ids, "split": split, "fold": fold_of}).astype({"subject": "str", "split": "str", "fold": "int64"})
    assert_disjoint_splits(table)
    counts = table["split"].value_counts()
    logger.info(
        "cross_validation_split: fold %d/%d test=%d val=%d train=%d subjects (seed %d%s)",
        test_fold, n_folds, counts.get("test", 0), counts.get("val", 0), counts.get("train", 0), seed,
        ", stratified" if classes is not None else "",
    )  # fmt: skip
    return table


def file_level_split(
    recording_labels: pd.DataFrame, n_folds: int, test_fold: int, seed: int = 0, column: str = "activity"
) -> pd.DataFrame:
    """LEAKY K-fold split over recordings (walk files), the protocol behind most published gaitpdb figures.

    Folds are cut over recordings, not subjects (StratifiedKFold by ``column`` when it is a class), so a
    subject's walks fall on both sides; the test fold is ALSO the validation split (the model is picked on
    the test fold, as in those papers). Never use it for a result: it exists to measure the inflation.

    Returns:
        ``recording, subject, split, fold`` with every test recording listed twice (``split`` ``test``
        and ``val``), sorted by recording.
    """
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"cv: n_folds={n_folds}; expected an integer >= 2")
    if int(test_fold) != test_fold or not 0 <= test_fold < n_folds:
        raise ValueError(f"cv: test_fold={test_fold}; expected an integer in [0, {n_folds - 1}]")
    rec = recording_labels[[schema.RECORDING, schema.SUBJECT, column]].copy()
    rec[schema.RECORDING] = rec[schema.RECORDING].astype(str)
    rec = rec.sort_values(schema.RECORDING, kind="stable").reset_index(drop=True)
    if len(rec) < n_folds:
        raise ValueError(f"cv: {len(rec)} recording(s) cannot be cut into {n_folds} folds")
    labels = rec[column].to_numpy(np.int64)
    classes = np.unique(labels, return_inverse=True)[1] if (labels >= 0).all() else None
    fold_of = _fold_assignment(rec[schema.RECORDING].to_numpy(), int(n_folds), seed, classes)
    test = fold_of == test_fold
    table = pd.DataFrame(
        {
            schema.RECORDING: rec[schema.RECORDING].to_numpy(),
            schema.SUBJECT: rec[schema.SUBJECT].astype(str).to_numpy(),
            "split": np.where(test, "test", "train"),
            "fold": fold_of,
        }
    )
    table = pd.concat([table, table[test].assign(split="val")], ignore_index=True)
    table = table.sort_values([schema.RECORDING, "split"], kind="stable").reset_index(drop=True)
    sides = table.groupby(schema.SUBJECT)["split"].agg(lambda s: {"train", "test"} <= set(s))
    logger.warning(
        "LEAKY file-level split (fold %d/%d): %d of %d subjects have recordings in both train and test; "
        "the validation split IS the test fold",
        test_fold, n_folds, int(sides.sum()), len(sides),
    )  # fmt: skip
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
