"""The closed-form force prior: exact features, the subject-weighted ridge, fitting, and the model's weight output."""

import pickle
import re

import numpy as np
import pytest
import torch

from insole_mtl.models import TaskSpec, build_model, rebuild_model
from insole_mtl.models.force_prior import (
    ForcePrior,
    choose_alpha,
    fit_weighted_ridge,
    force_prior_features_numpy,
    subject_folds,
    subject_mae,
)

TASKS = [TaskSpec("activity", "classification", 2), TaskSpec("weight", "regression", 1)]


def _cohort(subjects: int = 12, per_subject: int = 5, seed: int = 0):
    """Windows (n, 3, 20) whose two force channels scale with each subject's weight; channel 1 is not force."""
    rng = np.random.default_rng(seed)
    names = np.repeat([f"s{i}" for i in range(subjects)], per_subject)
    weight = np.repeat(rng.uniform(50.0, 90.0, subjects), per_subject)
    windows = rng.uniform(0.5, 1.5, (len(names), 3, 20)) * weight[:, None, None]
    windows[:, 1] = rng.normal(0.0, 100.0, (len(names), 20))
    return windows.astype(np.float32), weight, names


def test_features_are_the_mean_and_coefficient_of_variation_of_the_summed_force_channels():
    windows = np.array([[[1.0, 3.0, 1.0, 3.0], [9.0, 9.0, 9.0, 9.0], [1.0, 1.0, 1.0, 1.0]]], dtype=np.float32)
    # channels 0 + 2: total [2, 4, 2, 4], mean 3, std 1 -> cv 1/3; channel 1 is not summed
    np.testing.assert_allclose(force_prior_features_numpy(windows, [0, 2]), [[3.0, 1.0 / 3.0]])
    prior = ForcePrior([0, 2])
    np.testing.assert_allclose(prior.features(torch.from_numpy(windows)).numpy(), [[3.0, 1.0 / 3.0]], rtol=1e-6)
    empty = np.zeros((1, 3, 4), np.float32)  # no force: cv 0, not a division by zero
    np.testing.assert_array_equal(force_prior_features_numpy(empty, [0, 2]), [[0.0, 0.0]])
    np.testing.assert_array_equal(prior.features(torch.from_numpy(empty)).numpy(), [[0.0, 0.0]])


def test_the_ridge_weights_every_subject_once():
    # subject a: 3 windows at x = 0, y = 0; subject b: 1 window at x = 1, y = 2. Unweighted least squares would put the
    # mean at x = 0.25; weighted, both subjects count once, so the line runs through (0, 0) and (1, 2) exactly
    x = np.array([[0.0], [0.0], [0.0], [1.0]])
    y = np.array([0.0, 0.0, 0.0, 2.0])
    loc, scale, coef, intercept = fit_weighted_ridge(x, y, np.array(["a", "a", "a", "b"]), alpha=0.0)
    predicted = intercept + ((np.array([[0.0], [1.0]]) - loc) / scale) @ coef
    np.testing.assert_allclose(predicted, [0.0, 2.0], atol=1e-12)
    # a penalty shrinks the slope towards 0 (the weighted mean, 1.0, is where it shrinks to)
    loc, scale, coef_shrunk, intercept = fit_weighted_ridge(x, y, np.array(["a", "a", "a", "b"]), alpha=1e6)
    assert abs(coef_shrunk[0]) < 1e-5 and intercept == pytest.approx(1.0, abs=1e-4)


def test_folds_are_subject_disjoint_and_cover_every_subject_once():
    subjects = np.repeat([f"S{i:03d}" for i in range(23)], 4)
    folds = subject_folds(subjects, 5, seed=0)
    assert len(folds) == 5
    held = np.concatenate(folds)
    assert sorted(held) == sorted(set(subjects)) and len(held) == 23  # each subject held out exactly once
    assert all(len(set(a) & set(b)) == 0 for i, a in enumerate(folds) for b in folds[i + 1 :])
    assert [len(f) for f in folds] == [5, 5, 5, 4, 4]
    # Depends on the set of subjects and the seed only (not on window order); another seed, other folds.
    again = subject_folds(subjects[::-1], 5, seed=0)
    assert [sorted(f) for f in again] == [sorted(f) for f in folds]
    assert [sorted(f) for f in subject_folds(subjects, 5, seed=1)] != [sorted(f) for f in folds]
    with pytest.raises(ValueError, match=re.escape("subject folds: 3 subjects cannot be cut into 5 folds")):
        subject_folds(["a", "b", "c"], 5, seed=0)


