from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.split import (
    assert_disjoint_splits,
    attach_given_split,
    cross_validation_split,
    file_level_split,
    split_subjects,
    subject_strata,
)
from insole_mtl.signals.windows import partition_windows


def _subjects(n: int) -> pd.DataFrame:
    return pd.DataFrame({"subject": [f"s{i:02d}" for i in range(n)], "weight_kg": np.arange(n, dtype=float)})


def test_paper_sizes():
    table = split_subjects(_subjects(72))
    counts = table["split"].value_counts().to_dict()
    assert counts == {"train": 40, "val": 10, "test": 22}
    assert list(table.columns) == ["subject", "split", "fold"]
    assert table["subject"].tolist() == sorted(table["subject"])
    assert (table.loc[table["split"] == "test", "fold"] == -1).all()
    pool = table[table["split"] != "test"]
    assert pool["fold"].value_counts().sort_index().tolist() == [10, 10, 10, 10, 10]
    assert (pool.loc[pool["split"] == "val", "fold"] == 0).all()
    assert str(table["fold"].dtype) == "int64"


def test_no_leakage_many_seeds_and_folds():
    subjects = _subjects(23)
    tests = set()
    for seed in range(6):
        folds = {}
        for val_fold in range(5):
            table = split_subjects(subjects, n_folds=5, val_fold=val_fold, seed=seed, test_seed=0)
            assert_disjoint_splits(table)
            assert table["subject"].is_unique and len(table) == 23
            sets = {s: set(table.loc[table["split"] == s, "subject"]) for s in ("train", "val", "test")}
            assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
            tests.add(frozenset(sets["test"]))
            folds[val_fold] = table.set_index("subject")["fold"]
            # the fold assignment does not depend on which fold is validation
            pd.testing.assert_series_equal(folds[val_fold], folds[0])
        # every pool subject is validation in exactly one of the 5 runs
        pool = folds[0][folds[0] >= 0]
        assert sorted(pool.unique()) == [0, 1, 2, 3, 4]
    assert len(tests) == 1  # test set fixed by test_seed across seeds and folds


def test_test_seed_defaults_to_seed_and_determinism():
    subjects = _subjects(30)
    a = split_subjects(subjects, seed=3)
    pd.testing.assert_frame_equal(a, split_subjects(subjects, seed=3))
    pd.testing.assert_frame_equal(a, split_subjects(subjects, seed=3, test_seed=3))
    other = split_subjects(subjects, seed=4)
    assert set(a.loc[a.split == "test", "subject"]) != set(other.loc[other.split == "test", "subject"])
    # row order of the subjects table does not matter
    shuffled = subjects.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(a, split_subjects(shuffled, seed=3))


def test_given_split_respected():
    subjects = _subjects(12).assign(given_split=["test"] * 4 + ["train"] * 8)
    table = split_subjects(subjects, n_folds=4, val_fold=2, seed=9)
    assert sorted(table.loc[table.split == "test", "subject"]) == ["s00", "s01", "s02", "s03"]
    assert table["split"].value_counts().to_dict() == {"train": 6, "val": 2, "test": 4}
    ignored = split_subjects(subjects, n_folds=4, given_split_column=None, test_fraction=0.25, seed=9)
    assert len(ignored[ignored.split == "test"]) == 3
    with pytest.raises(ValueError, match=re.escape("column 'given_split' has value(s) ['dev']")):
        split_subjects(subjects.assign(given_split=["dev"] + ["train"] * 11), n_folds=4)


