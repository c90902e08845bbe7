"""Is body weight as hard to read from the synthetic cohort as from real insoles? Two honest baselines.

``python -m insole_mtl.benchmarks realism [--n-subjects 36] [--seed 7] [--duration-scale 0.15]
[--gaitpdb ../shared/data/gaitpdb | --skip-gaitpdb] [--folds 5] [--fold-seeds 0 1 2] [--conf conf] [--scan]``

Scores two body-weight baselines subject-wise on

* **synthetic**: the embedded cohort (:mod:`insole_mtl.sources.synthetic`) at the default run's config
  (``conf/base`` ``synthetic``: 36 subjects, seed 7, duration scale 0.15; options change them), through
  :func:`~insole_mtl.pipelines.ingest.nodes.prepare_recordings` with conf/base's channels, sampling and tasks,
  windowed like the pipeline (160 samples = 4 s at 40 Hz, stride 40); only the weight-labelled windows
  (EXP09–11, ``tasks.weight.experiments``) are used;
* **gaitpdb**: the real PhysioNet insoles (``README.md`` of that folder), read with
  :class:`~insole_mtl.datasets.sources.GaitpdbDataset` and conf/gaitpdb's channels/sampling/tasks (100 Hz
  resampled to 40 Hz), 160-sample windows with stride 80; every window of a subject with a weight.

Protocol (the same for both cohorts): the subjects with a weight are cut into ``--folds`` subject-disjoint
folds (``sklearn.model_selection.KFold(shuffle=True, random_state=fold_seed)`` over the sorted subject ids);
each fold is predicted by models fitted on the other folds' subjects only, so every subject is predicted out
of fold exactly once per fold seed. Per-subject MAE = mean over subjects of
``|mean of the subject's window predictions − the subject's weight|``. Figures are averaged over the fold
seeds (``--fold-seeds``, default 0 1 2); ratios are ``MAE / mean-predictor MAE`` of the averaged figures.

Baselines:

* ``mean``: the mean weight of the training subjects (one value per subject);
* ``force_line``: the calibrated mean-force line of :mod:`insole_mtl.evaluation.physical_baseline`
  (:func:`mean_total_force` of the force channels, :func:`fit_force_calibration` on the training subjects);
  the force channels are ``reports.physical_baseline.force_channels`` of the cohort's conf;
* ``ridge``: scikit-learn ``Ridge`` on standardised :func:`scale_free_features` (16 per window), every
  training subject weighted equally (sample weight 1 / its windows), ``alpha`` chosen among
  ``RIDGE_ALPHAS`` by an inner subject-wise K-fold on the training subjects only: the force prior's own
  :func:`~insole_mtl.models.force_prior.fit_weighted_ridge` and :func:`~insole_mtl.models.force_prior.choose_alpha`;
* ``force_and_shape``: the same ridge on the mean total force beside the 16 shape features: what shape adds to
  magnitude (with ``--scan`` also the mean force with each shape feature alone, ``force_plus_feature``: on
  gaitpdb the coefficient of variation of the total force is the one that carries it, the cue of the gaitpdb
  environment's force prior, :mod:`insole_mtl.models.force_prior`).

Returned (and logged): ``protocol`` (folds, fold seeds, split, scoring, ridge, feature names), ``synthetic``
(cohort config, windowing, experiments + the figures of :func:`score_weight_baselines`), ``gaitpdb`` (path,
windowing + the same figures, or ``{"skipped": reason}``), ``synthetic_not_easier_than_gaitpdb`` (per baseline:
synthetic ratio >= gaitpdb's; only when gaitpdb was scored; compare with the ``*_ratio_std`` fold-seed spread)
and ``wall_s``.

The scale-free features see only force *shape*: they are unchanged when every force channel of a window is
multiplied by the same positive constant, so they cannot read the magnitude that the force line uses. On
gaitpdb the published reference (``BASELINES.md``) is 10.15 kg (mean) and 6.87 kg (force line): ratio 0.67.
A synthetic cohort whose ratios sit far below gaitpdb's makes body weight easier than real data.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from insole_mtl.evaluation.physical_baseline import fit_force_calibration, force_channel_indices, mean_total_force
from insole_mtl.models.force_prior import RIDGE_ALPHAS, choose_alpha, fit_weighted_ridge, subject_folds, subject_mae

logger = logging.getLogger(__name__)

#: Region order of :func:`scale_free_features` (per foot). Modelled on the paper's insole: FSR1 medial
#: forefoot, FSR2 lateral forefoot, FSR3 lateral heel, FSR4 medial heel (see ``sources/synthetic.py``).
REGIONS: tuple[str, ...] = ("medial_fore", "lateral_fore", "lateral_heel", "medial_heel")
HEEL_REGIONS: tuple[str, ...] = ("lateral_heel", "medial_heel")
FEET: tuple[str, ...] = ("R", "L")

#: Paper insole (14-channel synthetic cohort): one FSR per region.
SYNTHETIC_REGIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        foot: MappingProxyType({region: (f"fsr{k}_{foot}",) for k, region in enumerate(REGIONS, start=1)})
        for foot in FEET
    }
)

#: gaitpdb's 8 sensors per foot (``format.txt`` coordinates: Y −800 heel … +800 toe; |X| 700 lateral, 300
#: medial, 500 on the foot's axis) grouped into the same four regions: heel centre + lateral rear foot → lateral
#: heel, medial rear foot → medial heel, lateral mid/forefoot → lateral forefoot, medial mid/forefoot + hallux →
#: medial forefoot. An approximation: the Infotronic layout has no sensor exactly where the paper's FSRs sit.
GAITPDB_REGIONS: Mapping[str, Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        foot: MappingProxyType(
            {
                "medial_fore": (f"{foot}5", f"{foot}7", f"{foot}8"),
                "lateral_fore": (f"{foot}4", f"{foot}6"),
                "lateral_heel": (f"{foot}1", f"{foot}2"),
                "medial_heel": (f"{foot}3",),
            }
        )
        for foot in FEET
    }
)

#: The 16 columns of :func:`scale_free_features`, in order.
FEATURE_NAMES: tuple[str, ...] = (
    *(f"share_{region}_{foot}" for foot in FEET for region in REGIONS),  # 8: region share of the window's force
    "cv_total",  # std / mean of the total force over time
    "above_half_total",  # fraction of samples with total - min > 0.5 * range
    "contact_fraction",  # per foot: fraction with foot total - min > 0.1 * range; mean of the feet
    "peak_to_mean_total",  # max / mean of the total
    "peak_to_mean_foot",  # max / mean of each foot's total; mean of the feet
    "heel_loaded_fraction",  # among a foot's contact samples, fraction with heel force > forefoot force; mean
    "left_right_asymmetry",  # |sum R - sum L| / sum (R + L)
    "above_half_lateral_heel",  # fraction of the lateral-heel force above half its range (saturation flattening)
)


# --------------------------------------------------------------------------------------------------
# Features
# --------------------------------------------------------------------------------------------------
def _region_indices(
    channels: Sequence[str], regions: Mapping[str, Mapping[str, Sequence[str]]]
) -> dict[str, dict[str, list[int]]]:
    channels = list(channels)
    if sorted(regions) != sorted(FEET):
        raise ValueError(f"realism: regions must map the feet {list(FEET)} to regions, got feet {sorted(regions)}")
    out: dict[str, dict[str, list[int]]] = {}
    for foot in FEET:
        if sorted(regions[foot]) != sorted(REGIONS):
            raise ValueError(f"realism: foot {foot!r} must define the regions {list(REGIONS)}, got {sorted(regions[foot])}")
        out[foot] = {}
        for region in REGIONS:
            names = list(regions[foot][region])
            missing = [c for c in names if c not in channels]
            if not names or missing:
                raise ValueError(f"realism: region {foot}/{region} channels {names} not all among window channels {channels}")
            out[foot][region] = [channels.index(c) for c in names]
    return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den`` is 0 (an all-zero window has no shape)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _above(x: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean ``(n, L)``: ``x - min > fraction * range`` per window (all False for a constant window)."""
    low = x.min(axis=1, keepdims=True)
    return x - low > fraction * (x.max(axis=1, keepdims=True) - low)


