"""Project pipelines.

``insole_mtl`` chains every stage: ingest -> windowing -> split -> the run template (partition ->
oversampling -> encoding -> training -> evaluation) -> benchmark. ``insole_mtl_cv`` runs the same template
once per cross-validation fold. Each stage is also registered on its own (``kedro run --pipeline=benchmark``).
"""

from __future__ import annotations

import logging

from kedro.pipeline import Pipeline

from insole_mtl.pipelines import (
    benchmark,
    cross_validation,
    encoding,
    evaluation,
    ingest,
    oversampling,
    protocol,
    split,
    training,
    windowing,
)
from insole_mtl.pipelines.template import run_template
from insole_mtl.pipelines.windowing.pipeline import window_pipeline

STAGES = {
    "ingest": ingest,
    "split": split,
    "windowing": windowing,
    "oversampling": oversampling,
    "encoding": encoding,
    "training": training,
    "evaluation": evaluation,
    "benchmark": benchmark,
}


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines: each stage, ``insole_mtl``, ``insole_mtl_cv``, ``insole_mtl_protocol``."""
    pipelines = {name: module.pipeline.create_pipeline() for name, module in STAGES.items()}
    prepare = pipelines["ingest"] + window_pipeline()
    pipelines["insole_mtl"] = prepare + pipelines["split"] + run_template() + pipelines["benchmark"]
    pipelines["__default__"] = pipelines["insole_mtl"]
    pipelines["insole_mtl_cv"] = prepare + cross_validation.pipeline.create_pipeline()
    # The paper protocol (ingest + one namespaced template per fold and per run; its size comes from the
    # environment's protocol parameters). A broken protocol configuration must not break the other pipelines.
    try:
        pipelines["insole_mtl_protocol"] = pipelines["ingest"] + protocol.pipeline.create_pipeline()
    except Exception as error:  # noqa: BLE001 - reported, and `kedro run --pipeline=insole_mtl_protocol` then says it is missing
        logging.getLogger(__name__).warning("insole_mtl_protocol not registered: %s: %s", type(error).__name__, error)
    from insole_mtl.pipelines import inference  # insole_infer: a trained model applied to new recordings (issue #11)

    pipelines["insole_infer"] = inference.create_pipeline()
    return pipelines
