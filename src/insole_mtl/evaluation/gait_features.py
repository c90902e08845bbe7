"""Gait-feature baseline: hand-made stride features per recording and random forests on top of them.

The honest "simple gait-feature model" that the deep model must beat under the same subject-wise folds
(protocol and reference figures: ``gaitpdb/BASELINES.md``). Two parts: :func:`recording_gait_features`
turns each continuous recording into one row of features, and :class:`GaitFeatureBaseline` fits one random
forest per task on those rows.

Gait events (per foot, from the foot's *total force*, the sum of its force channels)
    1. Analysed segment: the first and last ``trim_s`` seconds are ignored (standing, starting and stopping),
       but only when the recording is longer than ``3 × 2 × trim_s`` (60 s by default), so the trim never
       removes more than a third of a recording; shorter recordings (the synthetic cohort's 4–8 s ones,
       some 40–60 s gaitpdb walks) are analysed whole. See :func:`analysis_bounds`.
    2. Median peak: the median height of the foot total's peaks (local maxima at least 0.2 s apart whose
       prominence is at least 25 % of the foot total's 1st–99th percentile range).
    3. Contact: the foot total is above ``contact_fraction`` × that median peak; gaps shorter than
       ``min_gap_s`` are bridged, then contacts shorter than ``min_contact_s`` dropped.
       With ``offset_correction`` (default) the threshold is measured from the foot's unloaded level ``b``
       (5th percentile of the foot total): ``b + contact_fraction × (median peak − b)``. That is BASELINES.md's
       rule when an unloaded insole reads about 0 (gaitpdb: a few N of drift; cross-validated figures
       unchanged), but FSR insoles read an idle offset (the synthetic cohort: 35–90 counts under peaks of
       ~900, above 7 % of the peak, so the plain rule never sees a swing). A foot whose unloaded level exceeds
       25 % of its median peak never leaves the ground (standing, squats): it gets no contacts, hence NaN gait
       features.
       ``offset_correction=False`` applies the plain rule (``b = 0``, no such check).
    4. Stride ``k``: from the onset (heel strike) of contact ``k`` to the onset of contact ``k + 1``; a
       contact that starts with the segment has no known onset and starts no stride. Strides outside
       ``stride_range`` × the foot's median stride are removed (turns, stops, missed contacts).
       Stance = duration of contact ``k``; swing = stride − stance; double support = time within the
       stride during which both feet are in contact (initial + terminal double support).
    Times are sample counts / ``rate_hz``, so they are exact to one sample.

Features (float64; one row per recording; 39 + 2 × (number of force channels) columns: 71 for gaitpdb's
8 + 8 sensors, 55 for the paper's 4 + 4; "pooled" = mean of the left- and right-foot values, NaN unless
both feet have at least ``min_strides`` kept strides)
    Timing, scale-free (unchanged when every force channel is multiplied by a constant), for
    ``X`` in ``stride``, ``stance``, ``swing``, ``double_support``:

    - ``X_time_s``: pooled mean over kept strides (s);
    - ``X_cv``: pooled coefficient of variation (sample std / mean, dimensionless);
    - ``X_cv_turnfree``: the same over the strides whose stride time is within ±15 % of the foot's median
      kept stride (turns inflate the plain CV; Ga/Ju walks turn about every 12 strides);
    - ``X_masd_s``: pooled mean absolute difference between successive kept strides (s);

    - ``stance_pct``, ``swing_pct``, ``double_support_pct``: pooled mean phase time / mean stride time (%);
    - ``stride_asym``, ``stance_asym``, ``swing_asym``: ``2 |L − R| / (L + R)`` of the per-foot mean times;
    - ``cadence_spm``: steps per minute, ``120 / stride_time_s``;
    - ``stride_kept_frac``: pooled fraction of detected strides inside ``stride_range``.

    Force shape, scale-free:

    - ``peak_to_mean_L``, ``peak_to_mean_R``: mean per-stride peak of the foot / mean total force of both feet;
    - ``peak_to_stance_L``, ``peak_to_stance_R``: mean per-stride peak / mean force of the foot over its stances;
    - ``peak_cv_L``, ``peak_cv_R``: coefficient of variation of the foot's per-stride peaks;
    - ``left_force_share``: mean left-foot total / mean total of both feet;
    - ``total_force_cv``: std / mean over time of the both-feet total force;
    - ``share_<channel>``: sum over the segment of that channel / sum of its foot's total, for every channel
      of ``left`` then ``right`` (8 + 8 for gaitpdb, 4 + 4 for the paper's insole);
    - ``peak_rel_<channel>``: mean over the foot's kept strides of that channel's per-stride maximum / mean
      total force of both feet (where and how hard each sensor region is loaded at its peak), same order.

    Force magnitude, prefix ``abs_`` (in the channels' unit: N for gaitpdb, FSR counts for the paper's insole):

    - ``abs_peak_force_L``, ``abs_peak_force_R``: mean over kept strides of the foot total's per-stride maximum;
    - ``abs_stance_force_L``, ``abs_stance_force_R``: mean foot total over the stances of kept strides;
    - ``abs_mean_force_L``, ``abs_mean_force_R``, ``abs_mean_total_force``: time means over the segment.

    ``left_force_share``, ``total_force_cv``, ``share_*`` and ``abs_mean_*`` need no gait and are defined for
    any recording (standing, squats); every other feature is NaN when the recording has no usable strides.
    Nothing raises on a recording without gait: a feature that cannot be computed is NaN.

Model (:class:`GaitFeatureBaseline`)
    Per task a ``Pipeline(SimpleImputer(median), RandomForest(300 trees))`` fitted on the labelled training
    recordings, every subject weighted equally (weight ``1 / n`` for each of a subject's ``n`` labelled
    recordings) and, for classification, both (all) classes weighted equally on top (see
    :func:`balanced_sample_weights`). BASELINES.md: the weighting lifts gaitpdb's subject accuracy from
    0.73 to 0.82, because some Ju patients contribute up to 7 walks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.signal import find_peaks
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline

from insole_mtl.schema import RECORDING, SUBJECT, TIME

logger = logging.getLogger(__name__)

#: Peaks for the "median peak": at least this far apart (s) ...
PEAK_DISTANCE_S = 0.2
#: ... and at least this prominent, as a fraction of the foot total's 1st-99th percentile range.
PEAK_PROMINENCE_FRACTION = 0.25
#: Turn-free variability uses strides within this relative distance of the median stride.
TURNFREE_TOLERANCE = 0.15
#: The trim applies only to recordings longer than this many times ``2 * trim_s``.
TRIM_MIN_FACTOR = 3.0
#: Unloaded level of a foot (offset correction): this percentile of its total force ...
UNLOADED_PERCENTILE = 5.0
#: ... which must not exceed this fraction of the median peak (else the foot never leaves the ground).
MAX_UNLOADED_FRACTION = 0.25

PHASES: tuple[str, ...] = ("stride", "stance", "swing", "double_support")
REGRESSION_TARGETS: tuple[str, ...] = ("speed", "weight")


def gait_feature_names(left: Sequence[str], right: Sequence[str]) -> list[str]:
    """Column names of :func:`recording_gait_features` for these force channels, in output order."""
    names = [f"{p}_time_s" for p in PHASES]
    names += [f"{p}_cv" for p in PHASES]
    names += [f"{p}_cv_turnfree" for p in PHASES]
    names += [f"{p}_masd_s" for p in PHASES]
    names += ["stance_pct", "swing_pct", "double_support_pct"]
    names += ["stride_asym", "stance_asym", "swing_asym", "cadence_spm", "stride_kept_frac"]
    names += ["peak_to_mean_L", "peak_to_mean_R", "peak_to_stance_L", "peak_to_stance_R", "peak_cv_L", "peak_cv_R"]
    names += ["left_force_share", "total_force_cv"]
    names += [f"share_{c}" for c in (*left, *right)]
    names += [f"peak_rel_{c}" for c in (*left, *right)]
    names += ["abs_peak_force_L", "abs_peak_force_R", "abs_stance_force_L", "abs_stance_force_R"]
    names += ["abs_mean_force_L", "abs_mean_force_R", "abs_mean_total_force"]
    return names


def analysis_bounds(n_samples: int, rate_hz: float, trim_s: float) -> tuple[int, int]:
    """Sample range ``[start, stop)`` of a recording that the features read.

    ``round(trim_s * rate_hz)`` samples are cut at each end when the recording lasts longer than
    ``3 × 2 × trim_s`` seconds (``n_samples / rate_hz``), so that at least two thirds remain; otherwise the
    whole recording is read (short recordings have no room to spare for a trim).
    """
    cut = int(round(trim_s * rate_hz))
    if cut > 0 and n_samples / rate_hz > TRIM_MIN_FACTOR * 2.0 * trim_s:
        return cut, n_samples - cut
    return 0, n_samples


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and (exclusive) ends of the True runs of a boolean ``(n,)`` array, int64 ``(k,)`` each."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    step = np.diff(padded)
    return np.flatnonzero(step == 1), np.flatnonzero(step == -1)


def _median_peak(total: np.ndarray, rate_hz: float) -> float:
    """Median height of the prominent peaks of a foot total ``(n,)``; NaN when there is none."""
    if total.size < 3 or not np.all(np.isfinite(total)):
        return np.nan
    lo, hi = np.percentile(total, [1.0, 99.0])
    # A relative prominence keeps the contact threshold proportional to the force scale (scale-free timing).
    peaks, _ = find_peaks(
        total, distance=max(1, int(round(PEAK_DISTANCE_S * rate_hz))), prominence=PEAK_PROMINENCE_FRACTION * (hi - lo)
    )
    if peaks.size == 0:
        return np.nan
    return float(np.median(total[peaks]))


@dataclass(frozen=True)
class _Foot:
    """Gait events of one foot within the analysed segment (sample indices into the segment)."""

    total: np.ndarray  # (n,) float64 foot total force
    contact: np.ndarray  # (n,) bool cleaned contact
    onset: np.ndarray  # (k,) int64 first sample of each detected stride (heel strike)
    offset: np.ndarray  # (k,) int64 end (exclusive) of the stride's contact (toe off)
    next_onset: np.ndarray  # (k,) int64 end (exclusive) of the stride
    kept: np.ndarray  # (k,) bool stride inside stride_range x median stride


def _detect_foot(
    total: np.ndarray,
    rate_hz: float,
    contact_fraction: float,
    min_gap_s: float,
    min_contact_s: float,
    stride_range: tuple[float, float],
    offset_correction: bool,
) -> _Foot:
    n = total.size
    empty = np.zeros(0, dtype=np.int64)
    peak = _median_peak(total, rate_hz)
    unloaded = float(np.percentile(total, UNLOADED_PERCENTILE)) if offset_correction and np.isfinite(peak) else 0.0
    if not np.isfinite(peak) or peak <= 0.0 or unloaded > MAX_UNLOADED_FRACTION * peak:
        return _Foot(total, np.zeros(n, dtype=bool), empty, empty, empty, np.zeros(0, dtype=bool))
    starts, ends = _runs(total > unloaded + contact_fraction * (peak - unloaded))
    if starts.size > 1:
        # Bridge short gaps (sensor flicker mid-stance) before judging contact durations.
        keep_gap = (starts[1:] - ends[:-1]) >= min_gap_s * rate_hz
        starts, ends = starts[np.concatenate(([True], keep_gap))], ends[np.concatenate((keep_gap, [True]))]
    long_enough = (ends - starts) >= min_contact_s * rate_hz
    starts, ends = starts[long_enough], ends[long_enough]
    edges = np.zeros(n + 1, dtype=np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, ends, -1)
    contact = np.cumsum(edges[:n]) > 0
    # A contact touching the segment's start has no observed onset: it starts no stride.
    valid = starts[:-1] > 0
    onset, offset, next_onset = starts[:-1][valid], ends[:-1][valid], starts[1:][valid]
    stride = next_onset - onset
    if stride.size:
        med = np.median(stride)
        kept = (stride >= stride_range[0] * med) & (stride <= stride_range[1] * med)
    else:
        kept = np.zeros(0, dtype=bool)
    return _Foot(total, contact, onset, offset, next_onset, kept)


def _cv(x: np.ndarray) -> float:
    mean = x.mean()
    return float(x.std(ddof=1) / mean) if x.size > 1 and mean != 0 else np.nan


def _foot_stats(
    foot: _Foot, channels: np.ndarray, both_cumsum: np.ndarray, rate_hz: float, min_strides: int
) -> tuple[dict[str, float], np.ndarray]:
    """Per-foot statistics (keys as the pooled features, plus ``peak``, ``peak_cv``, ``stance_force``) and
    the mean per-stride maximum of each of the foot's ``channels`` ``(n, c)`` (``(c,)``, NaN without strides)."""
    out: dict[str, float] = {}
    sensor_peaks = np.full(channels.shape[1], np.nan)
    k = foot.kept
    if int(k.sum()) < max(min_strides, 2):
        return out, sensor_peaks
    on, off, nxt = foot.onset, foot.offset, foot.next_onset
    phases = {
        "stride": (nxt - on) / rate_hz,
        "stance": (off - on) / rate_hz,
        "swing": (nxt - off) / rate_hz,
        "double_support": (both_cumsum[nxt] - both_cumsum[on]) / rate_hz,
    }
    stride_k = phases["stride"][k]
    turnfree = k & (np.abs(phases["stride"] - np.median(stride_k)) <= TURNFREE_TOLERANCE * np.median(stride_k))
    pairs = k[:-1] & k[1:]  # consecutive detected strides are adjacent in time
    for name, values in phases.items():
        out[f"{name}_time_s"] = float(values[k].mean())
        out[f"{name}_cv"] = _cv(values[k])
        out[f"{name}_cv_turnfree"] = _cv(values[turnfree]) if int(turnfree.sum()) >= min_strides else np.nan
        out[f"{name}_masd_s"] = float(np.abs(np.diff(values))[pairs].mean()) if pairs.any() else np.nan
    out["stride_kept_frac"] = float(k.mean())
    # Per-stride maxima: reduceat over [onset, next_onset) pairs; the odd slots are the gaps between strides.
    bounds = np.stack([on[k], nxt[k]], axis=1).ravel()
    peaks = np.maximum.reduceat(foot.total, bounds)[::2]
    out["peak"] = float(peaks.mean())
    out["peak_cv"] = _cv(peaks)
    sensor_peaks = np.maximum.reduceat(channels, bounds, axis=0)[::2].mean(axis=0)
    force_cumsum = np.concatenate(([0.0], np.cumsum(foot.total)))
    stance_samples = (off[k] - on[k]).sum()
    out["stance_force"] = float((force_cumsum[off[k]] - force_cumsum[on[k]]).sum() / stance_samples)
    return out, sensor_peaks


