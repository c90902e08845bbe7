"""The parameter blocks one run of the template reads, and their check before any expensive stage.

A key the code does not read is almost always a typo (``optoins``, ``k_neighbours``, ``stem_kernal``) that
would otherwise be ignored and leave the run on a default the user meant to change, so every block is
checked when the run is configured: the single run and each cross-validation fold in
:func:`insole_mtl.pipelines.run_config.nodes.configure_run`, every protocol variant in
:func:`insole_mtl.pipelines.protocol.nodes.configure_protocol`. ``model.options`` and
``loss_weighting.options`` are checked against the constructor of the chosen model / weighting, and
``training`` through :meth:`~insole_mtl.training.engine.TrainConfig.from_params` (keys and values).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from insole_mtl.models.registry import model_option_names, reads_raw_window
from insole_mtl.signals.validation import check_parameter_keys
from insole_mtl.training.engine import TrainConfig
from insole_mtl.training.weighting import weighting_option_names

#: keys of ``params:training`` the training node reads itself (the rest is :class:`TrainConfig`)
NODE_TRAINING_KEYS: tuple[str, ...] = ("balance_subjects", "balance_classes", "ensemble")

#: keys of each block (``training`` is checked by TrainConfig)
RUN_PARAMETER_KEYS: dict[str, tuple[str, ...]] = {
    "oversampling": ("enabled", "target_ratio", "k_neighbors", "m_neighbors", "kind", "seed"),
    "recurrence": ("percentage", "chunk_size", "resolution"),
    "model": ("name", "options", "tasks", "force_prior"),
    "loss_weighting": ("method", "options"),
    "evaluation": ("batch_size", "device"),
}


def check_run_parameters(
    oversampling: Mapping[str, Any] | None,
    recurrence: Mapping[str, Any] | None,
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    where: str = "params",
) -> None:
    """Refuse an unknown key in any block of one run (``oversampling`` / ``recurrence`` None: not this
    caller's to check). ``where`` prefixes each message (``params``, ``protocol_variants.<name>``).

    Raises:
        ValueError: ``<where> <block>: unknown key(s) [...]; allowed: [...]`` (with the closest allowed key),
            ``<where> model.options (<name>): ...``, ``<where> loss_weighting.options (<method>): ...``,
            TrainConfig's message for ``training``, or ``training.force_scaling`` with a model that does not read
            the raw window.
    """
    blocks = {"oversampling": oversampling, "recurrence": recurrence, "model": model, "loss_weighting": loss_weighting, "evaluation": evaluation}
    for block, values in blocks.items():
        check_parameter_keys(block, values, RUN_PARAMETER_KEYS[block], where)
    if model.get("name") is not None:
        check_parameter_keys(f"model.options ({model['name']})", model.get("options"), model_option_names(str(model["name"])), where)
    if loss_weighting.get("method") is not None:
        method = str(loss_weighting["method"])
        check_parameter_keys(f"loss_weighting.options ({method})", loss_weighting.get("options"), weighting_option_names(method), where)
    try:
        train_config(training)
        ensemble_size(training)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{where} training: {error}") from None
    # known from the parameters alone, so refused here rather than after windowing and encoding
    name = model.get("name")
    if training.get("force_scaling") and name is not None and not reads_raw_window(str(name), model.get("options")):
        raise ValueError(
            f"{where} training.force_scaling rescales the raw window, but model {name!r} with these options does not "
            "read it: use a raw-signal model or model.options.amplitude_features: true"
        )


def ensemble_size(training: Mapping[str, Any]) -> int:
    """``training.ensemble`` (default 1): how many models the training node trains, from seeds ``seed``,
    ``seed + 1``, ... (:class:`insole_mtl.models.ensemble.EnsembleModel`).

    Raises:
        ValueError: not a positive integer, or ``N > 1`` with ``resume: true`` (resuming continues one training).
    """
    value = training.get("ensemble", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"ensemble must be a positive integer (models trained and averaged), got {value!r}")
    if value > 1 and training.get("resume", False):
        raise ValueError(f"ensemble={value} trains {value} models, resume: true continues one training: set one of them back")
    return value


def train_config(training: Mapping[str, Any], channels: Sequence[str] | None = None) -> TrainConfig:
    """:class:`TrainConfig` of ``params:training`` (without :data:`NODE_TRAINING_KEYS`, which the node reads).

    ``training.force_scaling.channels`` names the force channels it rescales (``all``, the default: every channel);
    they become positions in the run's ``channels`` (:func:`channel_positions`). Without ``channels`` (the
    parameter check before windowing) only their form is checked.
    """
    values = {k: v for k, v in training.items() if k not in NODE_TRAINING_KEYS}
    scaling = values.get("force_scaling")
    if isinstance(scaling, Mapping) and "channels" in scaling:
        positions = channel_positions("training.force_scaling.channels", scaling["channels"], channels)
        values["force_scaling"] = {**scaling, "channels": positions}
    return TrainConfig.from_params(values)


def channel_positions(key: str, names: Any, channels: Sequence[str] | None) -> list[int] | None:
    """A channel-list parameter ``key`` (``all`` or a list of channel names) -> the names' positions in ``channels``;
    None for ``all``, and None when ``channels`` is None (the parameter check before windowing: the form only).

    Raises:
        ValueError: neither ``all`` nor a non-empty list of names, a name listed twice, or a name not in ``channels``
            (each named, with ``key``).
    """
    if names == "all":
        return None
    if isinstance(names, str) or not isinstance(names, Sequence) or not names or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{key} must be 'all' or a list of channel names, got {names!r}")
    repeated = sorted({name for name in names if list(names).count(name) > 1})
    if repeated:
        raise ValueError(f"{key} lists {repeated} more than once")
    if channels is None:
        return None
    channels = list(channels)
    missing = [name for name in names if name not in channels]
    if missing:
        raise ValueError(f"{key} {missing} are not among the model's channels {channels}")
    return [channels.index(name) for name in names]