def scale_free_features(
    windows: np.ndarray, channels: Sequence[str], regions: Mapping[str, Mapping[str, Sequence[str]]]
) -> np.ndarray:
    """16 force-shape features per window (:data:`FEATURE_NAMES`), blind to the force magnitude.

    Every feature is a ratio of forces, a comparison of forces with a fraction of the window's own range, or a
    fraction of time, so multiplying all force channels of a window by one positive constant leaves it
    unchanged (bit for bit with a power of two; to rounding otherwise). Force channels are grouped into the four
    :data:`REGIONS` per foot by ``regions`` (:data:`SYNTHETIC_REGIONS`, :data:`GAITPDB_REGIONS`); other
    channels (accelerometer) are ignored.

    Args:
        windows: ``(n, C, L)`` raw windows.
        channels: names of the ``C`` channels.
        regions: ``{foot: {region: channel names}}`` for the feet ``R``, ``L``.

    Returns:
        float64 ``(n, 16)``.
    """
    windows = np.asarray(windows)
    if windows.ndim != 3 or windows.shape[1] != len(channels):
        raise ValueError(f"realism: windows have shape {windows.shape}; expected (n, {len(channels)}, length)")
    idx = _region_indices(channels, regions)
    region = {
        (foot, name): windows[:, cols, :].astype(np.float64).sum(axis=1) for foot in FEET for name, cols in idx[foot].items()
    }
    foot_total = {foot: sum(region[(foot, name)] for name in REGIONS) for foot in FEET}
    total = foot_total["R"] + foot_total["L"]
    window_sum = total.sum(axis=1)
    mean = total.mean(axis=1)
    shares = [_ratio(region[(foot, name)].sum(axis=1), window_sum) for foot in FEET for name in REGIONS]
    contact = {foot: _above(foot_total[foot], 0.1) for foot in FEET}
    heel_loaded = []
    for foot in FEET:
        heel = sum(region[(foot, name)] for name in HEEL_REGIONS)
        fore = foot_total[foot] - heel
        in_contact = contact[foot].sum(axis=1)
        heel_loaded.append(_ratio(((heel > fore) & contact[foot]).sum(axis=1), in_contact))
    features = [
        *shares,
        _ratio(total.std(axis=1), mean),
        _above(total, 0.5).mean(axis=1),
        np.mean([contact[foot].mean(axis=1) for foot in FEET], axis=0),
        _ratio(total.max(axis=1), mean),
        np.mean([_ratio(foot_total[f].max(axis=1), foot_total[f].mean(axis=1)) for f in FEET], axis=0),
        np.mean(heel_loaded, axis=0),
        _ratio(np.abs(foot_total["R"].sum(axis=1) - foot_total["L"].sum(axis=1)), window_sum),
        np.mean([_above(region[(foot, "lateral_heel")], 0.5).mean(axis=1) for foot in FEET], axis=0),
    ]
    out = np.stack(features, axis=1)
    assert out.shape[1] == len(FEATURE_NAMES)
    return out