def _ratio(num: float, den: float) -> float:
    return float(num / den) if np.isfinite(num) and np.isfinite(den) and den != 0 else np.nan


def _recording_features(
    forces: np.ndarray,
    n_left: int,
    rate_hz: float,
    contact_fraction: float,
    min_gap_s: float,
    min_contact_s: float,
    stride_range: tuple[float, float],
    min_strides: int,
    offset_correction: bool,
) -> list[float]:
    """Features of one analysed segment ``forces`` ``(n, n_left + n_right)``, in :func:`gait_feature_names` order."""
    n = forces.shape[0]
    left_total, right_total = forces[:, :n_left].sum(axis=1), forces[:, n_left:].sum(axis=1)
    feet = [
        _detect_foot(t, rate_hz, contact_fraction, min_gap_s, min_contact_s, stride_range, offset_correction)
        for t in (left_total, right_total)
    ]
    both = np.concatenate(([0], np.cumsum(feet[0].contact & feet[1].contact)))
    (stats_l, peaks_l), (stats_r, peaks_r) = (
        _foot_stats(feet[0], forces[:, :n_left], both, rate_hz, min_strides),
        _foot_stats(feet[1], forces[:, n_left:], both, rate_hz, min_strides),
    )

    def pooled(key: str) -> float:
        return 0.5 * (stats_l.get(key, np.nan) + stats_r.get(key, np.nan))

    def asym(key: str) -> float:
        lv, rv = stats_l.get(key, np.nan), stats_r.get(key, np.nan)
        return _ratio(2.0 * abs(lv - rv), lv + rv)

    row: list[float] = []
    row += [pooled(f"{p}_time_s") for p in PHASES]
    row += [pooled(f"{p}_cv") for p in PHASES]
    row += [pooled(f"{p}_cv_turnfree") for p in PHASES]
    row += [pooled(f"{p}_masd_s") for p in PHASES]
    stride = pooled("stride_time_s")
    row += [100.0 * _ratio(pooled(f"{p}_time_s"), stride) for p in ("stance", "swing", "double_support")]
    row += [asym("stride_time_s"), asym("stance_time_s"), asym("swing_time_s")]
    row += [_ratio(120.0, stride), pooled("stride_kept_frac")]

    mean_l = float(left_total.mean()) if n else np.nan
    mean_r = float(right_total.mean()) if n else np.nan
    total = left_total + right_total
    mean_total = mean_l + mean_r
    peak_l, peak_r = stats_l.get("peak", np.nan), stats_r.get("peak", np.nan)
    stance_l, stance_r = stats_l.get("stance_force", np.nan), stats_r.get("stance_force", np.nan)
    row += [_ratio(peak_l, mean_total), _ratio(peak_r, mean_total)]
    row += [_ratio(peak_l, stance_l), _ratio(peak_r, stance_r)]
    row += [stats_l.get("peak_cv", np.nan), stats_r.get("peak_cv", np.nan)]
    row += [_ratio(mean_l, mean_total), _ratio(float(total.std()), mean_total) if n else np.nan]
    sums = forces.sum(axis=0)
    row += [_ratio(s, float(left_total.sum())) for s in sums[:n_left]]
    row += [_ratio(s, float(right_total.sum())) for s in sums[n_left:]]
    row += [_ratio(float(v), mean_total) for v in (*peaks_l, *peaks_r)]
    row += [peak_l, peak_r, stance_l, stance_r, mean_l, mean_r, mean_total]
    return row


