"""The model registry: every model family by name, and what each reads.

=============  ==========================================  =========================================
name           model                                       input
=============  ==========================================  =========================================
mobilenetv2    :class:`MultitaskMobileNetV2` (Table II)    recurrence plots ``(C, R, R)`` (+ the raw
                                                           window with ``amplitude_features: true``)
cnn1d          :class:`ResidualCNN1d`                      raw windows ``(C, L)``
lstm, gru      :class:`RecurrentMultitaskNet`              raw windows ``(C, L)``
=============  ==========================================  =========================================
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Literal, Sequence

import torch

from insole_mtl.models.base import MultitaskModel, TaskSpec
from insole_mtl.models.cnn1d import ResidualCNN1d
from insole_mtl.models.ensemble import EnsembleModel
from insole_mtl.models.force_prior import ForcePrior
from insole_mtl.models.mobilenet import MultitaskMobileNetV2
from insole_mtl.models.recurrent import RecurrentMultitaskNet

#: model name -> what its backbone reads: a recurrence-plot stack or the raw window.
MODEL_INPUT_KINDS: dict[str, Literal["recurrence_plot", "raw"]] = {
    "mobilenetv2": "recurrence_plot",
    "cnn1d": "raw",
    "lstm": "raw",
    "gru": "raw",
}


def model_input_kind(name: str) -> Literal["recurrence_plot", "raw"]:
    """What a registered model's backbone reads: ``"recurrence_plot"`` (C, R, R) or ``"raw"`` (C, L)."""
    try:
        return MODEL_INPUT_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown model name {name!r}; known models: {sorted(MODEL_INPUT_KINDS)}") from None


#: constructor arguments that are not options: given by the code (the data's channels, the tasks, the
#: family name) or derived from other parameters (``recurrence_cell`` from ``recurrence.resolution``)
_NOT_OPTIONS = frozenset({"self", "name", "in_channels", "tasks", "recurrence_cell"})


#: model name -> its class (the recurrent class also takes the name: ``lstm`` or ``gru``)
MODEL_CLASSES: dict[str, type[MultitaskModel]] = {
    "mobilenetv2": MultitaskMobileNetV2,
    "cnn1d": ResidualCNN1d,
    "lstm": RecurrentMultitaskNet,
    "gru": RecurrentMultitaskNet,
}


def model_option_names(name: str) -> tuple[str, ...]:
    """The ``model.options`` keys a registered model takes (its constructor's keyword arguments), sorted."""
    model_input_kind(name)  # validates the name
    return tuple(sorted(set(inspect.signature(MODEL_CLASSES[name].__init__).parameters) - _NOT_OPTIONS))


def amplitude_features_on(name: str, options: Mapping[str, object] | None = None) -> bool:
    """Whether the model ``name`` built with ``options`` fuses amplitude statistics: ``amplitude_features`` where
    the options set it, else its constructor's default (on for ``cnn1d``, off for the others)."""
    model_input_kind(name)  # validates the name
    default = inspect.signature(MODEL_CLASSES[name].__init__).parameters["amplitude_features"].default
    return bool((options or {}).get("amplitude_features", default))


def reads_raw_window(name: str, options: Mapping[str, object] | None = None) -> bool:
    """Whether the model ``name`` built with ``options`` reads the raw window as its last input (a raw-signal
    family, or the amplitude branch on: :func:`amplitude_features_on`), known before any data is read."""
    return model_input_kind(name) == "raw" or amplitude_features_on(name, options)


def build_model(name: str, in_channels: int, tasks: Sequence[TaskSpec], **options: object) -> MultitaskModel:
    """Build a registered model.

    Parameters
    ----------
    name:
        ``"mobilenetv2"`` (recurrence-plot input), ``"cnn1d"``, ``"lstm"`` or ``"gru"`` (raw windows).
    in_channels:
        Number of input channels (14 for the paper's insole, 16 for gaitpdb).
    tasks:
        Task specifications (one task = single-task model).
    **options:
        Passed to the model constructor (e.g. ``stem_kernel=3``, ``amplitude_features=True``,
        ``width=32``, ``hidden_size=128``); an option the model does not take raises ``TypeError``
        naming it.
    """
    model_input_kind(name)  # validates the name
    cls = MODEL_CLASSES[name]
    if cls is RecurrentMultitaskNet:
        model: MultitaskModel = RecurrentMultitaskNet(name, in_channels, tasks, **options)  # type: ignore[arg-type]
    else:
        model = cls(in_channels, tasks, **options)  # type: ignore[call-arg]
    # what rebuilds the same architecture (single-task variants, a fresh copy for inference)
    model.build_spec = {"name": name, "in_channels": int(in_channels), "options": dict(options)}
    return model


def rebuild_model(model: MultitaskModel, source: str = "the model") -> MultitaskModel:
    """The same trained model built again by today's code: :func:`build_model` of its ``build_spec``, its state
    dict (weights, normalisation and target-scaling buffers), ``preprocessing`` and train/eval mode.

    A model pickled by an earlier version of the project unpickles into today's class with yesterday's
    attributes, and fails deep inside ``forward`` on an attribute added since (``amplitude_linear``, for one);
    rebuilt, it runs. A model without ``build_spec`` (constructed directly) is returned as it is; an ensemble
    (``build_spec["members"]``) is rebuilt member by member.

    Raises:
        ValueError: the state dict does not fit the architecture the spec builds today (names ``source`` and
            the first missing / unexpected keys): the model must be retrained.
    """
    spec = getattr(model, "build_spec", None)
    if not spec:
        return model
    with torch.random.fork_rng(devices=[]):  # the throw-away initialisation leaves the caller's RNG where it was
        members = [
            build_model(str(spec["name"]), int(spec["in_channels"]), model.tasks, **dict(spec.get("options") or {}))
            for _ in range(int(spec.get("members", 1)))
        ]
    fresh = members[0] if len(members) == 1 else EnsembleModel(members)
    prior = getattr(model, "force_prior", None)  # attached after training, not built from the spec
    state = {k: v for k, v in model.state_dict().items() if not (prior is not None and k.startswith("force_prior."))}
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{source} does not fit today's {spec['name']} architecture (saved by another version of insole_mtl?): "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}; retrain it with `kedro run`"
        )
    if prior is not None:
        rebuilt = ForcePrior(prior.channels, prior.task)
        rebuilt.load_state_dict(prior.state_dict())
        rebuilt.fit_summary = dict(prior.fit_summary or {})
        fresh.attach_force_prior(rebuilt)
    fresh.preprocessing = dict(getattr(model, "preprocessing", {}) or {})
    return fresh.train(model.training)