def test_subject_mae_averages_each_subject_first():
    # a: windows 1, 3 (truth 2) -> mean error 0; b: one window 5 (truth 2) -> 3; mean over subjects 1.5 (per window: 1.67)
    assert subject_mae(np.array(["a", "a", "b"]), np.array([2.0, 2.0, 2.0]), np.array([1.0, 3.0, 5.0])) == 1.5


def test_alpha_is_chosen_on_the_training_subjects_and_reproducible():
    windows, weight, subjects = _cohort()
    x = force_prior_features_numpy(windows, [0, 2])
    assert choose_alpha(x, weight, subjects, seed=0) == choose_alpha(x, weight, subjects, seed=0)
    assert choose_alpha(x[:10], weight[:10], subjects[:10]) == 1.0  # 2 subjects: no inner folds


def test_fit_reads_the_weight_of_unseen_windows_and_ignores_windows_without_one():
    windows, weight, subjects = _cohort()
    labelled = weight.copy()
    labelled[:5] = np.nan  # subject s0 has no weight: not fitted on
    prior = ForcePrior([0, 2])
    summary = prior.fit(windows, labelled, subjects)
    assert summary["subjects"] == 11 and summary["windows"] == 55 and summary["features"] == ["mean", "cv"]
    test_windows, test_weight, _ = _cohort(seed=1)
    # per subject (the mean of its 5 windows' estimates), against the mean predictor
    error = np.abs((prior(torch.from_numpy(test_windows)).numpy() - test_weight).reshape(-1, 5).mean(axis=1))
    assert error.mean() < 0.25 * np.abs(test_weight - test_weight.mean()).reshape(-1, 5)[:, 0].mean()


def test_fit_errors_name_what_is_wrong():
    windows, weight, subjects = _cohort()
    with pytest.raises(ValueError, match=re.escape("force prior: 1 training subject(s) with a weight; expected at least 2")):
        ForcePrior([0]).fit(windows[:5], weight[:5], subjects[:5])
    with pytest.raises(ValueError, match=re.escape("force prior: channel positions [0, 3] beyond the windows' 3 channels")):
        ForcePrior([0, 3]).fit(windows, weight, subjects)
    with pytest.raises(ValueError, match=re.escape("force prior: channels must be distinct non-negative positions, got [1, 1]")):
        ForcePrior([1, 1])


def test_an_attached_prior_gives_predict_its_task_and_leaves_forward_alone():
    windows, weight, subjects = _cohort()
    model = build_model("cnn1d", 3, TASKS, width=4).eval()
    x = torch.from_numpy(windows)
    with torch.no_grad():
        before_forward, before = model(x), model.predict(x)
    prior = ForcePrior([0, 2])
    with pytest.raises(ValueError, match=re.escape("attach_force_prior: the prior is not fitted")):
        model.attach_force_prior(prior)
    prior.fit(windows, weight, subjects)
    model.attach_force_prior(prior)
    with torch.no_grad():
        after_forward, after = model(x), model.predict(x)
    torch.testing.assert_close(after["weight"], prior(x))
    torch.testing.assert_close(after["activity"], before["activity"])
    for name in before_forward:
        torch.testing.assert_close(after_forward[name], before_forward[name])
    assert not torch.allclose(after["weight"], before["weight"])
    # a checkpoint-style copy and a rebuild by today's code keep it
    for copy in (pickle.loads(pickle.dumps(model)), rebuild_model(model)):
        with torch.no_grad():
            torch.testing.assert_close(copy.predict(x)["weight"], after["weight"])
        assert copy.force_prior.fit_summary == prior.fit_summary


def test_a_prior_needs_the_raw_window_and_a_regression_task():
    windows, weight, subjects = _cohort()
    prior = ForcePrior([0, 2])
    prior.fit(windows, weight, subjects)
    plots_only = build_model("mobilenetv2", 3, TASKS, bottlenecks=3, amplitude_features=False)
    message = "a force prior reads the raw window: use a raw-signal model or model.options.amplitude_features: true"
    with pytest.raises(ValueError, match=re.escape(message)):
        plots_only.attach_force_prior(prior)
    other = ForcePrior([0, 2], task="activity")
    other.fit_summary = {}
    with pytest.raises(ValueError, match=re.escape("force prior task 'activity' is not a regression task of this model: ['weight']")):
        build_model("cnn1d", 3, TASKS, width=4).attach_force_prior(other)