def recording_gait_features(
    recordings: pd.DataFrame,
    left: Sequence[str],
    right: Sequence[str],
    rate_hz: float,
    *,
    trim_s: float = 10.0,
    contact_fraction: float = 0.07,
    min_gap_s: float = 0.04,
    min_contact_s: float = 0.1,
    stride_range: tuple[float, float] = (0.6, 1.6),
    min_strides: int = 3,
    offset_correction: bool = True,
) -> pd.DataFrame:
    """Gait features of every continuous recording (definitions in the module docstring).

    Args:
        recordings: Long format, one row per sample: ``recording`` (str), ``time_s`` (s, optional), and the
            force channels; the rows of a recording contiguous and in time order, uniformly sampled.
        left, right: Force channels of the left and right foot (e.g. ``L1..L8`` / ``R1..R8``).
        rate_hz: Sampling rate (Hz) of ``recordings``.
        trim_s: Seconds ignored at each end, for recordings longer than ``6 * trim_s`` (:func:`analysis_bounds`).
        contact_fraction: Contact threshold, fraction of the recording's median peak of the foot total.
        min_gap_s: Shorter gaps between contacts are bridged (s).
        min_contact_s: Shorter contacts are dropped (s).
        stride_range: Kept strides, as fractions of the foot's median stride (inclusive).
        min_strides: Kept strides a foot needs for its gait features (fewer: NaN).
        offset_correction: Measure the contact threshold from the foot's unloaded level (module docstring);
            False: the plain ``contact_fraction × median peak`` of BASELINES.md.

    Returns:
        float64 frame ``(n_recordings, n_features)``, index ``recording`` in sorted order, columns
        :func:`gait_feature_names` ``(left, right)``.

    Raises:
        ValueError: a missing column, a channel on both feet or none on one, a non-positive rate, or a
            recording whose rows are not contiguous / in time order.
    """
    left, right = list(left), list(right)
    if not left or not right:
        raise ValueError(f"gait features: need force channels for both feet; got left={left}, right={right}")
    if set(left) & set(right):
        raise ValueError(f"gait features: channel(s) {sorted(set(left) & set(right))} listed for both feet")
    missing = [c for c in (RECORDING, *left, *right) if c not in recordings.columns]
    if missing:
        raise ValueError(f"gait features: recordings lack column(s) {missing}")
    if not rate_hz > 0:
        raise ValueError(f"gait features: rate_hz must be positive, got {rate_hz!r}")
    names = gait_feature_names(left, right)
    ids = recordings[RECORDING].astype(str).to_numpy()
    if ids.size == 0:
        return pd.DataFrame(np.zeros((0, len(names))), columns=names, index=pd.Index([], name=RECORDING, dtype=str))
    block_starts = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    block_ends = np.concatenate((block_starts[1:], [ids.size]))
    block_ids = ids[block_starts]
    if len(set(block_ids)) != block_ids.size:
        raise ValueError("gait features: the rows of a recording are not contiguous (sort by recording, time_s)")
    if TIME in recordings.columns:
        step = np.diff(recordings[TIME].to_numpy(dtype=np.float64))
        inside = np.ones(step.size, dtype=bool)
        inside[block_starts[1:] - 1] = False
        if np.any(step[inside] <= 0):
            raise ValueError(f"gait features: {TIME!r} is not strictly increasing within a recording")
    forces = recordings[[*left, *right]].to_numpy(dtype=np.float64)
    rows = []
    for start, stop in zip(block_starts, block_ends):
        lo, hi = analysis_bounds(int(stop - start), rate_hz, trim_s)
        rows.append(
            _recording_features(
                forces[start + lo : start + hi], len(left), rate_hz,
                contact_fraction, min_gap_s, min_contact_s, stride_range, min_strides, offset_correction,
            )
        )  # fmt: skip
    out = pd.DataFrame(np.asarray(rows, dtype=np.float64), columns=names, index=pd.Index(block_ids, name=RECORDING))
    out = out.sort_index()
    n_gait = int(out["stride_time_s"].notna().sum())
    logger.info("Gait features: %d recordings x %d features, %d with usable strides", len(out), len(names), n_gait)
    return out


