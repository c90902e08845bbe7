"""Apply a trained multitask model to new recordings with the training's own preprocessing.

Everything a prediction needs is read from the model (:attr:`MultitaskModel.preprocessing`, recorded by the
training node, and the model's buffers): the channel names and their order, the window length, which inputs
the network reads, the recurrence-plot threshold (``percentage``) and resolution, and every standardisation
(amplitude statistics, raw-window scaling, target scaling). Nothing is fitted on the new data.

Steps, each a plain function:

1. :func:`model_preprocessing` -> :class:`Preprocessing` (what the model expects).
2. :func:`check_recordings` -> one clear error when the recordings' channels, sampling rate or units do not
   match the model (the file/recording and the column are named, and what was expected).
3. :func:`cut_windows` -> raw windows ``(n, C, L)`` float32 in sensor units + one row per window.
4. :func:`model_inputs` -> the arrays the network reads, encoded exactly as in training
   (:func:`insole_mtl.encoding.recurrence.encode_recurrence_plots`).
5. :func:`predict_windows` -> ``{task: array}`` in physical units, and :func:`prediction_table`, one row per
   window: ``subject, recording, window_start_s, activity, activity_probability, speed, weight``.

The MLflow pyfunc model (:mod:`insole_mtl.serving.pyfunc`) and the self-contained ONNX graph
(:mod:`insole_mtl.edge.raw_window`) reuse steps 4-5, so the three give the same predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from insole_mtl import schema
from insole_mtl.encoding.recurrence import encode_recurrence_plots
from insole_mtl.models import RECURRENCE_PLOTS, WINDOWS, MultitaskModel
from insole_mtl.models.amplitude import AMPLITUDE_STATISTICS
from insole_mtl.signals.windows import make_windows
from insole_mtl.training.engine import predict

#: columns of :func:`prediction_table` (then ``true_<task>`` where the recordings carry labels)
PREDICTION_COLUMNS: tuple[str, ...] = (
    "subject", "recording", "window_start_s", "activity", "activity_probability", "speed", "weight",
)  # fmt: skip

#: class id of a window whose recording carries no activity label
NO_LABEL = -1


@dataclass(frozen=True)
class Preprocessing:
    """What a trained model expects of its input, read from the model.

    Attributes:
        channels: channel names in the order of the window's channel axis (C of them).
        window_length: samples per window (L).
        input_names: arrays the network reads (``"recurrence_plots"`` and/or ``"windows"``).
        percentage: recurrence threshold, % of the window-channel maximum distance (None: no plots).
        resolution: plot cells per side (None: full ``L x L`` bit plots).
        sampling_rate_hz: rate the windows are cut at (Hz); from the model when it records it, else the
            environment's ``sampling.target_rate_hz``.
    """

    channels: tuple[str, ...]
    window_length: int
    input_names: tuple[str, ...]
    percentage: float | None
    resolution: int | None
    sampling_rate_hz: float

    @property
    def reads_plots(self) -> bool:
        return RECURRENCE_PLOTS in self.input_names

    def as_dict(self) -> dict[str, Any]:
        return {
            "channels": list(self.channels), "window_length": self.window_length, "input_names": list(self.input_names),
            "percentage": self.percentage, "resolution": self.resolution, "sampling_rate_hz": self.sampling_rate_hz,
        }  # fmt: skip


def model_preprocessing(model: MultitaskModel, default_rate_hz: float) -> Preprocessing:
    """The preprocessing a trained model was built with (:attr:`MultitaskModel.preprocessing`).

    Args:
        model: a model saved by the training node.
        default_rate_hz: the sampling rate (Hz) to assume when the model does not record one (models trained
            before the rate was recorded); the environment's ``sampling.target_rate_hz``.

    Raises:
        ValueError: the model records no channels or window length (it was not saved by the training node).
    """
    pre = dict(getattr(model, "preprocessing", None) or {})
    missing = [key for key in ("channels", "window_length") if not pre.get(key)]
    if missing:
        raise ValueError(
            f"the model records no {missing} in model.preprocessing (got keys {sorted(pre)}); "
            "only models saved by the insole_mtl training node can be applied to new recordings"
        )
    recurrence = pre.get("recurrence") or {}
    names = tuple(pre.get("input_names") or model.input_names)
    rate = pre.get("sampling_rate_hz") or (pre.get("sampling") or {}).get("target_rate_hz") or default_rate_hz
    resolution = recurrence.get("resolution")
    return Preprocessing(
        channels=tuple(str(c) for c in pre["channels"]),
        window_length=int(pre["window_length"]),
        input_names=names,
        percentage=float(recurrence["percentage"]) if RECURRENCE_PLOTS in names else None,
        resolution=int(resolution) if resolution and int(resolution) != int(pre["window_length"]) else None,
        sampling_rate_hz=float(rate),
    )


def class_names_of(model: MultitaskModel, tasks: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Activity class names (``tasks.activity.classes``), checked against the model's classification head.

    Raises:
        ValueError: the configured classes do not match the number of the model's activity outputs.
    """
    classes = [str(c) for c in tasks["activity"]["classes"]]
    spec = next((t for t in model.tasks if t.name == "activity"), None)
    if spec is not None and spec.n_outputs != len(classes):
        raise ValueError(
            f"params tasks.activity.classes lists {len(classes)} classes {classes} but the model predicts "
            f"{spec.n_outputs}; use the environment the model was trained in"
        )
    return classes