# --------------------------------------------------------------------------------------------------
# Protocol
# --------------------------------------------------------------------------------------------------
def score_weight_baselines(
    windows: np.ndarray,
    labels: pd.DataFrame,
    channels: Sequence[str],
    force_channels: Sequence[str],
    regions: Mapping[str, Mapping[str, Sequence[str]]],
    n_folds: int = 5,
    fold_seeds: Sequence[int] = (0, 1, 2),
    scan: bool = False,
) -> dict[str, Any]:
    """Subject-wise K-fold MAE (kg) of the mean predictor, the calibrated force line, the shape ridge and the ridge
    on the mean force beside the shape features (``force_and_shape``: what shape adds to magnitude).

    Args:
        windows: ``(n, C, L)`` raw windows; labels: one row per window with ``subject`` and ``weight``
            (windows with a NaN weight are dropped).
        channels: window channel names; force_channels: those summed by the force line; regions: see
            :func:`scale_free_features`.
        n_folds: subject folds; fold_seeds: one complete K-fold per seed, figures averaged.
        scan: also score a ridge on the mean force and each shape feature alone (``force_plus_feature``: which
            feature carries what the force line misses; 16 more fits per fold).

    Returns:
        ``n_subjects``, ``n_windows``, ``mean_mae_kg``, ``force_line_mae_kg``, ``force_line_ratio``,
        ``ridge_mae_kg``, ``ridge_ratio`` (ratio = MAE / ``mean_mae_kg``), ``force_line_ratio_std`` and
        ``ridge_ratio_std`` (population std of the per-seed ratios), ``weight_std_kg`` (over subjects),
        ``force_line_r`` (Pearson r of subject mean force and weight, all subjects), ``force_and_shape_mae_kg``
        (and its ratio), ``per_seed`` (the MAEs and the chosen ridge alphas for each fold seed); with ``scan``,
        ``force_plus_feature`` ``{feature: MAE}``, averaged over the fold seeds.
    """
    labels = labels.reset_index(drop=True)
    if len(windows) != len(labels):
        raise ValueError(f"realism: {len(windows)} windows for {len(labels)} label rows")
    keep = labels["weight"].notna().to_numpy()
    windows = np.asarray(windows)[keep]
    subjects = labels.loc[keep, "subject"].astype(str).to_numpy()
    weight = labels.loc[keep, "weight"].to_numpy(np.float64)
    if not fold_seeds:
        raise ValueError("realism: fold_seeds is empty; give at least one seed")
    force = mean_total_force(windows, force_channel_indices(channels, force_channels))
    features = scale_free_features(windows, channels, regions)
    ridges = {"ridge": features, "force_and_shape": np.column_stack([force, features])}
    if scan:
        ridges.update({f"force_plus_{name}": np.column_stack([force, features[:, j]]) for j, name in enumerate(FEATURE_NAMES)})
    per_seed = []
    for seed in fold_seeds:
        predictions = {name: np.full(len(weight), np.nan) for name in ("mean", "force_line", *ridges)}
        alphas: list[float] = []
        for held in subject_folds(subjects, n_folds, int(seed)):
            test = np.isin(subjects, held)
            train = ~test
            per_subject = pd.Series(weight[train]).groupby(subjects[train]).mean()
            predictions["mean"][test] = per_subject.mean()
            calibration = fit_force_calibration(force[train], weight[train], subjects[train])
            predictions["force_line"][test] = calibration.predict(force[test])
            for name, x in ridges.items():
                alpha = choose_alpha(x[train], weight[train], subjects[train], int(seed), n_folds)
                predictions[name][test] = fit_weighted_ridge(x[train], weight[train], subjects[train], alpha).predict(x[test])
                if name == "ridge":
                    alphas.append(alpha)
        scores = {f"{name}_mae_kg": subject_mae(subjects, weight, p) for name, p in predictions.items()}
        per_seed.append({"fold_seed": int(seed), **scores, "ridge_alphas": alphas})
    frame = pd.DataFrame({"s": subjects, "f": force, "w": weight}).groupby("s").mean()
    result: dict[str, Any] = {
        "n_subjects": int(len(frame)),
        "n_windows": int(len(weight)),
        "weight_std_kg": float(frame["w"].std(ddof=1)),
        "force_line_r": float(np.corrcoef(frame["f"], frame["w"])[0, 1]),
    }
    def averaged(name: str) -> float:
        return float(np.mean([s[f"{name}_mae_kg"] for s in per_seed]))

    for name in ("mean", "force_line", "ridge", "force_and_shape"):
        result[f"{name}_mae_kg"] = averaged(name)
    for name in ("force_line", "ridge", "force_and_shape"):
        result[f"{name}_ratio"] = result[f"{name}_mae_kg"] / result["mean_mae_kg"]
        # Spread of the per-seed ratios: how much of a difference between cohorts is just the choice of folds.
        result[f"{name}_ratio_std"] = float(np.std([s[f"{name}_mae_kg"] / s["mean_mae_kg"] for s in per_seed]))
    if scan:
        result["force_plus_feature"] = {name: averaged(f"force_plus_{name}") for name in FEATURE_NAMES}
    result["per_seed"] = per_seed
    return result


