"""TaskArrays validation, input transforms, the BatchLoader (coverage, determinism, label presence, tuple inputs,
weighted draws) and the input-selection helpers."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from insole_mtl.encoding.recurrence import unpack_recurrence_plots_torch
from insole_mtl.training.data import (
    BatchLoader,
    TaskArrays,
    UnpackRecurrencePlots,
    as_tuple,
    default_input_transform,
    group_balanced_weights,
    is_packed_recurrence_plots,
    select_inputs,
    standardised_targets,
    target_present,
    to_float,
)


def _arrays(n: int = 10) -> TaskArrays:
    inputs = np.arange(n * 3 * 4, dtype=np.float32).reshape(n, 3, 4)
    speed = np.arange(n, dtype=np.float64)
    speed[n // 2 :] = np.nan  # second half unlabelled
    return TaskArrays(inputs, {"activity": np.arange(n, dtype=np.int64) % 3, "speed": speed})


def _window_ids(x: torch.Tensor) -> list[int]:
    """Recover window indices from the arange inputs (first element = 12 * index)."""
    return [int(v) // 12 for v in x[:, 0, 0].tolist()]


def test_task_arrays_validation() -> None:
    with pytest.raises(ValueError, match=re.escape("TaskArrays.targets['speed'] must have shape (4,) like inputs, got (3,)")):
        TaskArrays(np.zeros((4, 2, 8), np.float32), {"speed": np.zeros(3)})
    msg = "TaskArrays.inputs must be (n, C, L) raw windows or (n, C, H, W) recurrence plots, got shape (4, 8)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        TaskArrays(np.zeros((4, 8), np.float32), {})
    with pytest.raises(TypeError, match=re.escape("TaskArrays.targets['a'] must be integer or float, got dtype <U1")):
        TaskArrays(np.zeros((1, 2, 8), np.float32), {"a": np.array(["x"])})
    assert len(_arrays(7)) == 7


def test_target_present() -> None:
    assert target_present(np.array([0, -1, 2])).tolist() == [True, False, True]
    assert target_present(np.array([0.5, np.nan])).tolist() == [True, False]


def test_loader_covers_every_window_once_per_epoch_and_is_deterministic() -> None:
    arrays = _arrays(10)
    loader = BatchLoader(arrays, 3, shuffle=True, seed=5)
    assert len(loader) == 4
    seen_per_epoch = []
    for epoch in range(3):
        loader.set_epoch(epoch)
        ids = [i for x, _ in loader for i in _window_ids(x)]
        assert sorted(ids) == list(range(10))
        seen_per_epoch.append(ids)
    assert seen_per_epoch[0] != seen_per_epoch[1]  # reshuffled each epoch
    again = BatchLoader(arrays, 3, shuffle=True, seed=5)
    again.set_epoch(1)
    assert [i for x, _ in again for i in _window_ids(x)] == seen_per_epoch[1]
    # the loader's order does not depend on the global RNG
    torch.manual_seed(123)
    again.set_epoch(0)
    assert [i for x, _ in again for i in _window_ids(x)] == seen_per_epoch[0]


def test_loader_without_shuffle_targets_and_dtypes() -> None:
    loader = BatchLoader(_arrays(10), 4, shuffle=False, prefetch=False)
    batches = list(loader)
    x, targets = batches[0]
    assert x.dtype == torch.float32 and x.shape == (4, 3, 4)
    assert targets["activity"].tolist() == [0, 1, 2, 0] and targets["activity"].dtype == torch.int64
    assert targets["speed"].dtype == torch.float32 and targets["speed"].tolist() == [0.0, 1.0, 2.0, 3.0]
    # last batch (windows 8, 9) has no speed label: the task is dropped, not sent as all-NaN
    assert set(batches[2][1]) == {"activity"}
    assert batches[2][0].shape[0] == 2


def test_loader_drop_last_and_max_batches() -> None:
    assert len(BatchLoader(_arrays(10), 3, drop_last=True)) == 3
    loader = BatchLoader(_arrays(10), 3, shuffle=True, max_batches=2)
    assert len(loader) == 2
    assert sum(x.shape[0] for x, _ in loader) == 6
    with pytest.raises(ValueError, match=re.escape("batch_size must be >= 1, got 0")):
        BatchLoader(_arrays(3), 0)


def test_loader_applies_transform_and_channels_last() -> None:
    arrays = TaskArrays(np.ones((5, 2, 4, 4), np.float32), {"a": np.zeros(5, np.int64)})
    loader = BatchLoader(arrays, 2, input_transform=lambda x: x * 2, channels_last=True)
    x, _ = next(iter(loader))
    assert torch.all(x == 2)
    assert x.is_contiguous(memory_format=torch.channels_last)


_NO_TRANSFORM = (
    "no input transform for inputs of shape {shape} and dtype {dtype}; expected packed uint8 (n, C, L, ceil(L/8)) "
    "plots, (n, C, R, R) recurrence counts or (n, C, L) raw windows"
)


def test_default_input_transform() -> None:
    # packed plots (n, C, L, ceil(L / 8)) uint8 -> unpack with length L
    for length, width in ((8, 1), (9, 2), (16, 2), (160, 20)):
        transform = default_input_transform(np.zeros((2, 3, length, width), np.uint8))
        assert isinstance(transform, UnpackRecurrencePlots) and transform.length == length
    # square recurrence counts (n, C, R, R), uint8 or float -> to_float (the model scales them)
    assert default_input_transform(np.zeros((2, 3, 4, 4), np.uint8)) is to_float
    assert default_input_transform(np.zeros((2, 3, 8, 8), np.uint8)) is to_float  # 8 bytes != ceil(8/8): counts
    assert default_input_transform(np.zeros((2, 3, 2, 2), np.uint8)) is to_float
    assert default_input_transform(np.zeros((2, 3, 4, 4), np.float32)) is to_float
    # raw windows -> to_float (the models standardise them with their own buffers)
    assert default_input_transform(np.ones((2, 3, 8), np.float32)) is to_float
    # a tuple of inputs -> a tuple of transforms, in order
    packed, raw = np.zeros((2, 3, 16, 2), np.uint8), np.ones((2, 3, 16), np.float32)
    both = default_input_transform((packed, raw))
    assert isinstance(both, tuple) and len(both) == 2
    assert isinstance(both[0], UnpackRecurrencePlots) and both[0].length == 16 and both[1] is to_float
    assert default_input_transform((raw,)) == (to_float,)
    for bad in (np.zeros((2, 3, 8, 1), np.float32), np.zeros((2, 3, 8, 3), np.uint8), np.zeros((2, 3), np.float32)):
        with pytest.raises(ValueError, match=re.escape(_NO_TRANSFORM.format(shape=bad.shape, dtype=bad.dtype))):
            default_input_transform(bad)
    with pytest.raises(ValueError, match=re.escape("(2, 3, 8, 1) and dtype float32")):
        default_input_transform((packed, np.zeros((2, 3, 8, 1), np.float32)))


def test_is_packed_recurrence_plots() -> None:
    assert is_packed_recurrence_plots(np.zeros((1, 2, 8, 1), np.uint8))
    assert is_packed_recurrence_plots(np.zeros((1, 2, 17, 3), np.uint8))
    assert not is_packed_recurrence_plots(np.zeros((1, 2, 8, 1), np.float32))
    assert not is_packed_recurrence_plots(np.zeros((1, 2, 4, 4), np.uint8))
    assert not is_packed_recurrence_plots(np.zeros((1, 2, 8), np.uint8))


def test_to_float() -> None:
    x = torch.ones(2, dtype=torch.float32)
    assert to_float(x) is x
    assert to_float(torch.tensor([3], dtype=torch.uint8)).dtype == torch.float32
    assert to_float(torch.tensor([3], dtype=torch.uint8)).tolist() == [3.0]


def test_unpack_transform_matches_encoder() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(3, 2, 8, 8)).astype(np.uint8)
    packed = np.packbits(bits, axis=-1)  # (3, 2, 8, 1)
    expected = unpack_recurrence_plots_torch(torch.from_numpy(packed), 8)
    loader = BatchLoader(TaskArrays(packed, {}), 2, input_transform=UnpackRecurrencePlots(8))
    got = torch.cat([x for x, _ in loader])
    assert got.dtype == torch.float32 and got.shape == (3, 2, 8, 8)
    assert torch.equal(got, expected)


def test_standardised_targets() -> None:
    arrays = standardised_targets(_arrays(4), {"speed": (1.0, 2.0)})
    assert arrays.targets["speed"].dtype == np.float32
    np.testing.assert_array_equal(arrays.targets["speed"], [-0.5, 0.0, np.nan, np.nan])
    np.testing.assert_array_equal(arrays.targets["activity"], [0, 1, 2, 0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("resident", [True, False])
def test_cuda_loader_matches_cpu(resident: bool) -> None:
    arrays = _arrays(10)
    cpu = list(BatchLoader(arrays, 3, shuffle=True, seed=2))
    gpu = list(BatchLoader(arrays, 3, shuffle=True, seed=2, device="cuda", resident=resident))
    assert len(cpu) == len(gpu)
    for (xc, tc), (xg, tg) in zip(cpu, gpu):
        assert xg.device.type == "cuda"
        torch.testing.assert_close(xg.cpu(), xc)
        assert set(tc) == set(tg)
        for k in tc:
            torch.testing.assert_close(tg[k].cpu(), tc[k], equal_nan=True)


# ------------------------------------------------------------------------------------ tuple inputs
def _two_inputs(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 2, 2) "plots" and (n, 2, 4) raw windows whose first element is the window index."""
    plots = np.zeros((n, 3, 2, 2), np.uint8)
    plots[:, 0, 0, 0] = np.arange(n)
    windows = np.zeros((n, 2, 4), np.float32)
    windows[:, 0, 0] = 100 + np.arange(n)
    return plots, windows


