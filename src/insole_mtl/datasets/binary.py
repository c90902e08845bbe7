"""A versioned Kedro dataset for raw bytes (e.g. a serialised ONNX model).

kedro-datasets 9.6 has no raw-bytes dataset (``text.TextDataset`` decodes to ``str``, ``pickle.PickleDataset``
would wrap the bytes in a pickle, which ONNX Runtime and Netron cannot open), so this one writes the bytes
as they are: the file is a plain ``.onnx`` model any tool reads.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path


class BinaryDataset(AbstractVersionedDataset[bytes, bytes]):
    """Save/load ``bytes`` unchanged (optionally versioned).

    Example catalog entry::

        onnx_model:
          type: insole_mtl.datasets.binary.BinaryDataset
          filepath: data/06_models/model.onnx
          versioned: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def load(self) -> bytes:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as f:
            return f.read()

    def save(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray)):
            raise DatasetError(f"BinaryDataset saves bytes, got {type(data).__name__}")
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        with self._fs.open(save_path, mode="wb") as f:
            f.write(bytes(data))
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(str(self._filepath))