# --------------------------------------------------------------------------------------------------
# Cohorts
# --------------------------------------------------------------------------------------------------
def load_conf(conf_dir: Path) -> dict[str, Any]:
    """Merge every ``parameters*.yml`` of one conf environment folder (top-level keys, later files win)."""
    import yaml

    files = sorted(Path(conf_dir).glob("parameters*.yml"))
    if not files:
        raise ValueError(f"realism: no parameters*.yml in {conf_dir}; run from the project root or pass --conf")
    params: dict[str, Any] = {}
    for path in files:
        params.update(yaml.safe_load(path.read_text()) or {})
    return params


def synthetic_weight_windows(
    params: Mapping[str, Any], n_subjects: int | None = None, seed: int | None = None, duration_scale: float | None = None
) -> tuple[np.ndarray, pd.DataFrame, dict[str, Any]]:
    """Weight-labelled windows of the synthetic cohort, prepared and windowed like the pipeline.

    Args:
        params: conf/base parameters (``synthetic``, ``channels``, ``sampling``, ``tasks``, ``windowing``).
        n_subjects, seed, duration_scale: override ``params['synthetic']`` when not None.

    Returns:
        windows ``(n, 14, 160)``, their labels (``subject``, ``weight``, …) and the cohort config used.
    """
    from insole_mtl.pipelines.ingest.nodes import acquire_raw_cohort, prepare_recordings
    from insole_mtl.signals.windows import make_windows

    synthetic = dict(params.get("synthetic") or {})
    for key, value in (("n_subjects", n_subjects), ("seed", seed), ("duration_scale", duration_scale)):
        if value is not None:
            synthetic[key] = value
    raw = acquire_raw_cohort(None, synthetic)
    windowing = params["windowing"]
    recordings, labels, _, _ = prepare_recordings(*raw, params["channels"], params["sampling"], params["tasks"], windowing)
    length, stride = int(windowing["length"]), int(windowing["stride"])
    windows, window_labels, _ = make_windows(recordings, labels, params["channels"], length, stride)
    keep = window_labels["weight"].notna().to_numpy()
    return windows[keep], window_labels.loc[keep].reset_index(drop=True), synthetic