def test_task_arrays_with_a_tuple_of_inputs() -> None:
    plots, windows = _two_inputs(5)
    arrays = TaskArrays((plots, windows), {"speed": np.zeros(5)})
    assert len(arrays) == 5
    assert arrays.input_arrays == (plots, windows) and arrays.input_arrays[0] is plots
    single = TaskArrays(windows, {})
    assert single.input_arrays == (windows,) and single.input_arrays[0] is windows
    with pytest.raises(ValueError, match=re.escape("TaskArrays.inputs must have the same number of windows, got [5, 4]")):
        TaskArrays((plots, windows[:4]), {})
    with pytest.raises(ValueError, match=re.escape("TaskArrays.targets['speed'] must have shape (5,) like inputs, got (4,)")):
        TaskArrays((plots, windows), {"speed": np.zeros(4)})
    with pytest.raises(ValueError, match=re.escape("TaskArrays.inputs must hold at least one array, got an empty tuple")):
        TaskArrays((), {})
    with pytest.raises(TypeError, match=re.escape("TaskArrays.inputs[1] must be a numpy array, got list")):
        TaskArrays((plots, windows.tolist()), {})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("got shape (5, 8)")):
        TaskArrays((plots, np.zeros((5, 8), np.float32)), {})


def test_loader_tuple_inputs_yield_tuples_in_order() -> None:
    plots, windows = _two_inputs(6)
    arrays = TaskArrays((plots, windows), {"activity": np.arange(6, dtype=np.int64)})
    loader = BatchLoader(arrays, 4, shuffle=True, seed=3, prefetch=False)
    seen = []
    for x, targets in loader:
        assert isinstance(x, tuple) and len(x) == 2
        p, w = x
        assert p.shape[1:] == (3, 2, 2) and w.shape[1:] == (2, 4)
        assert p.dtype == torch.float32 and w.dtype == torch.float32  # default transform: to_float
        ids = [int(v) for v in p[:, 0, 0, 0].tolist()]
        assert [int(v) - 100 for v in w[:, 0, 0].tolist()] == ids  # same windows in both inputs
        assert targets["activity"].tolist() == ids
        seen.extend(ids)
    assert sorted(seen) == list(range(6))
    # the same seed gives the same order with prefetching on
    again = [int(v) for x, _ in BatchLoader(arrays, 4, shuffle=True, seed=3) for v in x[0][:, 0, 0, 0].tolist()]
    assert again == seen