def _level(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Root-mean-square level of a channel from its mean and standard deviation (same unit)."""
    return np.sqrt(np.square(mean) + np.square(std))


def training_channel_levels(model: MultitaskModel) -> np.ndarray | None:
    """Typical RMS level ``(C,)`` of each raw channel in the training windows, in sensor units, or None.

    Read from the amplitude branch's buffers (training mean of each window's per-channel mean and std) or, for
    a raw-signal model with global input scaling, from ``input_loc``/``input_scale``.
    """
    if model.amplitude is not None:
        loc = model.amplitude.loc.detach().cpu().numpy().astype(np.float64).reshape(-1, len(AMPLITUDE_STATISTICS))
        return _level(loc[:, 0], loc[:, 1])
    loc, scale = getattr(model, "input_loc", None), getattr(model, "input_scale", None)
    if isinstance(loc, torch.Tensor) and isinstance(scale, torch.Tensor) and not (
        torch.all(loc == 0) and torch.all(scale == 1)
    ):
        return _level(loc.detach().cpu().numpy().astype(np.float64), scale.detach().cpu().numpy().astype(np.float64))
    return None


def check_recordings(
    recordings: pd.DataFrame,
    pre: Preprocessing,
    source_rate_hz: float,
    rate_tolerance: float = 0.02,
    source: str = "raw_recordings",
) -> None:
    """Channels and sampling rate of new recordings against the model.

    Args:
        recordings: long format, ``recording``, ``time_s`` (s) and one column per channel.
        pre: the model's preprocessing.
        source_rate_hz: the rate the source declares (Hz); resampled to ``pre.sampling_rate_hz`` afterwards.
        rate_tolerance: relative tolerance between a recording's time column and ``source_rate_hz``.
        source: name of the table in messages.

    Raises:
        ValueError: naming the table/recording and the columns or rates, and what the model expects.
    """
    missing = [c for c in pre.channels if c not in recordings.columns]
    if missing:
        present = [c for c in recordings.columns if c not in (schema.RECORDING, schema.TIME)]
        raise ValueError(
            f"{source}: missing channel column(s) {missing}; the model was trained on channels {list(pre.channels)} "
            f"(present: {present})"
        )
    if recordings.empty:
        raise ValueError(f"{source}: no samples; expected at least one recording of {pre.window_length} samples")
    step = recordings.groupby(schema.RECORDING, sort=False)[schema.TIME].diff()
    median = step.groupby(recordings[schema.RECORDING], sort=False).median().dropna()
    if not median.empty:
        implied = 1.0 / median.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.abs(implied - source_rate_hz) > rate_tolerance * source_rate_hz)
        if bad.size:
            k = int(bad[0])
            raise ValueError(
                f"{source}: recording {median.index[k]!r} is sampled at {implied[k]:.4g} Hz (column {schema.TIME!r}) "
                f"but the source declares sampling.source_rate_hz = {source_rate_hz:g}; the model expects "
                f"{pre.sampling_rate_hz:g} Hz (other rates are resampled when declared)"
            )


def check_units(
    windows: np.ndarray, labels: pd.DataFrame, model: MultitaskModel, pre: Preprocessing, max_ratio: float | None
) -> None:
    """Reject recordings whose channel levels are far from the training's (another unit or scaling).

    Per channel, the median over ALL new windows of the RMS level ``sqrt(mean² + std²)`` is compared with the
    training level (:func:`training_channel_levels`): a ratio above ``max_ratio`` or below ``1 / max_ratio``
    (newtons instead of raw FSR counts, g instead of m/s², mV instead of V) is an error. The level is pooled
    over the recordings because one activity alone (standing still) can sit far below the training's mean
    level; the message names the recording whose own level is farthest off. No-op for a model without recorded
    amplitude statistics or with ``max_ratio`` None.

    Args:
        windows: ``(n, C, L)`` raw windows in the recordings' units; labels: one row per window (``recording``).

    Raises:
        ValueError: naming the column, the recording farthest off, both levels and the ratio.
    """
    reference = training_channel_levels(model)
    if reference is None or len(windows) == 0 or max_ratio is None:
        return
    x = np.asarray(windows, dtype=np.float64)
    level = _level(x.mean(axis=-1), x.std(axis=-1))  # (n, C)
    pooled = np.median(level, axis=0)
    frame = pd.DataFrame(level, columns=list(pre.channels))
    frame[schema.RECORDING] = labels[schema.RECORDING].to_numpy()
    per_recording = frame.groupby(schema.RECORDING, sort=True).median()
    floor = 1e-6 * max(float(np.max(reference)), 1e-12)
    for c, channel in enumerate(pre.channels):
        ref, got = float(reference[c]), float(pooled[c])
        if ref <= floor:
            continue
        ratio = got / ref
        if not math.isfinite(ratio) or ratio > max_ratio or ratio < 1.0 / max_ratio:
            off = np.abs(np.log(np.maximum(per_recording[channel].to_numpy(), 1e-300) / ref))
            worst = per_recording.index[int(np.argmax(off))]
            raise ValueError(
                f"column {channel!r} (e.g. recording {worst!r}): typical level {got:.4g} but the model was trained "
                f"on {ref:.4g} (ratio {ratio:.3g}, allowed 1/{max_ratio:g}..{max_ratio:g}); the recordings are in "
                "other units or scaled differently than the training data"
            )


def cut_windows(
    recordings: pd.DataFrame, recording_index: pd.DataFrame, labels: pd.DataFrame | None, pre: Preprocessing, stride: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cut every recording (labelled or not) into the model's windows.

    Args:
        recordings: long format at ``pre.sampling_rate_hz``: ``recording``, ``time_s``, the model's channels.
        recording_index: one row per recording (``recording``, ``subject``, ``experiment``).
        labels: ``recording_labels`` of the labelled recordings (``activity, speed, weight``), or None.
        pre: the model's preprocessing; stride: samples between window starts.

    Returns:
        windows ``(n, C, L)`` float32 in sensor units and one row per window: ``subject, recording,
        experiment, start`` (sample), ``window_start_s`` (s from the recording's first sample), ``activity``
        (class id or :data:`NO_LABEL`), ``speed``, ``weight`` (NaN when unlabelled).
    """
    index = recording_index[[schema.RECORDING, schema.SUBJECT, schema.EXPERIMENT]].copy()
    index[schema.RECORDING] = index[schema.RECORDING].astype(str)
    known = pd.DataFrame(columns=[schema.RECORDING, *schema.TASKS])
    if labels is not None and not labels.empty:
        known = labels[[schema.RECORDING, *schema.TASKS]].assign(recording=labels[schema.RECORDING].astype(str))
    table = index.merge(known, on=schema.RECORDING, how="left")
    table["activity"] = table["activity"].fillna(NO_LABEL).astype(np.int64)
    table = table.astype({"speed": "float64", "weight": "float64"})
    present = set(recordings[schema.RECORDING].astype(str))
    table = table[table[schema.RECORDING].isin(present)]
    windows, window_labels, _ = make_windows(recordings, table, list(pre.channels), length=pre.window_length, stride=int(stride))
    window_labels = window_labels.drop(columns=["synthetic"])
    window_labels.insert(4, "window_start_s", window_labels["start"].to_numpy(np.float64) / pre.sampling_rate_hz)
    return windows, window_labels