def gaitpdb_weight_windows(
    path: Path, params: Mapping[str, Any], length: int = 160, stride: int = 80
) -> tuple[np.ndarray, pd.DataFrame]:
    """Windows of every gaitpdb subject with a weight (16 sensors, 40 Hz, ``length``/``stride`` samples)."""
    from insole_mtl.datasets.sources import GaitpdbDataset
    from insole_mtl.pipelines.ingest.nodes import acquire_raw_cohort, prepare_recordings
    from insole_mtl.signals.windows import make_windows

    source = GaitpdbDataset(str(path), include_totals=True).load()
    raw = acquire_raw_cohort(source, {})
    windowing = {"length": length, "stride": stride}
    recordings, labels, _, _ = prepare_recordings(*raw, params["channels"], params["sampling"], params["tasks"], windowing)
    windows, window_labels, _ = make_windows(recordings, labels, params["channels"], length, stride)
    keep = window_labels["weight"].notna().to_numpy()
    return windows[keep], window_labels.loc[keep].reset_index(drop=True)


def _project_root() -> Path:
    """The working directory when it is a project root (has ``conf/base``), else the source checkout's root."""
    cwd = Path.cwd()
    if (cwd / "conf" / "base").is_dir():
        return cwd
    return Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m insole_mtl.benchmarks realism", description=__doc__.split("\n")[0])
    parser.add_argument("--n-subjects", type=int, default=None, help="synthetic cohort size (default: conf/base, 36)")
    parser.add_argument("--seed", type=int, default=None, help="synthetic cohort seed (default: conf/base, 7)")
    parser.add_argument("--duration-scale", type=float, default=None, help="synthetic durations x this (default: conf/base)")
    parser.add_argument("--gaitpdb", type=Path, default=None, help="default: <project root>/../shared/data/gaitpdb")
    parser.add_argument("--skip-gaitpdb", action="store_true", help="score the synthetic cohort only")
    parser.add_argument("--gaitpdb-stride", type=int, default=80, help="gaitpdb window stride in samples at 40 Hz")
    parser.add_argument("--folds", type=int, default=5, help="subject-disjoint folds")
    parser.add_argument("--fold-seeds", type=int, nargs="+", default=[0, 1, 2], help="one K-fold per seed, figures averaged")
    parser.add_argument("--conf", type=Path, default=None, help="the project's conf folder (default: <project root>/conf)")
    parser.add_argument("--scan", action="store_true", help="also score the mean force with each shape feature alone")
    return parser


