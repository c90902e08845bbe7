from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from insole_mtl.signals.split import assert_disjoint_splits, attach_given_split, split_subjects


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