def test_loader_per_input_transforms_and_channels_last_only_on_4d() -> None:
    plots, windows = _two_inputs(4)
    arrays = TaskArrays((plots, windows), {})
    loader = BatchLoader(arrays, 4, input_transform=(lambda x: x.float() * 2, lambda x: x + 1), channels_last=True)
    (p, w), _ = next(iter(loader))
    assert p[:, 0, 0, 0].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert w[:, 0, 0].tolist() == [101.0, 102.0, 103.0, 104.0]
    assert p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    assert w.ndim == 3 and w.is_contiguous()
    # one transform for a tuple is applied to every input
    (p2, w2), _ = next(iter(BatchLoader(arrays, 4, input_transform=lambda x: x.float() - 1)))
    assert p2[0, 0, 0, 0].item() == -1.0 and w2[0, 0, 0].item() == 99.0
    with pytest.raises(ValueError, match=re.escape("1 input transforms for 2 inputs")):
        BatchLoader(arrays, 2, input_transform=(to_float,))
    with pytest.raises(ValueError, match=re.escape("2 input transforms for 1 inputs")):
        BatchLoader(TaskArrays(windows, {}), 2, input_transform=(to_float, to_float))


def test_as_tuple() -> None:
    x = torch.zeros(2)
    assert as_tuple(x) == (x,) and as_tuple(x)[0] is x
    pair = (torch.zeros(1), torch.ones(1))
    assert as_tuple(pair) is pair