def _log_cohort(name: str, scores: Mapping[str, Any]) -> None:
    logger.info(
        "realism %s: %d subjects, %d windows; per-subject MAE mean %.2f kg, force line %.2f kg (ratio %.2f, r %.2f), "
        "shape ridge %.2f kg (ratio %.2f), force + shape ridge %.2f kg",
        name, scores["n_subjects"], scores["n_windows"], scores["mean_mae_kg"], scores["force_line_mae_kg"],
        scores["force_line_ratio"], scores["force_line_r"], scores["ridge_mae_kg"], scores["ridge_ratio"],
        scores["force_and_shape_mae_kg"],
    )  # fmt: skip
    if "force_plus_feature" in scores:
        logger.info("realism %s, force + one shape feature: %s", name, {k: round(v, 2) for k, v in scores["force_plus_feature"].items()})


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Score both baselines on the synthetic cohort and on gaitpdb; log and return the figures."""
    args = _parser().parse_args(list(argv or []))
    start = time.perf_counter()
    root = _project_root()
    conf = args.conf if args.conf is not None else root / "conf"
    result: dict[str, Any] = {
        "protocol": {
            "folds": args.folds,
            "fold_seeds": list(args.fold_seeds),
            "split": "KFold(shuffle=True, random_state=fold_seed) over sorted subject ids: subject-disjoint folds, "
            "every subject predicted out of fold once per seed",
            "subject_mae": "mean over subjects of |mean of the subject's window predictions - weight|, averaged over fold seeds",
            "ratio": "baseline MAE / mean-predictor MAE",
            "ridge": f"StandardScaler + Ridge on {len(FEATURE_NAMES)} scale-free features, subjects weighted equally, "
            f"alpha in {list(RIDGE_ALPHAS)} by inner subject-wise K-fold on the training subjects",
            "features": list(FEATURE_NAMES),
        }
    }

    base = load_conf(conf / "base")
    windows, labels, synthetic = synthetic_weight_windows(base, args.n_subjects, args.seed, args.duration_scale)
    force_channels = base["reports"]["physical_baseline"]["force_channels"]
    scores = score_weight_baselines(
        windows, labels, base["channels"], force_channels, SYNTHETIC_REGIONS, args.folds, args.fold_seeds, args.scan
    )
    result["synthetic"] = {
        "config": {k: synthetic.get(k) for k in ("n_subjects", "seed", "duration_scale")},
        "windowing": {"length": int(base["windowing"]["length"]), "stride": int(base["windowing"]["stride"])},
        "experiments": list(base["tasks"]["weight"].get("experiments", [])),
        **scores,
    }
    _log_cohort("synthetic", scores)

    path = args.gaitpdb if args.gaitpdb is not None else root.parent / "shared" / "data" / "gaitpdb"
    if args.skip_gaitpdb:
        result["gaitpdb"] = {"skipped": "--skip-gaitpdb"}
    elif not (Path(path) / "demographics.txt").is_file():
        result["gaitpdb"] = {"skipped": f"no gaitpdb folder at {path}"}
        logger.warning("realism: gaitpdb skipped: no demographics.txt in %s", path)
    else:
        gp = load_conf(conf / "gaitpdb")
        windows, labels = gaitpdb_weight_windows(Path(path), gp, 160, args.gaitpdb_stride)
        force_channels = gp["reports"]["physical_baseline"]["force_channels"]
        scores = score_weight_baselines(
            windows, labels, gp["channels"], force_channels, GAITPDB_REGIONS, args.folds, args.fold_seeds, args.scan
        )
        result["gaitpdb"] = {"path": str(path), "windowing": {"length": 160, "stride": args.gaitpdb_stride}, **scores}
        _log_cohort("gaitpdb", scores)
        # Per baseline: is the synthetic ratio at least gaitpdb's (body weight no easier to read than on real insoles)?
        result["synthetic_not_easier_than_gaitpdb"] = {
            name: bool(result["synthetic"][f"{name}_ratio"] >= scores[f"{name}_ratio"]) for name in ("force_line", "ridge")
        }
    result["wall_s"] = time.perf_counter() - start
    logger.info("realism benchmark done in %.1f s", result["wall_s"])
    return result
