"""A versioned Kedro dataset for one pickled Python object (a trained model), written atomically.

kedro-datasets' ``pickle.PickleDataset`` writes the pickle in place: a run killed while saving a model leaves a
truncated ``trained_model.pkl`` in the newest version folder, which the next ``kedro run --from-nodes ...`` loads
as the latest version and fails on. This dataset writes through :class:`insole_mtl.datasets.file.FileDataset`
(temporary file beside the target + ``os.replace``), so a version folder holds a complete pickle or none.

Example catalog entry::

    trained_model:
      type: insole_mtl.datasets.pickle.AtomicPickleDataset
      filepath: data/06_models/trained_model.pkl
      versioned: true
"""

from __future__ import annotations

import pickle
from typing import Any

from kedro.io.core import DatasetError, Version

from insole_mtl.datasets.file import FileDataset


class AtomicPickleDataset(FileDataset[Any]):
    """Save/load any picklable object with :mod:`pickle` (optionally versioned), atomically on local disks.

    Args:
        filepath: file path (any fsspec protocol; atomic on the local filesystem).
        protocol: pickle protocol (default: ``pickle.HIGHEST_PROTOCOL``).
        version, fs_args, metadata: as for every project file dataset.
    """

    def __init__(
        self,
        *,
        filepath: str,
        protocol: int | None = None,
        version: Version | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._pickle_protocol = pickle.HIGHEST_PROTOCOL if protocol is None else int(protocol)
        super().__init__(filepath=filepath, version=version, fs_args=fs_args, metadata=metadata)

    def load(self) -> Any:
        with self._fs.open(self._load_path(), mode="rb") as f:
            return pickle.load(f)  # noqa: S301 - the project's own model files

    def save(self, data: Any) -> None:
        try:
            payload = pickle.dumps(data, protocol=self._pickle_protocol)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise DatasetError(f"AtomicPickleDataset ({self._filepath}): {type(data).__name__} cannot be pickled: {exc}") from exc
        self._write(lambda f: f.write(payload))
