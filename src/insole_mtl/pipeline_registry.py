"""Project pipelines.

``insole_mtl`` chains every stage: ingest -> windowing -> split -> the run template (configuration ->
partition -> oversampling -> encoding -> training -> evaluation) -> benchmark. ``insole_mtl_cv`` runs the
same template once per cross-validation fold; ``insole_mtl_protocol`` (a few variants x 2 folds x 1 seed),
``insole_mtl_protocol_paper`` (every table x 5 folds x 5 seeds) and ``insole_mtl_protocol_extras`` run its
data half once per validation fold and its model half once per protocol run. ``insole_infer`` applies a trained
model to new recordings. Each stage is also
registered on its own (``kedro run --pipeline=benchmark``).

The protocol pipelines are built only when asked for (:class:`LazyPipelines`): ``kedro run
--pipeline=insole_mtl`` builds none of their nodes, and a bug in building one fails where it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from kedro.pipeline import Pipeline

from insole_mtl.pipelines import (
    benchmark,
    cross_validation,
    encoding,
    evaluation,
    inference,
    ingest,
    oversampling,
    protocol,
    run_config,
    split,
    training,
    windowing,
)
from insole_mtl.pipelines.template import run_template
from insole_mtl.pipelines.windowing.pipeline import window_pipeline
from insole_mtl.protocol.design import DESIGNS

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
#: stages that read the run's ``*_config`` datasets: registered alone with the configuration node
_CONFIGURED = {"oversampling", "encoding", "training", "evaluation"}


class LazyPipelines(Mapping[str, Pipeline]):
    """A mapping of pipeline name -> pipeline that builds each pipeline on first access."""

    def __init__(self, factories: Mapping[str, Callable[[], Pipeline]]) -> None:
        self._factories = dict(factories)
        self._built: dict[str, Pipeline] = {}

    def __getitem__(self, name: str) -> Pipeline:
        if name not in self._built:
            self._built[name] = self._factories[name]()
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)


def _stage(name: str) -> Pipeline:
    stage = STAGES[name].pipeline.create_pipeline()
    return run_config.pipeline.create_pipeline() + stage if name in _CONFIGURED else stage


def _prepare() -> Pipeline:
    return ingest.pipeline.create_pipeline() + window_pipeline()


def _single_run() -> Pipeline:
    return _prepare() + split.pipeline.create_pipeline() + run_template() + benchmark.pipeline.create_pipeline()


def _protocol(name: str) -> Callable[[], Pipeline]:
    return lambda: ingest.pipeline.create_pipeline() + protocol.pipeline.create_pipeline(DESIGNS[name])


def register_pipelines() -> Mapping[str, Pipeline]:
    """Register each stage, ``insole_mtl`` (default), ``insole_mtl_cv`` and every protocol design of
    :data:`insole_mtl.protocol.design.DESIGNS`; each is built when first asked for."""
    factories: dict[str, Callable[[], Pipeline]] = {name: (lambda name=name: _stage(name)) for name in STAGES}
    factories["insole_mtl"] = _single_run
    factories["__default__"] = _single_run
    factories["insole_mtl_cv"] = lambda: _prepare() + cross_validation.pipeline.create_pipeline()
    factories.update({name: _protocol(name) for name in DESIGNS})
    factories["insole_infer"] = inference.create_pipeline  # a trained model applied to new recordings
    return LazyPipelines(factories)
