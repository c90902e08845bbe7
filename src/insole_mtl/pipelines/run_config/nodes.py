"""Run configuration node: the parameters a run of the template reads, as datasets.

Every stage of the run template (:mod:`insole_mtl.pipelines.template`) reads its settings from these
datasets, not from ``params:`` directly, so that one template serves every kind of run: the single run and
each cross-validation fold configure themselves from the stage parameters here; a protocol run resolves
its variant and seed in :func:`insole_mtl.pipelines.protocol.nodes.configure_run` and produces the same
datasets. kedro-mlflow logs the ``params:`` inputs of this node, i.e. the run's parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from insole_mtl.run_parameters import check_run_parameters


def configure_run(
    oversampling: Mapping[str, Any],
    recurrence: Mapping[str, Any],
    model: Mapping[str, Any],
    loss_weighting: Mapping[str, Any],
    training: Mapping[str, Any],
    evaluation: Mapping[str, Any],
) -> tuple[dict[str, Any], ...]:
    """The stage parameters of one run, as given (deep copies: a node never shares mutable parameters).

    Returns:
        ``oversampling_config``, ``recurrence_config``, ``model_config``, ``loss_weighting_config``,
        ``training_config``, ``evaluation_config``.

    Raises:
        ValueError: an unknown key in any block (:func:`insole_mtl.run_parameters.check_run_parameters`),
            before any expensive stage runs.
    """
    check_run_parameters(oversampling, recurrence, model, loss_weighting, training, evaluation)
    return tuple(copy.deepcopy(dict(group)) for group in (oversampling, recurrence, model, loss_weighting, training, evaluation))
