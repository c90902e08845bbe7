"""Resolve a model URI to a trained :class:`~insole_mtl.models.MultitaskModel`.

Accepted ``model_uri``:

* ``None`` / ``""``: the newest version of the environment's versioned ``trained_model`` dataset
  (``<data_dir>/06_models/trained_model.pkl/<version>/trained_model.pkl``; Kedro's version names sort in time).
* a filesystem path: a pickle file, a version folder holding ``trained_model.pkl``, or the versioned dataset
  folder itself (its newest version).
* an MLflow model URI (``runs:/<run_id>/<name>``, ``models:/<name>/<version>``, ``models:/<name>@<alias>``, or any
  other ``scheme:/...``): the ``mlflow.pytorch`` model the training run logs (``runs:/<id>/model``) or the
  servable pyfunc (``runs:/<id>/serving_model``, :mod:`insole_mtl.serving.pyfunc`). MLflow's tracking URI must be
  set (kedro-mlflow does it in a Kedro session).
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from insole_mtl.models import MultitaskModel, rebuild_model

_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:/")
MODEL_FILE = "trained_model.pkl"


@dataclass
class LoadedModel:
    """A trained model and where it came from.

    Attributes:
        model: the network (CPU, eval mode).
        source: the resolved location (a file path or the MLflow URI as given).
        kind: ``"file"`` or ``"mlflow"``.
        details: e.g. ``{"version": ...}`` for a versioned file, ``{"run_id": ..., "flavor": ...}`` for MLflow.
    """

    model: MultitaskModel
    source: str
    kind: str
    details: dict[str, Any] = field(default_factory=dict)

    def card(self) -> dict[str, Any]:
        """JSON description: source, model family, tasks, preprocessing, parameter count."""
        model = self.model
        return {
            "source": self.source,
            "kind": self.kind,
            **{k: str(v) for k, v in self.details.items()},
            "model_class": type(model).__name__,
            "build_spec": model.build_spec,
            "tasks": [task.name for task in model.tasks],
            "input_names": list(model.input_names),
            "preprocessing": model.preprocessing,
            "parameters": int(sum(p.numel() for p in model.parameters())),
        }


def newest_version(versioned_dir: Path) -> Path:
    """The model file of the newest version folder of a Kedro versioned dataset folder.

    Raises:
        FileNotFoundError: the folder does not exist or holds no version with the model file.
    """
    versioned_dir = Path(versioned_dir)
    versions = sorted(p for p in versioned_dir.iterdir() if (p / versioned_dir.name).is_file()) if versioned_dir.is_dir() else []
    if not versions:
        raise FileNotFoundError(
            f"no trained model under {versioned_dir} (expected <version>/{versioned_dir.name}); run "
            "`kedro run --pipeline=insole_mtl` in this environment first or pass --params=model_uri=<uri or path>"
        )
    return versions[-1] / versioned_dir.name


def _check(model: Any, source: str) -> MultitaskModel:
    if not isinstance(model, MultitaskModel):
        raise TypeError(f"{source} holds a {type(model).__name__}, not an insole_mtl MultitaskModel")
    # a pickle carries the attributes of the version that wrote it: run it with today's code
    return rebuild_model(model.to("cpu"), source).eval()


def _load_pickle(path: Path) -> MultitaskModel:
    with path.open("rb") as handle:
        return _check(pickle.load(handle), str(path))


def _load_mlflow(uri: str) -> LoadedModel:
    import mlflow

    info = mlflow.models.get_model_info(uri)
    details = {"run_id": info.run_id, "flavors": ",".join(sorted(info.flavors))}
    if "pytorch" in info.flavors:
        model = mlflow.pytorch.load_model(uri, map_location="cpu")
    else:
        from insole_mtl.serving.pyfunc import InsoleWindowModel

        python_model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
        if not isinstance(python_model, InsoleWindowModel):
            raise TypeError(f"{uri} is a {type(python_model).__name__} pyfunc, not an insole_mtl model")
        model = python_model.model
    return LoadedModel(_check(model, uri), uri, "mlflow", details)


def load_trained_model(model_uri: str | None, models_dir: str | Path) -> LoadedModel:
    """Load the model named by ``model_uri`` (see the module docstring); ``models_dir`` is the versioned
    ``trained_model.pkl`` folder of the environment (used when ``model_uri`` is empty)."""
    if model_uri is None or str(model_uri).strip() in ("", "None", "null"):
        path = newest_version(Path(models_dir))
        return LoadedModel(_load_pickle(path), str(path), "file", {"version": path.parent.name})
    uri = str(model_uri).strip()
    if _URI.match(uri) and not uri.startswith("file:"):
        return _load_mlflow(uri)
    path = Path(uri.removeprefix("file://").removeprefix("file:"))
    if path.is_dir():
        path = path / MODEL_FILE if (path / MODEL_FILE).is_file() else newest_version(path)
    if not path.is_file():
        raise FileNotFoundError(f"model_uri {uri!r}: no such model file or folder")
    return LoadedModel(_load_pickle(path), str(path), "file", {"version": path.parent.name})
