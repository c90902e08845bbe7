"""A versioned Kedro dataset for one NumPy array stored as ``.npy``.

kedro-datasets has no plain ``.npy`` dataset; windows ``(n, C, L)`` float32 and bit-packed recurrence plots
``(n, C, L, L/8)`` uint8 are single arrays, so ``.npy`` (header + raw buffer) is the smallest and fastest
format, and ``mmap_mode="r"`` lets large arrays be read lazily instead of copied into memory.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version, get_filepath_str, get_protocol_and_path


class NumpyArrayDataset(AbstractVersionedDataset[np.ndarray, np.ndarray]):
    """Save/load a single ``np.ndarray`` as ``.npy`` (optionally versioned, optionally memory-mapped on load).

    Example catalog entry::

        train.recurrence_plots:
          type: insole_mtl.datasets.numpy_array.NumpyArrayDataset
          filepath: data/05_model_input/train/recurrence_plots.npy
          load_args: {mmap_mode: r}
    """

    def __init__(
        self,
        *,
        filepath: str,
        load_args: dict[str, Any] | None = None,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(fs_args or {}))
        self._load_args = dict(load_args or {})
        unknown = set(self._load_args) - {"mmap_mode"}
        if unknown:
            raise DatasetError(f"NumpyArrayDataset load_args accepts only 'mmap_mode', got {sorted(unknown)}")
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def load(self) -> np.ndarray:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        if self._protocol == "file" and self._load_args.get("mmap_mode"):
            return np.load(load_path, mmap_mode=self._load_args["mmap_mode"], allow_pickle=False)
        with self._fs.open(load_path, mode="rb") as f:
            return np.load(f, allow_pickle=False)

    def save(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise DatasetError(f"NumpyArrayDataset saves numpy arrays, got {type(data).__name__}")
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        with self._fs.open(save_path, mode="wb") as f:
            np.save(f, np.ascontiguousarray(data), allow_pickle=False)
        self._invalidate_cache()

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return self._fs.exists(load_path)

    def _invalidate_cache(self) -> None:
        self._fs.invalidate_cache(str(self._filepath))
