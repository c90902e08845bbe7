"""Load a trained model from wherever it was saved, and serve it.

* :mod:`insole_mtl.serving.loading`: ``load_trained_model(model_uri, models_dir)`` — a saved ``trained_model``
  version (newest by default), a pickle path, or an MLflow model URI (``runs:/<id>/<name>``,
  ``models:/<name>/<version>``), logged as the PyTorch flavour or as the pyfunc below.
* :mod:`insole_mtl.serving.dataset`: the Kedro dataset ``TrainedModelDataset`` over ``load_trained_model``.
* :mod:`insole_mtl.serving.pyfunc`: ``InsoleWindowModel``, an ``mlflow.pyfunc.PythonModel`` that takes raw
  windows ``(n, C, L)`` in sensor units and applies the training's preprocessing and the network
  (:mod:`insole_mtl.inference`), and ``log_servable_model`` (signature + raw-window input example).
"""

from insole_mtl.serving.loading import LoadedModel, load_trained_model, newest_version

__all__ = ["LoadedModel", "load_trained_model", "newest_version"]
