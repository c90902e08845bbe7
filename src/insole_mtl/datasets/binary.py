"""A versioned Kedro dataset for raw bytes (e.g. a serialised ONNX model).

kedro-datasets 9.6 has no raw-bytes dataset (``text.TextDataset`` decodes to ``str``, ``pickle.PickleDataset``
would wrap the bytes in a pickle, which ONNX Runtime and Netron cannot open), so this one writes the bytes
as they are: the file is a plain ``.onnx`` model any tool reads.
"""

from __future__ import annotations

from kedro.io.core import DatasetError

from insole_mtl.datasets.file import FileDataset


class BinaryDataset(FileDataset[bytes]):
    """Save/load ``bytes`` unchanged (optionally versioned).

    Example catalog entry::

        onnx_model:
          type: insole_mtl.datasets.binary.BinaryDataset
          filepath: data/06_models/model.onnx
          versioned: true
    """

    def load(self) -> bytes:
        with self._fs.open(self._load_path(), mode="rb") as f:
            return f.read()

    def save(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise DatasetError(f"BinaryDataset saves bytes, got {type(data).__name__}")
        payload = bytes(data)
        self._write(lambda f: f.write(payload))