def test_given_folds_are_kept_and_renumbered():
    # 2 test subjects, 6 train subjects in the release's folds 3 / 7 / 9 (GILON cv_dict keys need not be 0..K-1)
    subjects = _subjects(8).assign(given_split=["test"] * 2 + ["train"] * 6, given_fold=[-1, -1, 9, 3, 7, 3, 9, 7])
    table = split_subjects(subjects, n_folds=3, val_fold=1, seed=0, given_fold_column="given_fold")
    assert table["fold"].tolist() == [-1, -1, 2, 0, 1, 0, 2, 1]
    assert table["split"].tolist() == ["test", "test", "train", "train", "val", "train", "train", "val"]
    # the seed draws nothing: the same table for any seed
    pd.testing.assert_frame_equal(table, split_subjects(subjects, n_folds=3, val_fold=1, seed=5, given_fold_column="given_fold"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"given_fold": None}, "split.folds: given needs the release's folds in column 'given_fold' of subjects (the GILON reader fills it from cv_dict.pkl beside the CSVs); subjects has columns ['subject', 'weight_kg', 'given_split']"),
        ({"given_fold": [-1, -1, 0, 1, 2, -1]}, "split.folds: given: train subject(s) ['s05'] are in no given fold (given_fold = -1)"),
        ({"given_fold": [0, -1, 0, 1, 2, 2]}, "split.folds: given: test subject(s) ['s00'] are in a given fold; expected the given folds to cut the train subjects only"),
        ({"given_fold": [-1, -1, 0, 1, 1, 0]}, "split.folds: given: the train subjects are in 2 given fold(s) [0, 1]; params split.n_folds is 3"),
        ({"given_fold": [-1.0, -1.0, 0.0, 1.0, 2.0, 2.0]}, "subjects: column 'given_fold' must hold integer folds (-1 = in no fold), got dtype float64"),
    ],
)
def test_given_folds_errors(change, message):
    subjects = _subjects(6).assign(given_split=["test"] * 2 + ["train"] * 4)
    if change["given_fold"] is not None:
        subjects = subjects.assign(**change)
    with pytest.raises(ValueError, match=re.escape(message)):
        split_subjects(subjects, n_folds=3, given_fold_column="given_fold")


def test_attach_given_split():
    index = pd.DataFrame({"recording": ["a", "b", "c"], "subject": ["s1", "s1", "s2"], "given_split": ["test", "test", "train"]})
    subjects = pd.DataFrame({"subject": ["s2", "s1"]})
    assert attach_given_split(subjects, index)["given_split"].tolist() == ["train", "test"]
    assert "given_split" not in attach_given_split(subjects, index.drop(columns="given_split")).columns
    with pytest.raises(ValueError, match=re.escape("subject(s) ['s1'] have recordings in both given splits")):
        attach_given_split(subjects, index.assign(given_split=["test", "train", "train"]))


def test_too_few_subjects_and_bad_args():
    with pytest.raises(ValueError, match=re.escape("4 subject(s) with 1 for test leave 3 train subject(s); expected at least n_folds=5")):
        split_subjects(_subjects(4), test_fraction=0.25)
    with pytest.raises(ValueError, match="gives no test subject"):
        split_subjects(_subjects(6), test_fraction=0.05, n_folds=2)
    with pytest.raises(ValueError, match=re.escape("val_fold=5; expected an integer in [0, 4]")):
        split_subjects(_subjects(72), val_fold=5)
    with pytest.raises(ValueError, match="n_folds=1"):
        split_subjects(_subjects(72), n_folds=1)
    with pytest.raises(ValueError, match="test_fraction=1.0"):
        split_subjects(_subjects(72), test_fraction=1.0)
    with pytest.raises(ValueError, match=re.escape("duplicated: ['s01']")):
        split_subjects(pd.concat([_subjects(10), _subjects(2).iloc[1:]]), n_folds=2)
    no_test = split_subjects(_subjects(5), test_fraction=0.0, n_folds=5)
    assert (no_test.split != "test").all()


def test_assert_disjoint_names_leaking_subjects():
    table = pd.DataFrame({"subject": ["a", "b", "b", "c"], "split": ["train", "train", "test", "val"]})
    with pytest.raises(ValueError, match=re.escape("1 subject(s) in more than one split: 'b' in ['test', 'train']")):
        assert_disjoint_splits(table)
    with pytest.raises(ValueError, match=re.escape("value(s) ['dev']")):
        assert_disjoint_splits(table.assign(split="dev"))


# ------------------------------------------------------------------------------- subject strata
def _recordings(classes_by_subject: dict[str, list[int]]) -> pd.DataFrame:
    rows = [(f"{subject}_r{k}", subject, c) for subject, classes in classes_by_subject.items() for k, c in enumerate(classes)]
    return pd.DataFrame(rows, columns=["recording", "subject", "activity"])


def test_subject_strata_per_subject_class():
    rec = _recordings({"s2": [1, 1], "s1": [0, 0, 0], "s3": [0], "s4": [-1, 1]})  # -1 = unlabelled, ignored
    strata = subject_strata(rec)
    assert strata is not None
    assert strata.index.tolist() == ["s1", "s2", "s3", "s4"]  # sorted by subject
    assert strata.tolist() == [0, 1, 0, 1]
    assert str(strata.dtype) == "int64"
    numeric = subject_strata(rec.assign(subject=rec["subject"].str[1:].astype(int)))
    assert numeric is not None and numeric.index.tolist() == ["1", "2", "3", "4"]