# ---------------------------------------------------------------------------------- weighted draws
def _all_draws(loader: BatchLoader, epochs: range) -> np.ndarray:
    draws = []
    for epoch in epochs:
        loader.set_epoch(epoch)
        draws.extend(np.concatenate(loader.batch_indices()).tolist())
    return np.asarray(draws)


def test_sample_weights_deterministic_per_seed_and_epoch() -> None:
    weights = np.linspace(0.1, 1.0, 10)
    a = BatchLoader(_arrays(10), 3, shuffle=True, seed=4, sample_weights=weights)
    b = BatchLoader(_arrays(10), 3, shuffle=True, seed=4, sample_weights=weights)
    a.set_epoch(2), b.set_epoch(2)
    first = [idx.tolist() for idx in a.batch_indices()]
    torch.manual_seed(99)  # the global RNG does not matter
    assert [idx.tolist() for idx in b.batch_indices()] == first
    assert [idx.tolist() for idx in a.batch_indices()] == first
    a.set_epoch(3)
    assert [idx.tolist() for idx in a.batch_indices()] != first
    c = BatchLoader(_arrays(10), 3, shuffle=True, seed=5, sample_weights=weights)
    c.set_epoch(2)
    assert [idx.tolist() for idx in c.batch_indices()] != first
    # each epoch draws len(arrays) windows, sorted within each batch, and yields those windows
    sizes = [len(idx) for idx in first]
    assert sizes == [3, 3, 3, 1]
    assert all(idx == sorted(idx) for idx in first)
    b.set_epoch(2)
    assert [_window_ids(x) for x, _ in b] == first


def test_sample_weights_draw_with_replacement_in_proportion() -> None:
    n = 20
    weights = np.ones(n)
    weights[3] = 0.0  # never drawn
    weights[7] = 3.0  # three times as often as a weight-1 window
    loader = BatchLoader(_arrays(n), 5, shuffle=True, seed=0, sample_weights=weights)
    draws = _all_draws(loader, range(200))  # 4000 draws
    counts = np.bincount(draws, minlength=n)
    assert counts[3] == 0
    expected = weights / weights.sum() * len(draws)  # 181.8 per weight-1 window, 545.5 for window 7
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 1)
    assert 2.5 < counts[7] / np.mean(np.delete(counts, [3, 7])) < 3.5
    # with replacement: some epoch repeats a window (a permutation never would)
    loader.set_epoch(0)
    epoch0 = np.concatenate(loader.batch_indices())
    assert len(epoch0) == n and len(np.unique(epoch0)) < n


