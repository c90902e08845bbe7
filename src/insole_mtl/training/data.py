"""Inputs + labels of one split, input transforms, and a fast deterministic batch loader.

The loader is deliberately not a ``torch.utils.data.DataLoader``: the whole split is one NumPy
array (bit-packed recurrence plots ``(n, C, L, P)`` uint8, 44.8 KB per window, or raw windows
``(n, C, L)`` float32), so a batch is one fancy-index gather. Worker processes would only add
pickling and start-up cost. What it does instead:

* shuffles with its own ``torch.Generator`` seeded with ``seed + epoch`` (same order for the same
  seed and epoch, independent of the global RNG the model and the loss weighting use);
* on CUDA keeps the packed split resident on the GPU when it fits (``resident="auto"``) — a batch is
  then an on-device ``index_select`` and no host->device traffic at all; otherwise it gathers on the
  host in a background thread into pinned memory and copies with ``non_blocking=True``;
* applies the input transform ON THE DEVICE after the transfer (the RP unpack multiplies the bytes
  by 8, so unpacking after the copy moves 8× less data), then optionally ``channels_last``;
* yields for each batch only the tasks that have at least one labelled window, decided from the
  host copy of the labels so the loss never needs a device->host sync to find that out.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

logger = logging.getLogger(__name__)

InputTransform = Callable[[Tensor], Tensor]

#: share of the free GPU memory the resident copy of a split may take (``resident="auto"``)
RESIDENT_MAX_FRACTION = 0.3


@dataclass
class TaskArrays:
    """Inputs and labels of one split, aligned on the first axis.

    Attributes:
        inputs: packed recurrence plots ``(n, C, L, P)`` uint8 (``P = ceil(L / 8)`` bytes per row)
            or raw windows ``(n, C, L)`` float32. May be a read-only memory map.
        targets: task name -> ``(n,)`` labels: int64 class ids (``-1`` = unlabelled) for
            classification, float (NaN = unlabelled; physical units, e.g. km/h and kg) for regression.
    """

    inputs: np.ndarray
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, np.ndarray):
            raise TypeError(f"TaskArrays.inputs must be a numpy array, got {type(self.inputs).__name__}")
        if self.inputs.ndim not in (3, 4):
            raise ValueError(
                f"TaskArrays.inputs must be (n, C, L) raw windows or (n, C, L, P) packed plots, got shape {self.inputs.shape}"
            )
        n = self.inputs.shape[0]
        for name, values in self.targets.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"TaskArrays.targets[{name!r}] must have shape ({n},) like inputs, got {values.shape}")
            if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
                raise TypeError(f"TaskArrays.targets[{name!r}] must be integer or float, got dtype {values.dtype}")

    def __len__(self) -> int:
        return int(self.inputs.shape[0])


def target_present(values: np.ndarray) -> np.ndarray:
    """Boolean ``(n,)`` mask of labelled windows: class id ``>= 0`` or non-NaN float."""
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        return values >= 0
    return ~np.isnan(values)


# --------------------------------------------------------------------------------------------------
# Input transforms (run on the training device, on a whole batch)
# --------------------------------------------------------------------------------------------------
class UnpackRecurrencePlots:
    """Packed uint8 ``(b, C, L, P)`` -> float ``(b, C, L, length)`` in {0, 1}.

    Delegates to :func:`insole_mtl.encoding.recurrence.unpack_recurrence_plots_torch` so the bit
    order is the one the encoder wrote.
    """

    def __init__(self, length: int, dtype: torch.dtype = torch.float32) -> None:
        if length < 1:
            raise ValueError(f"recurrence plot length must be >= 1, got {length}")
        self.length = int(length)
        self.dtype = dtype

    def __call__(self, x: Tensor) -> Tensor:
        from insole_mtl.encoding.recurrence import unpack_recurrence_plots_torch

        return unpack_recurrence_plots_torch(x, self.length, dtype=self.dtype)

    def __repr__(self) -> str:
        return f"UnpackRecurrencePlots(length={self.length}, dtype={self.dtype})"


class StandardiseChannels:
    """Raw windows ``(b, C, L)`` -> ``(x - mean[c]) / std[c]`` float32, statistics from the training split.

    The recurrence plot is invariant to per-window affine rescaling (SPEC §3), so this matters only
    for the raw-signal baselines (LSTM/GRU), whose inputs mix accelerometer units (about ±40) and
    FSR readings (hundreds).
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        std = np.asarray(std, dtype=np.float64).reshape(-1)
        if mean.shape != std.shape:
            raise ValueError(f"mean and std must have the same shape, got {mean.shape} and {std.shape}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValueError(f"std must be finite and > 0 per channel, got mean={mean}, std={std}")
        self.mean = mean
        self.std = std
        self._cache: dict[torch.device, tuple[Tensor, Tensor]] = {}

    @classmethod
    def fit(cls, inputs: np.ndarray, chunk: int = 4096) -> StandardiseChannels:
        """Per-channel mean and std (float64, over windows and time) of raw windows ``(n, C, L)``.

        A constant channel gets std 1 (it then maps to 0) instead of a division by zero.
        """
        if inputs.ndim != 3 or inputs.shape[0] == 0:
            raise ValueError(f"StandardiseChannels.fit expects non-empty raw windows (n, C, L), got shape {inputs.shape}")
        c = inputs.shape[1]
        total, sq, count = np.zeros(c), np.zeros(c), 0
        for start in range(0, inputs.shape[0], chunk):  # chunked: the split may be a memory map
            block = np.asarray(inputs[start : start + chunk], dtype=np.float64)
            total += block.sum(axis=(0, 2))
            sq += np.square(block).sum(axis=(0, 2))
            count += block.shape[0] * block.shape[2]
        mean = total / count
        var = np.maximum(sq / count - mean**2, 0.0)
        std = np.sqrt(var)
        std[~(std > 1e-12)] = 1.0
        return cls(mean, std)

    def __call__(self, x: Tensor) -> Tensor:
        if x.ndim != 3 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"StandardiseChannels expects (b, {self.mean.shape[0]}, L), got {tuple(x.shape)}")
        if x.device not in self._cache:
            self._cache[x.device] = (
                torch.as_tensor(self.mean, dtype=torch.float32, device=x.device)[None, :, None],
                torch.as_tensor(1.0 / self.std, dtype=torch.float32, device=x.device)[None, :, None],
            )
        mean, inv_std = self._cache[x.device]
        return (x.float() - mean) * inv_std

    def __getstate__(self) -> dict:
        return {"mean": self.mean, "std": self.std}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["mean"], state["std"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"StandardiseChannels(channels={self.mean.shape[0]})"


def to_float(x: Tensor) -> Tensor:
    """Identity transform for inputs that are already model-ready (cast to float32)."""
    return x if x.dtype == torch.float32 else x.float()


def default_input_transform(inputs: np.ndarray, *, fit: bool = True) -> InputTransform:
    """The transform a split's inputs need.

    Args:
        inputs: packed plots ``(n, C, L, P)`` uint8 -> :class:`UnpackRecurrencePlots` with
            ``length = L``; raw windows ``(n, C, L)`` -> :class:`StandardiseChannels` fitted on
            ``inputs`` when ``fit`` (pass the TRAINING inputs) else the identity.
    """
    if inputs.ndim == 4 and inputs.dtype == np.uint8:
        return UnpackRecurrencePlots(length=inputs.shape[2])
    if inputs.ndim == 3:
        return StandardiseChannels.fit(inputs) if fit else to_float
    raise ValueError(
        f"no default input transform for inputs of shape {inputs.shape} and dtype {inputs.dtype}; "
        "expected packed uint8 (n, C, L, P) or raw (n, C, L)"
    )


# --------------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------------
def _resolve_device(device: str | torch.device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


class BatchLoader:
    """Iterate ``(x, targets)`` batches of a :class:`TaskArrays` on a device.

    Args:
        arrays: the split.
        batch_size: windows per batch (the last batch may be smaller unless ``drop_last``).
        device: where batches are produced (``"cpu"``, ``"cuda"``, ...).
        input_transform: applied on the device to each input batch (e.g. RP unpacking); None =
            cast to float32.
        shuffle: random order per epoch from ``torch.Generator().manual_seed(seed + epoch)``.
        seed: base seed of the order.
        channels_last: convert 4-D input batches to ``torch.channels_last``.
        drop_last: drop the final incomplete batch.
        max_batches: cap on batches per epoch (a different random subset each epoch when shuffling).
        resident: keep the inputs on the device (``"auto"``: on CUDA when they take less than
            30 % of the free GPU memory; True/False to force). On CPU the inputs are never copied.
        prefetch: gather the next batch in a background thread while the current one is used.

    Yields:
        ``x``: transformed input batch on ``device``; ``targets``: task -> ``(b,)`` tensor on
        ``device`` (int64 class ids, float32 regression), containing only the tasks with at least
        one labelled window in this batch. Within a batch the windows are in increasing index order
        (sequential memory reads; the set of windows is what the seed decides).
    """

    def __init__(
        self,
        arrays: TaskArrays,
        batch_size: int,
        *,
        device: str | torch.device = "cpu",
        input_transform: InputTransform | None = None,
        shuffle: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        drop_last: bool = False,
        max_batches: int | None = None,
        resident: bool | str = "auto",
        prefetch: bool = True,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_batches is not None and max_batches < 1:
            raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}")
        if resident not in (True, False, "auto"):
            raise ValueError(f"resident must be True, False or 'auto', got {resident!r}")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.device = _resolve_device(device)
        self.input_transform = input_transform or to_float
        self.shuffle = shuffle
        self.seed = int(seed)
        self.channels_last = channels_last
        self.drop_last = drop_last
        self.max_batches = max_batches
        self.prefetch = prefetch
        self.epoch = 0
        self._host_targets = {
            name: np.ascontiguousarray(v, dtype=np.int64 if np.issubdtype(np.asarray(v).dtype, np.integer) else np.float32)
            for name, v in arrays.targets.items()
        }
        self._host_present = {name: target_present(v) for name, v in self._host_targets.items()}
        self._resident_inputs: Tensor | None = None
        self._device_targets: dict[str, Tensor] | None = None
        if self.device.type != "cpu":
            self._device_targets = {k: torch.from_numpy(v).to(self.device) for k, v in self._host_targets.items()}
            if self._want_resident(resident):
                self._resident_inputs = self._upload(arrays.inputs)

    # -- setup ---------------------------------------------------------------------------------------
    def _want_resident(self, resident: bool | str) -> bool:
        if resident is False:
            return False
        if resident is True:
            return True
        if self.device.type != "cuda":  # "auto"
            return False
        free, _ = torch.cuda.mem_get_info(self.device)
        return self.arrays.inputs.nbytes < RESIDENT_MAX_FRACTION * free

    def _upload(self, inputs: np.ndarray, chunk: int = 8192) -> Tensor:
        out = torch.empty(inputs.shape, dtype=torch.from_numpy(np.empty(0, dtype=inputs.dtype)).dtype, device=self.device)
        for start in range(0, inputs.shape[0], chunk):  # chunked: the split may be a read-only memory map
            out[start : start + chunk].copy_(torch.from_numpy(np.ascontiguousarray(inputs[start : start + chunk])))
        logger.info("kept %d windows (%.1f MB) resident on %s", inputs.shape[0], inputs.nbytes / 1e6, self.device)
        return out

    # -- iteration -----------------------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Select the order of the next iteration (``seed + epoch``)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.arrays)
        batches = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return batches if self.max_batches is None else min(batches, self.max_batches)

    def batch_indices(self) -> list[np.ndarray]:
        """The sorted window indices of each batch of the current epoch."""
        n = len(self.arrays)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).numpy()
        else:
            order = np.arange(n)
        return [np.sort(order[i * self.batch_size : (i + 1) * self.batch_size]) for i in range(len(self))]

    def _host_batch(self, idx: np.ndarray) -> Tensor | None:
        """Gather one input batch on the host (pinned for CUDA); None when inputs are resident."""
        if self._resident_inputs is not None:
            return None
        x = torch.from_numpy(np.ascontiguousarray(self.arrays.inputs[idx]))
        if self.device.type == "cuda":
            x = x.pin_memory()
        return x

    def _finish(self, idx: np.ndarray, host_x: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        present = [name for name, mask in self._host_present.items() if mask[idx].any()]
        if self.device.type == "cpu":
            x = host_x
            targets = {name: torch.from_numpy(self._host_targets[name][idx]) for name in present}
        else:
            idx_dev = torch.from_numpy(idx).to(self.device, non_blocking=True)
            if self._resident_inputs is not None:
                x = self._resident_inputs.index_select(0, idx_dev)
            else:
                x = host_x.to(self.device, non_blocking=True)
            assert self._device_targets is not None
            targets = {name: self._device_targets[name].index_select(0, idx_dev) for name in present}
        x = self.input_transform(x)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, targets

    def __iter__(self) -> Iterator[tuple[Tensor, dict[str, Tensor]]]:
        batches = self.batch_indices()
        if not self.prefetch or self._resident_inputs is not None or len(batches) < 2:
            for idx in batches:
                yield self._finish(idx, self._host_batch(idx))
            return
        # one background thread gathers batch k+1 (numpy fancy indexing releases the GIL) while
        # batch k is being used; the device-side part stays on this thread (CUDA stream order).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-gather") as pool:
            pending: Future = pool.submit(self._host_batch, batches[0])
            for k, idx in enumerate(batches):
                host_x = pending.result()
                if k + 1 < len(batches):
                    pending = pool.submit(self._host_batch, batches[k + 1])
                yield self._finish(idx, host_x)


def check_targets(arrays: TaskArrays, task_names: Sequence[str], split: str) -> None:
    """Raise ``ValueError`` if a task has no label array in ``arrays`` (names the split and task)."""
    missing = [name for name in task_names if name not in arrays.targets]
    if missing:
        raise ValueError(f"{split} targets lack task(s) {missing}; available: {sorted(arrays.targets)}")


def standardised_targets(
    arrays: TaskArrays, scaling: Mapping[str, tuple[float, float]]
) -> TaskArrays:
    """A view of ``arrays`` whose regression targets are ``(y - loc) / scale`` float32 (NaN kept)."""
    targets = {}
    for name, values in arrays.targets.items():
        if name in scaling:
            loc, scale = scaling[name]
            targets[name] = ((np.asarray(values, dtype=np.float64) - loc) / scale).astype(np.float32)
        else:
            targets[name] = values
    return TaskArrays(arrays.inputs, targets)
