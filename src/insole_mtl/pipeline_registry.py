"""Project pipelines.

``insole_mtl`` chains every stage: ingest -> split -> windowing -> oversampling -> encoding -> training ->
evaluation -> benchmark. Each stage is also registered on its own (``kedro run --pipeline=benchmark``).
"""

from __future__ import annotations

from kedro.pipeline import Pipeline

from insole_mtl.pipelines import benchmark, encoding, evaluation, ingest, oversampling, split, training, windowing

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
    """Register the project's pipelines: each stage, ``insole_mtl`` (all stages) and ``__default__``."""
    pipelines = {name: module.pipeline.create_pipeline() for name, module in STAGES.items()}
    pipelines["insole_mtl"] = sum(pipelines.values(), Pipeline([]))
    pipelines["__default__"] = pipelines["insole_mtl"]
    return pipelines