def test_sample_weights_concentrated_on_one_window_dominate() -> None:
    weights = np.full(10, 1e-3)
    weights[6] = 1.0
    loader = BatchLoader(_arrays(10), 4, shuffle=True, seed=1, sample_weights=weights)
    draws = _all_draws(loader, range(20))
    assert np.mean(draws == 6) > 0.95
    # max_batches caps the epoch's draws
    capped = BatchLoader(_arrays(10), 4, shuffle=True, seed=1, sample_weights=weights, max_batches=1)
    assert [len(idx) for idx in capped.batch_indices()] == [4]


def test_sample_weights_without_shuffle_keep_every_window_once() -> None:
    loader = BatchLoader(_arrays(5), 2, shuffle=False, sample_weights=np.array([0.0, 0, 0, 0, 1]))
    assert [idx.tolist() for idx in loader.batch_indices()] == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("weights", "shape"),
    [
        (np.ones(3), (3,)),
        (np.ones((10, 1)), (10, 1)),
        (np.r_[np.ones(9), -1.0], (10,)),
        (np.r_[np.ones(9), np.nan], (10,)),
        (np.r_[np.ones(9), np.inf], (10,)),
        (np.zeros(10), (10,)),
    ],
)
def test_sample_weights_invalid(weights: np.ndarray, shape: tuple[int, ...]) -> None:
    msg = f"sample_weights must be 10 finite non-negative numbers with a positive sum, got shape {shape}"
    with pytest.raises(ValueError, match=re.escape(msg)):
        BatchLoader(_arrays(10), 2, shuffle=True, sample_weights=weights)


def test_bags_lay_each_batch_out_bag_after_bag_from_one_recording() -> None:
    bags = np.array(["r0"] * 4 + ["r1"] * 3 + ["r2"] * 1 + ["r3"] * 2)  # r2 has fewer windows than a bag
    loader = BatchLoader(_arrays(10), 4, shuffle=True, seed=1, bags=bags, bag_size=2)
    batches = loader.batch_indices()
    assert len(batches) == 3 and all(len(idx) == 4 for idx in batches)  # as many windows as without bags
    for idx in batches:
        for bag in idx.reshape(-1, 2):
            assert len(set(bags[bag])) == 1 and list(bag) == sorted(bag)
            if bags[bag[0]] != "r2":
                assert bag[0] != bag[1]  # without replacement where the recording has enough windows
    assert [_window_ids(x) for x, _ in loader] == [idx.tolist() for idx in batches]
    again = BatchLoader(_arrays(10), 4, shuffle=True, seed=1, bags=bags, bag_size=2)
    assert [idx.tolist() for idx in again.batch_indices()] == [idx.tolist() for idx in batches]


def test_bags_are_drawn_with_their_windows_summed_weights() -> None:
    bags = np.repeat(["a", "b", "c"], [2, 2, 6])
    weights = np.array([1.0, 1.0, 0.0, 0.0] + [1 / 3] * 6)  # a: 2, b: 0, c: 2 -> a and c equally, b never
    loader = BatchLoader(_arrays(10), 4, shuffle=True, seed=0, sample_weights=weights, bags=bags, bag_size=2)
    assert sum(len(idx) for idx in loader.batch_indices()) == 12  # 3 batches of 2 bags of 2
    drawn = []
    for epoch in range(300):
        loader.set_epoch(epoch)
        drawn += [bags[idx[0]] for batch in loader.batch_indices() for idx in batch.reshape(-1, 2)]
    counts = {b: drawn.count(b) for b in "abc"}
    assert counts["b"] == 0 and 0.85 < counts["a"] / counts["c"] < 1.15


def test_bag_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=re.escape("bag_size must be in [1, batch_size=4], got 5")):
        BatchLoader(_arrays(10), 4, bag_size=5, bags=np.zeros(10))
    with pytest.raises(ValueError, match=re.escape("bag_size=2 needs bags: one bag id per window (10)")):
        BatchLoader(_arrays(10), 4, bag_size=2)


