"""A versioned Kedro dataset for one NumPy array stored as ``.npy``.

kedro-datasets has no plain ``.npy`` dataset; windows ``(n, C, L)`` float32 and bit-packed recurrence plots
``(n, C, L, L/8)`` uint8 are single arrays, so ``.npy`` (header + raw buffer) is the smallest and fastest
format, and ``mmap_mode="r"`` lets large arrays be read lazily instead of copied into memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from kedro.io.core import DatasetError, Version

from insole_mtl.datasets.file import FileDataset


class NumpyArrayDataset(FileDataset[np.ndarray]):
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
        self._load_args = dict(load_args or {})
        unknown = set(self._load_args) - {"mmap_mode"}
        if unknown:
            raise DatasetError(f"NumpyArrayDataset load_args accepts only 'mmap_mode', got {sorted(unknown)}")
        super().__init__(filepath=filepath, version=version, fs_args=fs_args, metadata=metadata)

    def load(self) -> np.ndarray:
        load_path = self._load_path()
        if self._protocol == "file" and self._load_args.get("mmap_mode"):
            return np.load(load_path, mmap_mode=self._load_args["mmap_mode"], allow_pickle=False)
        with self._fs.open(load_path, mode="rb") as f:
            return np.load(f, allow_pickle=False)

    def save(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise DatasetError(f"NumpyArrayDataset saves numpy arrays, got {type(data).__name__}")
        self._write(lambda f: np.save(f, np.ascontiguousarray(data), allow_pickle=False))