# --------------------------------------------------------------------------------------------
# Baseline model
# --------------------------------------------------------------------------------------------


def balanced_sample_weights(subjects: Sequence[str] | np.ndarray, classes: np.ndarray | None = None) -> np.ndarray:
    """Training weights that give every subject (and every class) the same total weight.

    Each of a subject's ``n`` recordings weighs ``1 / n``; with ``classes``, the subject weights are then
    rescaled so that every class present sums to the same total (``class_weight="balanced"`` computed on
    subjects rather than recordings). The result is scaled to mean 1.

    Args:
        subjects: ``(n,)`` subject of each training recording.
        classes: optional ``(n,)`` class id of each recording.

    Returns:
        float64 ``(n,)``.
    """
    subj = pd.Series(np.asarray(subjects, dtype=object))
    if subj.empty:
        return np.zeros(0, dtype=np.float64)
    weights = 1.0 / subj.map(subj.value_counts()).to_numpy(dtype=np.float64)
    if classes is not None:
        cls = pd.Series(np.asarray(classes))
        class_total = pd.Series(weights).groupby(cls).sum()
        weights = weights / cls.map(class_total).to_numpy(dtype=np.float64)
    return weights / weights.mean()


def _by_recording(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` indexed by recording (from a ``recording`` column, or the index as it is)."""
    if RECORDING in frame.columns:
        frame = frame.set_index(RECORDING)
    frame = frame.set_axis(frame.index.astype(str).rename(RECORDING), axis=0)  # a new frame: never the caller's
    if not frame.index.is_unique:
        raise ValueError("gait baseline: duplicate recordings in a feature or target table")
    return frame


def _pipeline(kind: str, n_estimators: int, seed: int, n_jobs: int) -> Pipeline:
    forest: RandomForestClassifier | RandomForestRegressor
    if kind == "classification":
        forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
    else:
        forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
    # keep_empty_features: an all-NaN training column becomes 0 instead of vanishing (or leaving no column).
    return Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)), ("forest", forest)])


@dataclass
class GaitFeatureBaseline:
    """Random forests on :func:`recording_gait_features`, one per task (``activity``, ``speed``, ``weight``).

    Attributes:
        seed: ``random_state`` of every forest.
        n_estimators: Trees per forest.
        n_jobs: Forest threads.
        subject_weighting: Weight every subject (and class) equally in training; False only for ablations.
        models_: Fitted pipelines per task (after :meth:`fit`; a skipped task has none).
        feature_names_: Training feature columns, in order.
        classes_: Activity class ids of the classifier (``(k,)`` int64; empty when skipped).
    """

    seed: int = 0
    n_estimators: int = 300
    n_jobs: int = 1
    subject_weighting: bool = True
    models_: dict[str, Pipeline] = field(default_factory=dict, init=False, repr=False)
    feature_names_: list[str] = field(default_factory=list, init=False, repr=False)
    classes_: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), init=False, repr=False)

    def fit(self, features: pd.DataFrame, targets: pd.DataFrame) -> GaitFeatureBaseline:
        """Fit the forests on the training recordings.

        Args:
            features: ``(n, f)`` feature table, index or column ``recording``.
            targets: one row per recording (index or column ``recording``, a superset of ``features``'
                recordings): ``subject`` (str), ``activity`` (int class id, -1 = unlabelled), ``speed`` and
                ``weight`` (float, NaN = unlabelled). A missing target column skips that task.

        A task with fewer than 2 labelled recordings, or a single class, is skipped with a warning.
        """
        x_frame = _by_recording(features)
        y_frame = _by_recording(targets)
        lacking = x_frame.index.difference(y_frame.index)
        if len(lacking):
            raise ValueError(
                f"gait baseline: {len(lacking)} recording(s) have features but no targets, e.g. {lacking[0]!r}"
            )
        if SUBJECT not in y_frame.columns:
            raise ValueError(f"gait baseline: targets lack column {SUBJECT!r}")
        y_frame = y_frame.loc[x_frame.index]
        self.feature_names_ = [str(c) for c in x_frame.columns]
        self.models_, self.classes_ = {}, np.zeros(0, dtype=np.int64)
        x = x_frame.to_numpy(dtype=np.float64)
        subjects = y_frame[SUBJECT].astype(str).to_numpy()
        for task in ("activity", *REGRESSION_TARGETS):
            if task not in y_frame.columns:
                logger.warning("gait baseline: no %r target column; %s task skipped", task, task)
                continue
            if task == "activity":
                y = y_frame[task].to_numpy(dtype=np.int64)
                labelled = y >= 0
            else:
                y = y_frame[task].to_numpy(dtype=np.float64)
                labelled = np.isfinite(y)
            n_classes = np.unique(y[labelled]).size
            if labelled.sum() < 2 or (task == "activity" and n_classes < 2):
                logger.warning(
                    "gait baseline: %s task skipped (%d labelled training recordings, %d distinct value(s))",
                    task, int(labelled.sum()), n_classes,
                )  # fmt: skip
                continue
            kind = "classification" if task == "activity" else "regression"
            pipe = _pipeline(kind, self.n_estimators, self.seed, self.n_jobs)
            weights = None
            if self.subject_weighting:
                weights = balanced_sample_weights(subjects[labelled], y[labelled] if kind == "classification" else None)
            pipe.fit(x[labelled], y[labelled], forest__sample_weight=weights)
            self.models_[task] = pipe
            if kind == "classification":
                self.classes_ = np.asarray(pipe.classes_, dtype=np.int64)
            logger.info(
                "gait baseline: %s forest fitted on %d recordings of %d subjects",
                task, int(labelled.sum()), np.unique(subjects[labelled]).size,
            )  # fmt: skip
        return self

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        """Predictions for the test recordings.

        Args:
            features: ``(n, f)`` feature table (index or column ``recording``); columns are matched by name
                (a training column missing here counts as NaN, extra columns are ignored).

        Returns:
            Frame indexed by ``recording`` (order of ``features``) with, for each fitted task:
            ``pred_activity`` (int64 class id), ``pred_activity_proba`` (float64 probability of the predicted
            class), ``proba_activity_<k>`` (float64 probability of class id ``k``, one column per training
            class, ascending); ``pred_speed`` (m/s) and ``pred_weight`` (kg), float64. A skipped task has no
            column.
        """
        if not self.feature_names_:
            raise RuntimeError("gait baseline: call fit() before predict()")
        x_frame = _by_recording(features).reindex(columns=self.feature_names_)
        x = x_frame.to_numpy(dtype=np.float64)
        out = pd.DataFrame(index=x_frame.index.rename(RECORDING))
        if "activity" in self.models_:
            proba = self.models_["activity"].predict_proba(x) if len(x) else np.zeros((0, self.classes_.size))
            best = proba.argmax(axis=1)
            out["pred_activity"] = self.classes_[best].astype(np.int64)
            out["pred_activity_proba"] = proba[np.arange(len(x)), best].astype(np.float64)
            for j, k in enumerate(self.classes_):
                out[f"proba_activity_{int(k)}"] = proba[:, j].astype(np.float64)
        for task in REGRESSION_TARGETS:
            if task in self.models_:
                out[f"pred_{task}"] = self.models_[task].predict(x).astype(np.float64) if len(x) else np.zeros(0)
        return out