def test_subject_strata_none_when_not_a_subject_property():
    assert subject_strata(_recordings({"s1": [0, 1], "s2": [1, 1]})) is None  # varies within s1
    assert subject_strata(_recordings({"s1": [2, 2], "s2": [2]})) is None  # one class only
    assert subject_strata(_recordings({"s1": [-1], "s2": [-1]})) is None  # nothing labelled
    assert subject_strata(_recordings({"s1": [0], "s2": [1]}).drop(columns="activity")) is None
    assert subject_strata(_recordings({"s1": [0], "s2": [1]}).rename(columns={"activity": "diagnosis"}), "diagnosis").tolist() == [0, 1]


# ------------------------------------------------------------------------------ cross-validation
def _ids(n: int) -> list[str]:
    return [f"s{i:02d}" for i in range(n)]


def _strata(n: int, n_ones: int) -> pd.Series:
    return pd.Series([0] * (n - n_ones) + [1] * n_ones, index=_ids(n))


@pytest.mark.parametrize(("n", "k", "strata_ones"), [(20, 4, 8), (23, 5, None), (10, 2, 4), (7, 7, None)])
def test_cross_validation_folds_partition_the_subjects(n, k, strata_ones):
    strata = None if strata_ones is None else _strata(n, strata_ones)
    tables = [cross_validation_split(_ids(n), k, fold, seed=3, val_fraction=0.2, strata=strata) for fold in range(k)]
    test_counts: dict[str, int] = {}
    for fold, table in enumerate(tables):
        assert list(table.columns) == ["subject", "split", "fold"]
        assert table["subject"].tolist() == sorted(_ids(n))
        assert str(table["fold"].dtype) == "int64"
        assert_disjoint_splits(table)
        sets = {s: set(table.loc[table["split"] == s, "subject"]) for s in ("train", "val", "test")}
        assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
        assert sets["train"] | sets["val"] | sets["test"] == set(_ids(n))
        # test split = the subjects of the outer fold
        assert sets["test"] == set(table.loc[table["fold"] == fold, "subject"])
        for subject in sets["test"]:
            test_counts[subject] = test_counts.get(subject, 0) + 1
        # the fold assignment does not depend on which fold is the test fold
        pd.testing.assert_series_equal(table["fold"], tables[0]["fold"])
        # validation: round(val_fraction * non-test subjects), at least 1, never the whole pool
        pool = n - len(sets["test"])
        assert len(sets["val"]) == max(1, int(round(0.2 * pool)))
        assert len(sets["train"]) >= 1
    assert test_counts == dict.fromkeys(_ids(n), 1)  # every subject is test exactly once
    sizes = tables[0]["fold"].value_counts()
    assert sizes.max() - sizes.min() <= 1


def test_cross_validation_val_fraction_share():
    for fraction, expected in ((0.15, 2), (0.25, 4), (0.5, 8)):
        table = cross_validation_split(_ids(20), 4, 1, seed=0, val_fraction=fraction)
        assert (table["split"] == "val").sum() == expected  # of the 15 non-test subjects
    assert (cross_validation_split(_ids(6), 3, 0, val_fraction=0.01)["split"] == "val").sum() == 1  # at least one


def test_cross_validation_stratified_test_folds():
    n, ones = 30, 12  # 60 % class 0, 40 % class 1
    strata = _strata(n, ones)
    for fold in range(5):
        table = cross_validation_split(_ids(n), 5, fold, seed=1, strata=strata)
        test = table.loc[table["split"] == "test", "subject"]
        share = strata.loc[test].value_counts().reindex([0, 1], fill_value=0)
        assert abs(share[1] - ones / 5) <= 1 and abs(share[0] - (n - ones) / 5) <= 1
        val = table.loc[table["split"] == "val", "subject"]
        assert set(strata.loc[val]) == {0, 1}  # the inner draw is stratified too
    # (without strata, seed 1 puts 4 class-1 subjects in one fold: the +-1 check discriminates); int strata index
    int_strata = pd.Series(strata.to_numpy(), index=range(n))
    a = cross_validation_split([str(i) for i in range(n)], 5, 0, seed=1, strata=int_strata)
    assert set(a["split"]) == {"train", "val", "test"}


