"""TaskArrays validation, input transforms and the BatchLoader (coverage, determinism, label presence)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from insole_mtl.training.data import (
    BatchLoader,
    StandardiseChannels,
    TaskArrays,
    UnpackRecurrencePlots,
    default_input_transform,
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
    with pytest.raises(ValueError, match=re.escape("TaskArrays.inputs must be (n, C, L) raw windows or (n, C, L, P)")):
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


def test_standardise_channels_fit_exact() -> None:
    inputs = np.array([[[1.0, 3.0], [5.0, 5.0]], [[1.0, 3.0], [5.0, 5.0]]], dtype=np.float32)  # (2, 2, 2)
    transform = StandardiseChannels.fit(inputs, chunk=1)
    assert transform.mean.tolist() == [2.0, 5.0]
    assert transform.std.tolist() == [1.0, 1.0]  # channel 1 is constant -> std 1
    out = transform(torch.from_numpy(inputs))
    assert out[0].tolist() == [[-1.0, 1.0], [0.0, 0.0]]
    with pytest.raises(ValueError, match=re.escape("StandardiseChannels expects (b, 2, L), got (1, 3, 2)")):
        transform(torch.zeros(1, 3, 2))


def test_default_input_transform() -> None:
    assert isinstance(default_input_transform(np.zeros((2, 3, 8, 1), np.uint8)), UnpackRecurrencePlots)
    assert default_input_transform(np.zeros((2, 3, 8, 1), np.uint8)).length == 8
    assert isinstance(default_input_transform(np.ones((2, 3, 8), np.float32)), StandardiseChannels)
    assert default_input_transform(np.ones((2, 3, 8), np.float32), fit=False) is to_float
    with pytest.raises(ValueError, match=re.escape("no default input transform for inputs of shape (2, 3, 8, 1) and dtype float32")):
        default_input_transform(np.zeros((2, 3, 8, 1), np.float32))


def test_unpack_transform_matches_encoder() -> None:
    recurrence = pytest.importorskip("insole_mtl.encoding.recurrence")
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, size=(3, 2, 8, 8)).astype(np.uint8)
    packed = np.packbits(bits, axis=-1)  # (3, 2, 8, 1)
    expected = recurrence.unpack_recurrence_plots_torch(torch.from_numpy(packed), 8)
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