def model_inputs(windows: np.ndarray, pre: Preprocessing, chunk_size: int = 1024) -> tuple[np.ndarray, ...]:
    """The arrays the network reads, in ``pre.input_names`` order, encoded as in training.

    Args:
        windows: raw windows ``(n, C, L)`` in sensor units.

    Returns:
        ``recurrence_plots``: bit-packed ``(n, C, L, ceil(L/8))`` uint8 or counts ``(n, C, R, R)`` uint8;
        ``windows``: ``(n, C, L)`` float32.
    """
    windows = np.ascontiguousarray(windows, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1:] != (len(pre.channels), pre.window_length):
        raise ValueError(
            f"windows must be (n, {len(pre.channels)}, {pre.window_length}) for this model "
            f"(channels {list(pre.channels)}), got shape {windows.shape}"
        )
    arrays = {WINDOWS: windows}
    if pre.reads_plots:
        assert pre.percentage is not None
        arrays[RECURRENCE_PLOTS] = encode_recurrence_plots(
            windows, percentage=pre.percentage, chunk_size=chunk_size, resolution=pre.resolution
        )
    return tuple(arrays[name] for name in pre.input_names)


def predict_windows(
    model: MultitaskModel, windows: np.ndarray, pre: Preprocessing, batch_size: int = 256
) -> dict[str, np.ndarray]:
    """Predictions of raw windows ``(n, C, L)`` (sensor units) on CPU in fp32.

    Returns:
        ``activity`` int64 ``(n,)`` class ids, ``activity_proba`` float32 ``(n, K)``, ``speed`` (km/h or the
        task's unit) and ``weight`` (kg) float64 ``(n,)`` for the tasks the model has.
    """
    inputs = model_inputs(windows, pre)
    if len(windows) == 0:
        return {}
    return predict(model, inputs if len(inputs) > 1 else inputs[0], batch_size=int(batch_size), device="cpu")


