import re

import pytest
from kedro.io.core import DatasetError, Version

from insole_mtl.datasets.binary import BinaryDataset


def test_round_trip_and_versioning(tmp_path):
    path = str(tmp_path / "models" / "model.onnx")
    BinaryDataset(filepath=path).save(b"\x08\x07onnx")
    assert (tmp_path / "models" / "model.onnx").read_bytes() == b"\x08\x07onnx"
    assert BinaryDataset(filepath=path).load() == b"\x08\x07onnx"
    vpath = str(tmp_path / "versioned" / "model.onnx")
    BinaryDataset(filepath=vpath, version=Version(None, "2024-01-01T00.00.00.000Z")).save(bytearray(b"abc"))
    assert (tmp_path / "versioned" / "model.onnx" / "2024-01-01T00.00.00.000Z" / "model.onnx").read_bytes() == b"abc"
    assert BinaryDataset(filepath=vpath, version=Version(None, None)).load() == b"abc"


def test_save_rejects_non_bytes(tmp_path):
    with pytest.raises(DatasetError, match=re.escape("BinaryDataset saves bytes, got str")):
        BinaryDataset(filepath=str(tmp_path / "m.onnx")).save("text")