def test_cross_validation_deterministic_and_order_independent():
    ids = _ids(17)
    a = cross_validation_split(ids, 3, 1, seed=5)
    pd.testing.assert_frame_equal(a, cross_validation_split(ids, 3, 1, seed=5))
    pd.testing.assert_frame_equal(a, cross_validation_split(list(reversed(ids)), 3, 1, seed=5))
    pd.testing.assert_frame_equal(a, cross_validation_split(tuple(np.random.default_rng(0).permutation(ids)), 3, 1, seed=5))
    strata = _strata(17, 7)
    b = cross_validation_split(ids, 3, 1, seed=5, strata=strata)
    pd.testing.assert_frame_equal(b, cross_validation_split(ids[::-1], 3, 1, seed=5, strata=strata.sample(frac=1.0, random_state=2)))
    other = cross_validation_split(ids, 3, 1, seed=6)
    assert not a["fold"].equals(other["fold"])


def test_cross_validation_falls_back_to_unstratified_folds(caplog):
    strata = _strata(10, 2)  # class 1 has 2 subjects < 4 folds
    with caplog.at_level("WARNING"):
        tables = [cross_validation_split(_ids(10), 4, fold, strata=strata) for fold in range(4)]
    assert "folds are not stratified" in caplog.text
    assert sorted(s for t in tables for s in t.loc[t["split"] == "test", "subject"]) == _ids(10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_folds": 1}, "cv: n_folds=1; expected an integer >= 2"),
        ({"n_folds": 2.5}, "cv: n_folds=2.5; expected an integer >= 2"),
        ({"test_fold": 4}, "cv: test_fold=4; expected an integer in [0, 3]"),
        ({"test_fold": -1}, "cv: test_fold=-1; expected an integer in [0, 3]"),
        ({"test_fold": 0.5}, "cv: test_fold=0.5; expected an integer in [0, 3]"),
        ({"val_fraction": 0.0}, "cv: val_fraction=0.0; expected 0 < val_fraction < 1"),
        ({"val_fraction": 1.0}, "cv: val_fraction=1.0; expected 0 < val_fraction < 1"),
        ({"subjects": _ids(3)}, "cv: 3 subject(s) cannot be cut into 4 subject-wise folds; expected at least 4"),
        ({"subjects": _ids(5) + ["s01"]}, "cv: subject ids must be unique"),
        ({"strata": _strata(7, 3)}, "have no class in the strata"),
        ({"subjects": _ids(4), "n_folds": 2, "val_fraction": 0.9}, "cv: val_fraction=0.9 leaves no training subject out of 2"),
    ],
)
def test_cross_validation_bad_args(kwargs, message):
    args = {"subjects": _ids(10), "n_folds": 4, "test_fold": 0, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        cross_validation_split(**args)


def test_cross_validation_missing_strata_message_names_subjects_plainly():
    with pytest.raises(ValueError, match=re.escape("cv: subject(s) ['s07', 's08', 's09'] have no class in the strata")):
        cross_validation_split(_ids(10), 4, 0, strata=_strata(7, 3))


# ---------------------------------------------------------------------------- file-level (leaky)
def _walks(per_subject: int = 4, n_subjects: int = 5) -> pd.DataFrame:
    rows = [
        (f"r{s}{k}", f"s{s}", s % 2) for s in range(n_subjects) for k in range(per_subject)
    ]  # the class is a property of the subject
    return pd.DataFrame(rows, columns=["recording", "subject", "activity"])


def test_file_level_split_partitions_recordings():
    walks = _walks()
    tables = [file_level_split(walks, 4, fold, seed=2) for fold in range(4)]
    tested: list[str] = []
    for fold, table in enumerate(tables):
        assert list(table.columns) == ["recording", "subject", "split", "fold"]
        assert set(table["split"]) == {"train", "val", "test"}
        test = table.loc[table["split"] == "test", "recording"].tolist()
        val = table.loc[table["split"] == "val", "recording"].tolist()
        train = table.loc[table["split"] == "train", "recording"].tolist()
        assert sorted(val) == sorted(test)  # the test fold IS the validation split
        assert not set(train) & set(test)
        assert sorted(train + test) == sorted(walks["recording"])  # every recording once outside val
        assert len(table) == len(walks) + len(test)
        assert (table.loc[table["split"] != "train", "fold"] == fold).all()
        assert table["recording"].tolist() == sorted(table["recording"])  # sorted by recording
        # a recording keeps its subject
        assert table.set_index("recording")["subject"].groupby(level=0).nunique().max() == 1
        tested += test
        pd.testing.assert_series_equal(
            table.drop_duplicates("recording").set_index("recording")["fold"],
            tables[0].drop_duplicates("recording").set_index("recording")["fold"],
        )
    assert sorted(tested) == sorted(walks["recording"])  # each recording is test exactly once
    # subjects sit on both sides: the leak the protocol exists to measure
    both = [
        subject
        for subject, splits in tables[0].groupby("subject")["split"].agg(set).items()
        if {"train", "test"} <= splits
    ]
    assert both
    pd.testing.assert_frame_equal(tables[1], file_level_split(walks.sample(frac=1.0, random_state=0), 4, 1, seed=2))


def test_file_level_split_is_stratified_by_class():
    walks = _walks(per_subject=4, n_subjects=6)  # 12 recordings of each class
    for fold in range(4):
        table = file_level_split(walks, 4, fold, seed=0)
        test = table[table["split"] == "test"].merge(walks[["recording", "activity"]], on="recording")
        assert test["activity"].value_counts().to_dict() == {0: 3, 1: 3}


def test_file_level_split_errors():
    walks = _walks(per_subject=1, n_subjects=3)
    with pytest.raises(ValueError, match=re.escape("cv: 3 recording(s) cannot be cut into 4 folds")):
        file_level_split(walks, 4, 0)
    with pytest.raises(ValueError, match=re.escape("cv: test_fold=4; expected an integer in [0, 3]")):
        file_level_split(_walks(), 4, 4)


def test_file_level_split_rejects_one_fold():
    with pytest.raises(ValueError, match=re.escape("cv: n_folds=1; expected an integer >= 2")):
        file_level_split(_walks(), 1, 0)


# ------------------------------------------------------------------ routing windows by the tables
def _window_table() -> tuple[np.ndarray, pd.DataFrame]:
    walks = _walks(per_subject=2, n_subjects=3)  # r00 r01 (s0), r10 r11 (s1), r20 r21 (s2)
    recordings = np.repeat(walks["recording"].to_numpy(), 2)  # two windows per recording
    subjects = np.repeat(walks["subject"].to_numpy(), 2)
    labels = pd.DataFrame({"subject": subjects, "recording": recordings, "activity": np.repeat(walks["activity"].to_numpy(), 2)})
    windows = np.arange(len(labels), dtype=np.float32)[:, None, None] * np.ones((1, 2, 3), np.float32)
    return windows, labels


def test_partition_windows_by_recording_table_duplicates_test_into_val():
    windows, labels = _window_table()
    table = pd.DataFrame(
        {
            "recording": ["r00", "r01", "r10", "r11", "r20", "r21", "r01", "r11"],
            "subject": ["s0", "s0", "s1", "s1", "s2", "s2", "s0", "s1"],
            "split": ["train", "test", "train", "test", "train", "train", "val", "val"],
            "fold": [1, 0, 1, 0, 1, 1, 0, 0],
        }
    )
    parts = partition_windows(windows, labels, table)
    ids = {split: part[0][:, 0, 0].astype(int).tolist() for split, part in parts.items()}
    assert ids == {"train": [0, 1, 4, 5, 8, 9, 10, 11], "val": [2, 3, 6, 7], "test": [2, 3, 6, 7]}
    assert parts["val"][1]["recording"].tolist() == ["r01", "r01", "r11", "r11"]
    assert parts["test"][1].index.tolist() == [0, 1, 2, 3]
    # s0 and s1 are in train and test: allowed for a recording-keyed (leaky) table
    assert set(parts["train"][1]["subject"]) & set(parts["test"][1]["subject"]) == {"s0", "s1"}
    with pytest.raises(ValueError, match=re.escape("partition_windows: recording(s) ['r21'] of the windows are not in the split table")):
        partition_windows(windows, labels, table[table["recording"] != "r21"])


def test_partition_windows_with_file_level_and_cv_tables():
    windows, labels = _window_table()
    walks = labels.drop_duplicates("recording")[["recording", "subject", "activity"]]
    table = file_level_split(walks, 2, 0, seed=0)
    parts = partition_windows(windows, labels, table)
    test_recordings = set(table.loc[table["split"] == "test", "recording"])
    assert set(parts["test"][1]["recording"]) == test_recordings == set(parts["val"][1]["recording"])
    np.testing.assert_array_equal(parts["val"][0], parts["test"][0])
    assert len(parts["train"][1]) + len(parts["test"][1]) == len(labels)
    # a subject-wise cross-validation table routes by subject and keeps the leakage check
    cv = cross_validation_split(["s0", "s1", "s2"], 3, 0, val_fraction=0.5)
    parts = partition_windows(windows, labels, cv)
    for split in ("train", "val", "test"):
        assert set(parts[split][1]["subject"]) == set(cv.loc[cv["split"] == split, "subject"])
    assert sum(len(p[1]) for p in parts.values()) == len(labels)