def prediction_table(window_labels: pd.DataFrame, outputs: Mapping[str, np.ndarray], class_names: Sequence[str]) -> pd.DataFrame:
    """One row per window: ``subject, recording, window_start_s, activity`` (class name),
    ``activity_probability`` (softmax probability of that class), ``speed``, ``weight`` (physical units;
    NaN for a task the model does not have), then ``activity_id`` and, where the recording carries labels,
    ``true_activity`` (name), ``true_speed``, ``true_weight`` (NaN where the task does not apply)."""
    n = len(window_labels)
    table = pd.DataFrame(
        {
            "subject": window_labels[schema.SUBJECT].astype(str).to_numpy(),
            "recording": window_labels[schema.RECORDING].astype(str).to_numpy(),
            "window_start_s": window_labels["window_start_s"].to_numpy(np.float64),
        }
    )
    names = np.asarray(list(class_names), dtype=object)
    if "activity" in outputs:
        ids = np.asarray(outputs["activity"], dtype=np.int64)
        proba = np.asarray(outputs["activity_proba"], dtype=np.float64)
        table["activity"] = names[ids] if n else np.array([], dtype=object)
        table["activity_probability"] = proba[np.arange(n), ids] if n else np.array([], dtype=np.float64)
    else:
        table["activity"], table["activity_probability"] = None, np.nan
    for task in ("speed", "weight"):
        table[task] = np.asarray(outputs[task], dtype=np.float64) if task in outputs else np.nan
    if "activity" in outputs:
        table["activity_id"] = np.asarray(outputs["activity"], dtype=np.int64)
    truth = window_labels["activity"].to_numpy(np.int64)
    if (truth != NO_LABEL).any():
        table["true_activity"] = np.where(truth != NO_LABEL, names[np.clip(truth, 0, len(names) - 1)], None)
        table["true_activity_id"] = truth
        table["true_speed"] = window_labels["speed"].to_numpy(np.float64)
        table["true_weight"] = window_labels["weight"].to_numpy(np.float64)
    return table


def recording_summary(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per recording: ``subject, recording, n_windows, first_window_s, last_window_s`` (window starts, s),
    ``activity`` (majority class), ``activity_share`` (its share of the windows), ``activity_probability``
    (mean over the windows), ``speed``/``weight`` (median over the windows, physical units) and, where labelled,
    ``true_activity``, ``true_speed``, ``true_weight``."""
    groups = predictions.groupby(["subject", "recording"], sort=True)
    rows = []
    for (subject, recording), part in groups:
        counts = part["activity"].value_counts()
        row = {
            "subject": subject, "recording": recording, "n_windows": len(part),
            "first_window_s": float(part["window_start_s"].min()), "last_window_s": float(part["window_start_s"].max()),
            "activity": counts.index[0] if len(counts) else None,
            "activity_share": float(counts.iloc[0] / len(part)) if len(counts) else np.nan,
            "activity_probability": float(part["activity_probability"].mean()),
            "speed": float(part["speed"].median()), "weight": float(part["weight"].median()),
        }  # fmt: skip
        if "true_activity" in part.columns:
            row.update(
                true_activity=part["true_activity"].iloc[0],
                true_speed=float(part["true_speed"].iloc[0]),
                true_weight=float(part["true_weight"].iloc[0]),
            )
        rows.append(row)
    return pd.DataFrame(rows)
