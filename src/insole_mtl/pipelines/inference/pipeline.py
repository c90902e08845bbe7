"""``insole_infer``: new recordings (any source) + a trained model -> predictions, summary, metrics.

``raw_source`` (the environment's source: synthetic, recordings folder, GILON, gaitpdb) -> raw tables ->
checked against the model, resampled to its rate -> the model's windows -> the model's inputs -> one prediction
per window (07_model_output/predictions.csv), a per-recording summary, and the evaluation's metrics where the
recordings carry labels. The model is ``inference_model``: ``--params=model_uri=<MLflow URI or path>``, or the
newest ``trained_model`` of the environment.
"""

from kedro.pipeline import Pipeline, node

from insole_mtl.pipelines.ingest.nodes import acquire_raw_cohort

from .nodes import (
    describe_model,
    plot_new_recurrence_gallery,
    plot_new_weight_per_subject,
    predict_new_windows,
    prepare_new_recordings,
    score_predictions,
    summarise_predictions,
    window_new_recordings,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            node(
                acquire_raw_cohort,
                ["raw_source", "params:inference_synthetic"],
                ["new_raw_recordings", "new_raw_recording_index", "new_raw_subjects", "new_source_drop_report"],
                name="acquire_new_recordings",
            ),
            node(describe_model, ["inference_model", "params:sampling"], "inference_model_card", name="describe_inference_model"),
            node(
                prepare_new_recordings,
                ["new_raw_recordings", "new_raw_recording_index", "new_raw_subjects", "inference_model",
                 "params:sampling", "params:tasks"],
                ["new_recordings", "new_recording_labels"],
                name="prepare_new_recordings",
            ),
            node(
                window_new_recordings,
                ["new_recordings", "new_raw_recording_index", "new_recording_labels", "inference_model",
                 "params:sampling", "params:inference"],
                ["new_windows", "new_window_labels"],
                name="window_new_recordings",
            ),
            node(
                predict_new_windows,
                ["inference_model", "new_windows", "new_window_labels", "params:tasks", "params:sampling",
                 "params:inference"],
                "predictions",
                name="predict_new_windows",
            ),
            node(summarise_predictions, "predictions", "recording_predictions", name="summarise_recordings"),
            node(score_predictions, ["predictions", "params:tasks"], ["inference_metrics", "inference_mlflow_metrics"],
                 name="score_predictions"),
            node(plot_new_recurrence_gallery, ["inference_model", "new_windows", "predictions", "params:tasks", "params:sampling"],
                 "inference_recurrence_gallery_plot", name="plot_new_recurrence_gallery"),
            node(plot_new_weight_per_subject, "predictions", "inference_weight_per_subject_plot", name="plot_new_weight_per_subject"),
        ],
        tags=["inference"],
    )  # fmt: skip
