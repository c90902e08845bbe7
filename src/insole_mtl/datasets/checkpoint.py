"""Training checkpoints through the catalog: a dataset whose loaded object is a small checkpoint store.

The training node receives a :class:`CheckpointStore` (what :class:`CheckpointDataset` loads) and only calls
``store.save(state, epoch)`` after every epoch and ``store.latest()`` when asked to resume; where the files
live is the catalog's business::

    training_checkpoints:
      type: insole_mtl.datasets.checkpoint.CheckpointDataset
      path: ${globals:data_dir}/06_models/checkpoints

Files: ``<path>/epoch-<NNNN>.pt`` (``torch.save`` of a dict of tensors, numbers, strings, lists and dicts —
loaded with ``weights_only=True``, so a checkpoint never runs code). Each one is written to a temporary name in
the same folder and renamed (:func:`insole_mtl.datasets.file.atomic_write`): a run killed mid-write leaves the
previous checkpoint valid. The newest ``keep`` checkpoints are kept; :meth:`CheckpointStore.latest` falls back
to the previous one if the newest cannot be read (it then says so in the log).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import torch
from kedro.io import AbstractDataset, DatasetError

from insole_mtl.datasets.file import atomic_write

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^epoch-(\d{4,})\.pt$")


class CheckpointStore:
    """Epoch checkpoints in one local folder (see the module docstring).

    Args:
        path: folder of the checkpoints (created on the first save).
        keep: how many of the newest checkpoints to keep (>= 1).
    """

    def __init__(self, path: str | Path, keep: int = 2) -> None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"CheckpointStore: keep={keep!r}; expected an int >= 1")
        self.path = Path(path)
        self.keep = keep

    def __repr__(self) -> str:
        return f"CheckpointStore(path={str(self.path)!r}, keep={self.keep})"

    def epochs(self) -> list[int]:
        """Epoch numbers of the checkpoint files present, ascending."""
        if not self.path.is_dir():
            return []
        found = (_NAME.match(p.name) for p in self.path.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def file(self, epoch: int) -> Path:
        """Path of the checkpoint of ``epoch`` (1-based)."""
        return self.path / f"epoch-{int(epoch):04d}.pt"

    def save(self, state: Mapping[str, Any], epoch: int) -> Path:
        """Write ``state`` as the checkpoint of ``epoch`` atomically, then drop all but the newest ``keep``."""
        self.path.mkdir(parents=True, exist_ok=True)
        target = self.file(epoch)
        atomic_write(target, lambda f: torch.save(dict(state), f))
        for old in self.epochs()[: -self.keep]:
            self.file(old).unlink(missing_ok=True)
        return target

    def latest(self) -> dict[str, Any] | None:
        """The newest readable checkpoint (``None`` when there is none)."""
        for epoch in reversed(self.epochs()):
            path = self.file(epoch)
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # a damaged file: fall back to the previous checkpoint, loudly
                logger.warning("checkpoint %s cannot be read (%s: %s); trying the previous one", path, type(exc).__name__, exc)
        return None

    def clear(self) -> int:
        """Remove every checkpoint (and stale temporary files) of the folder; returns how many checkpoints."""
        epochs = self.epochs()
        for epoch in epochs:
            self.file(epoch).unlink(missing_ok=True)
        if self.path.is_dir():
            for tmp in self.path.glob(".epoch-*.pt.tmp-*"):
                tmp.unlink(missing_ok=True)
        return len(epochs)


class CheckpointDataset(AbstractDataset[None, CheckpointStore]):
    """Catalog entry of a checkpoint folder; ``load()`` returns its :class:`CheckpointStore`.

    Args:
        path: local folder of the checkpoints.
        keep: newest checkpoints kept (default 2).
        metadata: free-form Kedro metadata (unused).
    """

    def __init__(self, path: str, keep: int = 2, metadata: dict[str, Any] | None = None) -> None:
        self._store = CheckpointStore(path, keep=keep)
        self.metadata = metadata

    def load(self) -> CheckpointStore:
        return self._store

    def save(self, data: Any) -> NoReturn:
        raise DatasetError(
            f"CheckpointDataset ({self._store.path}) is not saved by a node: the training node writes through the store it loads"
        )

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._store.path), "keep": self._store.keep}

    def _exists(self) -> bool:
        return True
