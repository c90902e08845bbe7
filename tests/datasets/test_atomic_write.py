"""The project's own file datasets write atomically: a failed or killed save never leaves a half-written file
under the dataset's name."""

from __future__ import annotations

import numpy as np
import pytest

from insole_mtl.datasets.binary import BinaryDataset
from insole_mtl.datasets.file import atomic_write
from insole_mtl.datasets.numpy_array import NumpyArrayDataset


class Boom(Exception):
    pass


def test_a_writer_that_dies_mid_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"previous")

    def writer(f):
        f.write(b"half of the new cont")
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, writer)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_numpy_dataset_save_failure_keeps_the_old_array(tmp_path, monkeypatch):
    ds = NumpyArrayDataset(filepath=str(tmp_path / "w.npy"))
    ds.save(np.arange(4))

    def dying_save(f, array, allow_pickle=False):
        f.write(b"\x93NUMPY partial")
        raise Boom

    monkeypatch.setattr(np, "save", dying_save)
    with pytest.raises(Exception):
        ds.save(np.ones(1000))
    monkeypatch.undo()
    np.testing.assert_array_equal(ds.load(), np.arange(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.npy"]


def test_the_new_file_appears_only_complete(tmp_path):
    seen = []
    target = tmp_path / "m.onnx"

    def writer(f):
        f.write(b"abc")
        seen.append(target.exists())  # while writing, nothing is under the final name yet
        f.write(b"def")

    atomic_write(target, writer)
    assert seen == [False] and target.read_bytes() == b"abcdef"
    BinaryDataset(filepath=str(target)).save(b"xyz")
    assert BinaryDataset(filepath=str(target)).load() == b"xyz"


def test_atomic_pickle_dataset_round_trip_versions_and_failed_saves(tmp_path):
    import torch
    from kedro.io.core import DatasetError, Version

    from insole_mtl.datasets.pickle import AtomicPickleDataset

    path = str(tmp_path / "model.pkl")
    model = torch.nn.Linear(3, 2)
    AtomicPickleDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save(model)
    loaded = AtomicPickleDataset(filepath=path, version=Version(None, None)).load()
    assert torch.equal(loaded.weight, model.weight)

    with pytest.raises(DatasetError, match="function cannot be pickled"):
        AtomicPickleDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save(lambda: 0)
    # the failed save left no file under the newer version: the latest loadable version is still the first
    assert sorted(p.name for p in (tmp_path / "model.pkl").iterdir()) == ["2026-01-01T00.00.00.000Z"]
    assert torch.equal(AtomicPickleDataset(filepath=path, version=Version(None, None)).load().weight, model.weight)
