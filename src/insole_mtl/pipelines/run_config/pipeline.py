"""Run configuration: ``params:`` stage groups -> the ``*_config`` datasets every stage of the run template reads."""

from kedro.pipeline import Pipeline, node

from .nodes import configure_run

#: the datasets a run's stages read, in :func:`configure_run`'s output order
CONFIG_DATASETS: tuple[str, ...] = (
    "oversampling_config", "recurrence_config", "model_config", "loss_weighting_config", "training_config", "evaluation_config",
)  # fmt: skip


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                configure_run,
                ["params:oversampling", "params:recurrence", "params:model", "params:loss_weighting", "params:training", "params:evaluation"],
                list(CONFIG_DATASETS),
                name="configure_run",
                tags=["configuration"],
            )
        ]
    )
