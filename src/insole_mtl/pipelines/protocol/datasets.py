"""A dataset that drops what is saved to it.

The protocol reuses stage node functions whose every output the single-run pipeline needs (e.g. the
training node also returns the model again for MLflow's model registry and the per-epoch curves for
MLflow metrics). Inside the protocol those outputs are logged by the project hook or not needed at
all; a ``MemoryDataset`` would keep every run's copy alive until the end of a 25-run protocol.
"""

from __future__ import annotations

from typing import Any, NoReturn

from kedro.io import AbstractDataset, DatasetError


class DiscardDataset(AbstractDataset[Any, None]):
    """``save`` does nothing, ``load`` raises, ``exists`` is False.

    Example catalog entry::

        "protocol.{variant}.{fold}.{seed}.mlflow_model":
          type: insole_mtl.pipelines.protocol.datasets.DiscardDataset
    """

    #: Not persistent: ``kedro run --only-missing-outputs`` must not rerun a node to "make" it.
    _EPHEMERAL = True

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def _save(self, data: Any) -> None:
        return None

    def _load(self) -> NoReturn:
        raise DatasetError("DiscardDataset keeps nothing: no node may read it")

    def _exists(self) -> bool:
        return False

    def _describe(self) -> dict[str, Any]:
        return {}
