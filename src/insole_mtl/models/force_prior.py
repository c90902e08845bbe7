"""A physical body-weight estimate from the raw window, fitted in closed form: the model's optional weight output.

Why: on real insoles every network trained here reads body weight worse than the one-parameter calibrated
mean-force line (gaitpdb out of fold: 7.29 kg against 6.90), because with one label per subject and ~70
training subjects it learns the training subjects' force patterns by heart. Two numbers of the summed force
channels of a window carry most of what can be read:

* ``mean``: the time mean of the total force (the calibrated line's input; insoles read body weight x g x a
  per-insole gain);
* ``cv``: its coefficient of variation over time, ``std / mean`` (ddof 0; 0 for a window without force),
  a shape feature unchanged by the insole's gain.

``weight = intercept + coef . (features - loc) / scale``: a ridge regression fitted on the windows of training
subjects with a weight (the training node passes its training and validation splits, never the test subjects; each
subject's windows weighted ``1 / their number``, so every subject counts once), the penalty chosen among
:data:`RIDGE_ALPHAS` by a subject-wise K-fold over those subjects only. Everything
is a buffer, so a checkpoint, ``insole_infer`` and the ONNX exports carry it and nothing is re-fitted on new data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

#: the features, in order
FORCE_PRIOR_FEATURES: tuple[str, ...] = ("mean", "cv")
#: ridge penalties tried by the inner subject-wise cross-validation (on standardised features)
RIDGE_ALPHAS: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)
#: inner folds over the training subjects (fewer when there are fewer than 3 subjects a fold)
INNER_FOLDS = 5
_MIN_INNER_FOLD_SUBJECTS = 3


def force_prior_features_numpy(windows: np.ndarray, channels: Sequence[int], chunk: int = 4096) -> np.ndarray:
    """``(n, C, L)`` raw windows (may be a memory map) -> float64 ``(n, 2)``: mean and cv of the summed ``channels``."""
    windows = windows if isinstance(windows, np.ndarray) else np.asarray(windows)
    if windows.ndim != 3:
        raise ValueError(f"force prior: windows have shape {windows.shape}; expected (n, channels, length)")
    parts = []
    for start in range(0, windows.shape[0], chunk):
        total = np.asarray(windows[start : start + chunk][:, list(channels), :], dtype=np.float64).sum(axis=1)
        mean = total.mean(axis=1)
        std = total.std(axis=1)
        cv = np.divide(std, mean, out=np.zeros_like(std), where=mean > 0)
        parts.append(np.stack([mean, cv], axis=1))
    return np.concatenate(parts) if parts else np.zeros((0, len(FORCE_PRIOR_FEATURES)))


def subject_weights(subjects: np.ndarray) -> np.ndarray:
    """``(n,)`` window weights ``1 / (windows of the window's subject)``: every subject counts once."""
    _, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
    return 1.0 / counts[inverse]


def subject_folds(subjects: Sequence[str] | np.ndarray, n_folds: int, seed: int) -> list[np.ndarray]:
    """Held-out subject ids of each of ``n_folds`` subject-disjoint folds covering every subject once.

    ``KFold(n_folds, shuffle=True, random_state=seed)`` over the sorted unique ids (so the folds depend only on
    the set of subjects and the seed, not on window order).
    """
    from sklearn.model_selection import KFold

    unique = np.array(sorted(set(np.asarray(subjects).astype(str).tolist())), dtype=object)
    if n_folds < 2 or len(unique) < n_folds:
        raise ValueError(
            f"subject folds: {len(unique)} subjects cannot be cut into {n_folds} folds (need folds >= 2, subjects >= folds)"
        )
    return [unique[held] for _, held in KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(unique)]


class RidgeFit(NamedTuple):
    """A fitted :func:`fit_weighted_ridge`: ``predict(x) = intercept + ((x - loc) / scale) @ coef``."""

    loc: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """``(n, k)`` features -> ``(n,)`` predictions."""
        return self.intercept + ((np.asarray(x, dtype=np.float64) - self.loc) / self.scale) @ self.coef


def fit_weighted_ridge(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, alpha: float) -> RidgeFit:
    """scikit-learn ``Ridge(alpha)`` on ``z``, ``x (n, k)`` standardised by ``StandardScaler`` (plain mean and std over
    the windows, ddof 0; scale 1 where a feature is constant), every subject's windows weighted ``1 / their number``
    (:func:`subject_weights`), intercept not penalised: ``sum w (y - b - z.coef)^2 + alpha |coef|^2``."""
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    x = np.asarray(x, dtype=np.float64)
    scaler = StandardScaler().fit(x)
    ridge = Ridge(alpha=alpha).fit(scaler.transform(x), np.asarray(y, dtype=np.float64), sample_weight=subject_weights(subjects))
    return RidgeFit(scaler.mean_, scaler.scale_, ridge.coef_, float(ridge.intercept_))


def subject_mae(subjects: np.ndarray, truth: np.ndarray, predicted: np.ndarray) -> float:
    """Mean over subjects of ``|mean of the subject's predictions - mean of its truths|``."""
    _, inverse = np.unique(np.asarray(subjects).astype(str), return_inverse=True)
    counts = np.bincount(inverse)
    error = (np.bincount(inverse, weights=predicted) - np.bincount(inverse, weights=truth)) / counts
    return float(np.abs(error).mean())


def choose_alpha(x: np.ndarray, y: np.ndarray, subjects: np.ndarray, seed: int = 0, n_folds: int = INNER_FOLDS) -> float:
    """The :data:`RIDGE_ALPHAS` value of lowest :func:`subject_mae` over an inner :func:`subject_folds` K-fold of
    the training subjects (``min(n_folds, subjects // 3)`` folds); 1.0 when too few subjects for two folds."""
    n_inner = min(n_folds, len(set(np.asarray(subjects).tolist())) // _MIN_INNER_FOLD_SUBJECTS)
    if n_inner < 2:
        return 1.0
    scores = np.zeros(len(RIDGE_ALPHAS))
    for held in subject_folds(subjects, n_inner, seed):
        test = np.isin(subjects, held)
        for i, alpha in enumerate(RIDGE_ALPHAS):
            fit = fit_weighted_ridge(x[~test], y[~test], subjects[~test], alpha)
            scores[i] += subject_mae(subjects[test], y[test], fit.predict(x[test]))
    return float(RIDGE_ALPHAS[int(np.argmin(scores))])


class ForcePrior(nn.Module):
    """Raw windows ``(b, C, L)`` in sensor units -> body weight ``(b,)`` in the target's unit (module docstring).

    Args:
        channels: positions of the force channels on the window's channel axis (summed).
        task: the regression task it predicts (``weight``).
    """

    channel_index: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor
    coef: torch.Tensor
    intercept: torch.Tensor

    def __init__(self, channels: Sequence[int], task: str = "weight") -> None:
        super().__init__()
        channels = [int(c) for c in channels]
        if not channels or min(channels) < 0 or len(set(channels)) != len(channels):
            raise ValueError(f"force prior: channels must be distinct non-negative positions, got {channels}")
        self.task = str(task)
        k = len(FORCE_PRIOR_FEATURES)
        self.register_buffer("channel_index", torch.as_tensor(channels, dtype=torch.long))
        self.register_buffer("loc", torch.zeros(k, dtype=torch.float32))
        self.register_buffer("scale", torch.ones(k, dtype=torch.float32))
        self.register_buffer("coef", torch.zeros(k, dtype=torch.float32))
        self.register_buffer("intercept", torch.zeros((), dtype=torch.float32))
        #: what :meth:`fit` chose and saw (JSON-serialisable); None until fitted
        self.fit_summary: dict | None = None

    @property
    def channels(self) -> list[int]:
        return [int(c) for c in self.channel_index.tolist()]

    def fit(self, windows: np.ndarray, weight: np.ndarray, subjects: np.ndarray, seed: int = 0) -> dict:
        """Fit on the TRAINING windows ``(n, C, L)`` and their per-window ``weight`` (NaN = none) and ``subjects``.

        Raises:
            ValueError: fewer than two subjects with a weight, or a channel position beyond the window's channels.
        """
        windows = windows if isinstance(windows, np.ndarray) else np.asarray(windows)
        if windows.ndim != 3:
            raise ValueError(f"force prior: windows have shape {windows.shape}; expected (n, channels, length)")
        if max(self.channels) >= windows.shape[1]:
            raise ValueError(f"force prior: channel positions {self.channels} beyond the windows' {windows.shape[1]} channels")
        return self.fit_features(force_prior_features_numpy(windows, self.channels), weight, subjects, seed)

    def fit_features(self, features: np.ndarray, weight: np.ndarray, subjects: np.ndarray, seed: int = 0) -> dict:
        """:meth:`fit` from precomputed features ``(n, 2)`` (:func:`force_prior_features_numpy` of this prior's
        channels), e.g. of several splits' windows concatenated."""
        features = np.asarray(features, dtype=np.float64)
        weight = np.asarray(weight, dtype=np.float64)
        subjects = np.asarray(subjects).astype(str)
        if features.shape != (len(weight), len(FORCE_PRIOR_FEATURES)) or len(subjects) != len(weight):
            raise ValueError(f"force prior: expected features (n, 2) with n weights and subjects, got {features.shape}, {len(weight)}, {len(subjects)}")
        keep = np.isfinite(weight)
        x, y, groups = features[keep], weight[keep], subjects[keep]
        n_subjects = len(set(groups.tolist()))
        if n_subjects < 2:
            raise ValueError(f"force prior: {n_subjects} training subject(s) with a {self.task}; expected at least 2")
        alpha = choose_alpha(x, y, groups, seed)
        loc, scale, coef, intercept = fit_weighted_ridge(x, y, groups, alpha)
        with torch.no_grad():
            self.loc.copy_(torch.as_tensor(loc, dtype=torch.float32))
            self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
            self.coef.copy_(torch.as_tensor(coef, dtype=torch.float32))
            self.intercept.fill_(intercept)
        self.fit_summary = {
            "task": self.task, "features": list(FORCE_PRIOR_FEATURES), "alpha": alpha,
            "coef_per_feature_sd": [float(c) for c in coef], "intercept": intercept,
            "subjects": int(n_subjects), "windows": int(len(y)),
        }  # fmt: skip
        return self.fit_summary

    def features(self, windows: torch.Tensor) -> torch.Tensor:
        """``(b, C, L)`` -> ``(b, 2)`` float32: mean and cv of the summed force channels."""
        if windows.ndim != 3:
            raise ValueError(f"force prior expects raw windows (b, C, L), got shape {tuple(windows.shape)}")
        total = windows.float().index_select(1, self.channel_index).sum(dim=1)
        mean = total.mean(dim=-1)
        std = (total - mean[:, None]).square().mean(dim=-1).sqrt()
        positive = mean > 0
        cv = torch.where(positive, std / torch.where(positive, mean, torch.ones_like(mean)), torch.zeros_like(std))
        return torch.stack([mean, cv], dim=1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return ((self.features(windows) - self.loc) / self.scale) @ self.coef + self.intercept
