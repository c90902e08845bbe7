import numpy as np
import pytest
from kedro.io.core import DatasetError, Version

from insole_mtl.datasets.numpy_array import NumpyArrayDataset


def test_round_trip_keeps_dtype_shape_and_values(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    ds = NumpyArrayDataset(filepath=str(tmp_path / "a.npy"))
    assert not ds.exists()
    ds.save(data)
    assert ds.exists()
    loaded = ds.load()
    assert loaded.dtype == np.uint8 and loaded.shape == (2, 3, 4)
    np.testing.assert_array_equal(loaded, data)


def test_mmap_load_is_lazy_memmap(tmp_path):
    data = np.linspace(0, 1, 10, dtype=np.float32)
    ds = NumpyArrayDataset(filepath=str(tmp_path / "b.npy"), load_args={"mmap_mode": "r"})
    ds.save(data)
    loaded = ds.load()
    assert isinstance(loaded, np.memmap)
    np.testing.assert_array_equal(np.asarray(loaded), data)


def test_versioned_saves_do_not_overwrite(tmp_path):
    path = str(tmp_path / "c.npy")
    NumpyArrayDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save(np.zeros(2))
    NumpyArrayDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save(np.ones(2))
    latest = NumpyArrayDataset(filepath=path, version=Version(None, None)).load()
    np.testing.assert_array_equal(latest, np.ones(2))


def test_rejects_non_arrays_and_unknown_load_args(tmp_path):
    with pytest.raises(DatasetError, match="saves numpy arrays, got list"):
        NumpyArrayDataset(filepath=str(tmp_path / "d.npy")).save([1, 2])
    with pytest.raises(DatasetError, match="accepts only 'mmap_mode'"):
        NumpyArrayDataset(filepath=str(tmp_path / "d.npy"), load_args={"allow_pickle": True})
