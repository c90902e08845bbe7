"""Kedro dataset that loads a trained model by URI (:func:`insole_mtl.serving.loading.load_trained_model`).

Catalog::

    inference_model:
      type: insole_mtl.serving.dataset.TrainedModelDataset
      model_uri: ${runtime_params:model_uri,null}
      models_dir: ${globals:data_dir}/06_models/trained_model.pkl
"""

from __future__ import annotations

from typing import Any, NoReturn

from kedro.io import AbstractDataset, DatasetError

from insole_mtl.serving.loading import LoadedModel, load_trained_model


class TrainedModelDataset(AbstractDataset[None, LoadedModel]):
    """Read-only: loads :class:`LoadedModel` (the model and where it came from)."""

    def __init__(self, models_dir: str, model_uri: str | None = None, metadata: dict[str, Any] | None = None) -> None:
        self._models_dir = models_dir
        self._model_uri = None if model_uri in (None, "", "null", "None") else str(model_uri)
        self.metadata = metadata

    def _load(self) -> LoadedModel:
        return load_trained_model(self._model_uri, self._models_dir)

    def _save(self, data: Any) -> NoReturn:
        raise DatasetError("TrainedModelDataset is read-only: models are saved by the training pipeline")

    def _describe(self) -> dict[str, Any]:
        return {"model_uri": self._model_uri, "models_dir": self._models_dir}

    def _exists(self) -> bool:
        try:
            self._load()
        except (FileNotFoundError, OSError):
            return False
        return True