def test_group_balanced_weights_exact() -> None:
    np.testing.assert_array_equal(group_balanced_weights(np.array(["a", "a", "b"])), [0.5, 0.5, 1.0])
    w = group_balanced_weights(np.array(["s1", "s2", "s1", "s1", "s3", "s2"]))
    np.testing.assert_allclose(w, [1 / 3, 1 / 2, 1 / 3, 1 / 3, 1.0, 1 / 2])
    assert w.dtype == np.float64 and w.sum() == pytest.approx(3.0)  # one unit per group
    # numeric ids are grouped like their string form
    np.testing.assert_array_equal(group_balanced_weights(np.array([7, 7, 9])), [0.5, 0.5, 1.0])
    # every group gets the same share of the total weight
    groups = np.repeat(["a", "b", "c"], [1, 4, 10])
    w = group_balanced_weights(groups)
    assert [w[groups == g].sum() for g in "abc"] == pytest.approx([1.0, 1.0, 1.0])


def test_group_balanced_weights_synthetic_windows() -> None:
    groups = np.array(["a", "a", "b", "b", "b", "a"])
    synthetic = np.array([False, False, False, False, False, True])
    # real: a -> 1/2 (two real windows), b -> 1/3; synthetic: mean real weight (1 + 1) / 5 = 0.4
    np.testing.assert_allclose(group_balanced_weights(groups, synthetic), [0.5, 0.5, 1 / 3, 1 / 3, 1 / 3, 0.4])
    np.testing.assert_array_equal(group_balanced_weights(np.array(["a", "b"]), np.array([True, True])), [1.0, 1.0])
    assert group_balanced_weights(np.array([], dtype=str)).shape == (0,)


def test_group_balanced_weights_with_classes_balance_classes_over_subjects() -> None:
    # subjects a (2 windows), b, c -> 1/2, 1/2, 1, 1 (sum 3); class 0 holds a and b (total 2), class 1 holds c (1):
    # each class is scaled to 3 / 2, the subjects of a class stay equal
    w = group_balanced_weights(np.array(["a", "a", "b", "c"]), classes=np.array([0, 0, 0, 1]))
    np.testing.assert_allclose(w, [0.375, 0.375, 0.75, 1.5])
    assert w.sum() == pytest.approx(3.0)
    # one class: nothing changes
    groups = np.array(["a", "a", "b"])
    np.testing.assert_array_equal(group_balanced_weights(groups, classes=np.array([1, 1, 1])), group_balanced_weights(groups))


def test_group_balanced_weights_refuses_classes_of_another_length() -> None:
    with pytest.raises(ValueError, match=re.escape("classes must give one class per window: 2 for 3 windows")):
        group_balanced_weights(np.array(["a", "a", "b"]), classes=np.array([0, 1]))


def test_select_inputs() -> None:
    plots, windows = np.zeros((4, 2, 8, 1), np.uint8), np.zeros((4, 2, 8), np.float32)
    assert select_inputs(("recurrence_plots",), plots, windows, "train") is plots
    assert select_inputs(("windows",), plots, windows, "train") is windows
    both = select_inputs(("recurrence_plots", "windows"), plots, windows, "train")
    assert isinstance(both, tuple) and both[0] is plots and both[1] is windows
    reverse = select_inputs(("windows", "recurrence_plots"), plots, windows, "train")
    assert reverse[0] is windows and reverse[1] is plots
    # a raw-window model does not need plots at all
    no_plots = np.zeros((0, 2, 8, 1), np.uint8)
    assert select_inputs(("windows",), no_plots, windows, "val") is windows
    msg = (
        "val: 0 recurrence plots for 4 windows; the encoding stage encodes plots only for models that read "
        "them (model.name)"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        select_inputs(("recurrence_plots", "windows"), no_plots, windows, "val")
    with pytest.raises(ValueError, match=re.escape("test: 3 recurrence plots for 4 windows")):
        select_inputs(("recurrence_plots",), plots[:3], windows, "test")
