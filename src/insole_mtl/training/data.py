"""Inputs + labels of one split, input transforms, and a fast deterministic batch loader.

The loader is deliberately not a ``torch.utils.data.DataLoader``: the whole split is one NumPy
array per model input (bit-packed recurrence plots ``(n, C, L, P)`` uint8, 44.8 KB per window at
160 x 160; recurrence counts ``(n, C, R, R)`` uint8 at a reduced resolution; raw windows
``(n, C, L)`` float32), so a batch is one fancy-index gather per input. Worker processes would only
add pickling and start-up cost. What it does instead:

* shuffles with its own ``torch.Generator`` seeded with ``seed + epoch`` (same order for the same
  seed and epoch, independent of the global RNG the model and the loss weighting use); with
  ``sample_weights`` it draws the epoch's windows with replacement in proportion to them instead
  (e.g. every subject equally often, whatever its number of recordings);
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
#: one array per model input (``model.input_names`` order); a single array for one-input models
Inputs = np.ndarray | tuple[np.ndarray, ...]

#: share of the free GPU memory the resident copy of a split may take (``resident="auto"``)
RESIDENT_MAX_FRACTION = 0.3


@dataclass
class TaskArrays:
    """Inputs and labels of one split, aligned on the first axis.

    Attributes:
        inputs: one array, or a tuple of arrays in the model's ``input_names`` order: packed
            recurrence plots ``(n, C, L, P)`` uint8 (``P = ceil(L / 8)`` bytes per row), recurrence
            counts ``(n, C, R, R)`` uint8, or raw windows ``(n, C, L)`` float32. May be read-only
            memory maps.
        targets: task name -> ``(n,)`` labels: int64 class ids (``-1`` = unlabelled) for
            classification, float (NaN = unlabelled; physical units, e.g. km/h and kg) for regression.
    """

    inputs: Inputs
    targets: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays = self.input_arrays
        if not arrays:
            raise ValueError("TaskArrays.inputs must hold at least one array, got an empty tuple")
        for k, array in enumerate(arrays):
            if not isinstance(array, np.ndarray):
                raise TypeError(f"TaskArrays.inputs[{k}] must be a numpy array, got {type(array).__name__}")
            if array.ndim not in (3, 4):
                raise ValueError(
                    "TaskArrays.inputs must be (n, C, L) raw windows or (n, C, H, W) recurrence plots, "
                    f"got shape {array.shape}"
                )
        n = arrays[0].shape[0]
        lengths = [a.shape[0] for a in arrays]
        if any(length != n for length in lengths):
            raise ValueError(f"TaskArrays.inputs must have the same number of windows, got {lengths}")
        for name, values in self.targets.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"TaskArrays.targets[{name!r}] must have shape ({n},) like inputs, got {values.shape}")
            if not (np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)):
                raise TypeError(f"TaskArrays.targets[{name!r}] must be integer or float, got dtype {values.dtype}")

    @property
    def input_arrays(self) -> tuple[np.ndarray, ...]:
        """The inputs as a tuple (one entry per model input)."""
        return tuple(self.inputs) if isinstance(self.inputs, tuple) else (self.inputs,)

    def __len__(self) -> int:
        return int(self.input_arrays[0].shape[0])


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


def to_float(x: Tensor) -> Tensor:
    """Identity transform for inputs that are already model-ready (cast to float32)."""
    return x if x.dtype == torch.float32 else x.float()


def is_packed_recurrence_plots(inputs: np.ndarray) -> bool:
    """True for bit-packed plots ``(n, C, L, ceil(L / 8))`` uint8 (recurrence counts are square)."""
    return inputs.ndim == 4 and inputs.dtype == np.uint8 and inputs.shape[3] == -(-inputs.shape[2] // 8) and inputs.shape[2] > 1


def _input_transform(inputs: np.ndarray) -> InputTransform:
    if is_packed_recurrence_plots(inputs):
        return UnpackRecurrencePlots(length=inputs.shape[2])
    if inputs.ndim == 4 and inputs.shape[2] == inputs.shape[3]:
        return to_float  # recurrence counts: the model turns them into rates (recurrence_cell)
    if inputs.ndim == 3:
        return to_float  # raw windows: the model standardises them with its own buffers
    raise ValueError(
        f"no input transform for inputs of shape {inputs.shape} and dtype {inputs.dtype}; expected packed "
        "uint8 (n, C, L, ceil(L/8)) plots, (n, C, R, R) recurrence counts or (n, C, L) raw windows"
    )


def default_input_transform(inputs: Inputs) -> InputTransform | tuple[InputTransform, ...]:
    """The transform each input needs on the device (a tuple for a tuple of inputs).

    Packed plots ``(n, C, L, P)`` uint8 -> :class:`UnpackRecurrencePlots` with ``length = L``;
    recurrence counts ``(n, C, R, R)`` and raw windows ``(n, C, L)`` -> :func:`to_float` (models
    standardise raw windows and scale counts themselves, with buffers fitted on the training split).
    """
    if isinstance(inputs, tuple):
        return tuple(_input_transform(array) for array in inputs)
    return _input_transform(inputs)


# --------------------------------------------------------------------------------------------------
# Loader
# --------------------------------------------------------------------------------------------------
def _resolve_device(device: str | torch.device) -> torch.device:
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


Batch = Tensor | tuple[Tensor, ...]


class BatchLoader:
    """Iterate ``(x, targets)`` batches of a :class:`TaskArrays` on a device.

    Args:
        arrays: the split.
        batch_size: windows per batch (the last batch may be smaller unless ``drop_last``).
        device: where batches are produced (``"cpu"``, ``"cuda"``, ...).
        input_transform: applied on the device to each input batch (e.g. RP unpacking); a tuple of
            transforms for a tuple of inputs; None = cast to float32.
        shuffle: random order per epoch from ``torch.Generator().manual_seed(seed + epoch)``.
        seed: base seed of the order.
        channels_last: convert 4-D input batches to ``torch.channels_last``.
        drop_last: drop the final incomplete batch.
        max_batches: cap on batches per epoch (a different random subset each epoch when shuffling).
        resident: keep the inputs on the device (``"auto"``: on CUDA when they take less than
            30 % of the free GPU memory; True/False to force). On CPU the inputs are never copied.
        prefetch: gather the next batch in a background thread while the current one is used.
        sample_weights: ``(n,)`` non-negative weights; with ``shuffle``, each epoch draws its
            ``len(arrays)`` windows (or ``max_batches`` batches of them) WITH replacement in proportion
            to the weights (``torch.multinomial`` on the epoch's generator). None = every window once.
        bags, bag_size: with ``shuffle`` and ``bag_size > 1``, a batch is ``batch_size // bag_size`` BAGS of
            ``bag_size`` windows each, laid out bag after bag: a bag is drawn (with replacement) with the
            probability of its windows' summed ``sample_weights`` (their count without weights), then
            ``bag_size`` of its windows without replacement (with replacement where it has fewer).
            ``bags`` ``(n,)``: the bag (recording) of each window. The epoch draws as many windows as
            without bags.

    Yields:
        ``x``: transformed input batch on ``device`` (a tuple of batches for a tuple of inputs);
        ``targets``: task -> ``(b,)`` tensor on ``device`` (int64 class ids, float32 regression),
        containing only the tasks with at least one labelled window in this batch. Within a batch the
        windows are in increasing index order (sequential memory reads; the set of windows is what
        the seed decides).
    """

    def __init__(
        self,
        arrays: TaskArrays,
        batch_size: int,
        *,
        device: str | torch.device = "cpu",
        input_transform: InputTransform | tuple[InputTransform, ...] | None = None,
        shuffle: bool = False,
        seed: int = 0,
        channels_last: bool = False,
        drop_last: bool = False,
        max_batches: int | None = None,
        resident: bool | str = "auto",
        prefetch: bool = True,
        sample_weights: np.ndarray | None = None,
        bags: np.ndarray | None = None,
        bag_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if bag_size < 1 or bag_size > batch_size:
            raise ValueError(f"bag_size must be in [1, batch_size={batch_size}], got {bag_size}")
        if bag_size > 1 and (bags is None or len(bags) != len(arrays)):
            raise ValueError(f"bag_size={bag_size} needs bags: one bag id per window ({len(arrays)})")
        if max_batches is not None and max_batches < 1:
            raise ValueError(f"max_batches must be >= 1 or None, got {max_batches}")
        if resident not in (True, False, "auto"):
            raise ValueError(f"resident must be True, False or 'auto', got {resident!r}")
        self.arrays = arrays
        self._inputs = arrays.input_arrays
        self._single = not isinstance(arrays.inputs, tuple)
        self.batch_size = int(batch_size)
        self.device = _resolve_device(device)
        transforms = input_transform if isinstance(input_transform, tuple) else (input_transform,) * len(self._inputs)
        if len(transforms) != len(self._inputs):
            raise ValueError(f"{len(transforms)} input transforms for {len(self._inputs)} inputs")
        self.input_transforms: tuple[InputTransform, ...] = tuple(t or to_float for t in transforms)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.channels_last = channels_last
        self.drop_last = drop_last
        self.max_batches = max_batches
        self.prefetch = prefetch
        self.epoch = 0
        self.sample_weights: Tensor | None = None
        if sample_weights is not None:
            weights = np.asarray(sample_weights, dtype=np.float64)
            if weights.shape != (len(arrays),) or not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
                raise ValueError(
                    f"sample_weights must be {len(arrays)} finite non-negative numbers with a positive sum, "
                    f"got shape {weights.shape}"
                )
            self.sample_weights = torch.from_numpy(weights)
        self.bag_size = int(bag_size)
        self._bag_members: list[np.ndarray] = []
        self._bag_weights: Tensor | None = None
        if self.bag_size > 1:
            _, inverse = np.unique(np.asarray(bags).astype(str), return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            self._bag_members = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
            window_weights = self.sample_weights if self.sample_weights is not None else torch.ones(len(arrays), dtype=torch.float64)
            self._bag_weights = torch.zeros(len(self._bag_members), dtype=torch.float64).index_add_(
                0, torch.from_numpy(inverse), window_weights
            )
        self._host_targets = {
            name: np.ascontiguousarray(v, dtype=np.int64 if np.issubdtype(np.asarray(v).dtype, np.integer) else np.float32)
            for name, v in arrays.targets.items()
        }
        self._host_present = {name: target_present(v) for name, v in self._host_targets.items()}
        self._resident_inputs: tuple[Tensor, ...] | None = None
        self._device_targets: dict[str, Tensor] | None = None
        if self.device.type != "cpu":
            self._device_targets = {k: torch.from_numpy(v).to(self.device) for k, v in self._host_targets.items()}
            if self._want_resident(resident):
                self._resident_inputs = tuple(self._upload(array) for array in self._inputs)

    # -- setup ---------------------------------------------------------------------------------------
    def _want_resident(self, resident: bool | str) -> bool:
        if resident is False:
            return False
        if resident is True:
            return True
        if self.device.type != "cuda":  # "auto"
            return False
        free, _ = torch.cuda.mem_get_info(self.device)
        return sum(array.nbytes for array in self._inputs) < RESIDENT_MAX_FRACTION * free

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
        """The window indices of each batch of the current epoch: sorted, or with bags sorted within each bag."""
        n = len(self.arrays)
        if self.shuffle and self.bag_size > 1:
            return self._bag_batches(torch.Generator().manual_seed(self.seed + self.epoch))
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            if self.sample_weights is not None:
                draws = min(n, len(self) * self.batch_size)
                order = torch.multinomial(self.sample_weights, draws, replacement=True, generator=g).numpy()
            else:
                order = torch.randperm(n, generator=g).numpy()
        else:
            order = np.arange(n)
        return [np.sort(order[i * self.batch_size : (i + 1) * self.batch_size]) for i in range(len(self))]

    def _bag_batches(self, g: torch.Generator) -> list[np.ndarray]:
        """Batches of ``batch_size // bag_size`` bags, each bag's windows sorted, bags in drawing order."""
        assert self._bag_weights is not None
        per_batch, k = self.batch_size // self.bag_size, self.bag_size
        drawn = torch.multinomial(self._bag_weights, len(self) * per_batch, replacement=True, generator=g).numpy()
        windows = []
        for bag in drawn:
            members = self._bag_members[bag]
            if len(members) >= k:
                pick = torch.randperm(len(members), generator=g)[:k].numpy()
            else:
                pick = torch.randint(len(members), (k,), generator=g).numpy()
            windows.append(np.sort(members[pick]))
        return [np.concatenate(windows[i * per_batch : (i + 1) * per_batch]) for i in range(len(self))]

    def _host_batch(self, idx: np.ndarray) -> tuple[Tensor, ...] | None:
        """Gather one input batch on the host (pinned for CUDA); None when inputs are resident."""
        if self._resident_inputs is not None:
            return None
        batch = tuple(torch.from_numpy(np.ascontiguousarray(array[idx])) for array in self._inputs)
        if self.device.type == "cuda":
            batch = tuple(x.pin_memory() for x in batch)
        return batch

    def _finish(self, idx: np.ndarray, host_x: tuple[Tensor, ...] | None) -> tuple[Batch, dict[str, Tensor]]:
        present = [name for name, mask in self._host_present.items() if mask[idx].any()]
        if self.device.type == "cpu":
            assert host_x is not None
            xs = host_x
            targets = {name: torch.from_numpy(self._host_targets[name][idx]) for name in present}
        else:
            idx_dev = torch.from_numpy(idx).to(self.device, non_blocking=True)
            if self._resident_inputs is not None:
                xs = tuple(x.index_select(0, idx_dev) for x in self._resident_inputs)
            else:
                assert host_x is not None
                xs = tuple(x.to(self.device, non_blocking=True) for x in host_x)
            assert self._device_targets is not None
            targets = {name: self._device_targets[name].index_select(0, idx_dev) for name in present}
        out = []
        for transform, x in zip(self.input_transforms, xs):
            x = transform(x)
            if self.channels_last and x.ndim == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            out.append(x)
        return (out[0] if self._single else tuple(out)), targets

    def __iter__(self) -> Iterator[tuple[Batch, dict[str, Tensor]]]:
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


def as_tuple(x: Batch) -> tuple[Tensor, ...]:
    """A batch as the tuple of model inputs (``model(*as_tuple(x))``)."""
    return x if isinstance(x, tuple) else (x,)


def group_balanced_weights(groups: np.ndarray, synthetic: np.ndarray | None = None, classes: np.ndarray | None = None) -> np.ndarray:
    """Sampling weights that give every group (subject) the same share of an epoch, and with ``classes`` every
    class the same share too.

    Args:
        groups: ``(n,)`` group id per window (e.g. the subject).
        synthetic: ``(n,)`` bool, windows made by oversampling; they belong to no subject and get the
            mean weight of the real windows (each counts like an average real window).
        classes: ``(n,)`` class id per window; the weights of each class are then scaled so that every class
            present sums to the same total (the gait-feature baseline's weighting, ``balanced_sample_weights``:
            with 58 Parkinson's and 43 control subjects, equal subjects alone draw Parkinson's 57 % of the time).

    Returns:
        ``(n,)`` float64 weights ``1 / windows of the group``, summing to the number of groups (plus the
        synthetic windows' share); with ``classes``, rescaled per class to the same total, the sum unchanged.
    """
    groups = np.asarray(groups).astype(str)
    real = np.ones(len(groups), dtype=bool) if synthetic is None else ~np.asarray(synthetic, dtype=bool)
    weights = np.zeros(len(groups), dtype=np.float64)
    if real.any():
        _, inverse, counts = np.unique(groups[real], return_inverse=True, return_counts=True)
        weights[real] = 1.0 / counts[inverse]
        weights[~real] = weights[real].mean()
    else:
        weights[:] = 1.0
    if classes is not None and len(weights):
        labels = np.asarray(classes)
        if labels.shape != groups.shape:
            raise ValueError(f"classes must give one class per window: {labels.shape[0]} for {len(groups)} windows")
        present, index = np.unique(labels, return_inverse=True)
        totals = np.bincount(index, weights=weights)
        weights = weights * (weights.sum() / len(present)) / totals[index]
    return weights


#: dimensions of ONE window of each named model input (packed plots / counts ``(C, H, W)``, raw ``(C, L)``)
INPUT_NDIM: dict[str, int] = {"recurrence_plots": 3, "windows": 2}


def pick_input_arrays(input_names: Sequence[str], arrays: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """The stored split arrays a model reads, in its ``input_names`` order (the others are never touched).

    Args:
        input_names: the model's ``input_names``.
        arrays: input name (``"recurrence_plots"``, ``"windows"``) -> stored split array: bit-packed plots
            ``(n, C, L, ceil(L/8))`` uint8, recurrence counts ``(n, C, R, R)`` uint8 or unpacked float plots;
            raw windows ``(n, C, L)``. May be memory maps; arrays of inputs the model does not read may be
            anything (e.g. empty).

    Raises:
        ValueError: an input the model reads is missing, has the wrong number of dimensions, or the arrays
            it reads hold different numbers of windows.
    """
    names = tuple(input_names)
    missing = [name for name in names if name not in arrays or arrays[name] is None]
    if missing:
        raise ValueError(f"the model reads inputs {list(names)}; no array for {missing} (given: {sorted(arrays)})")
    picked = []
    for name in names:
        array = arrays[name]
        ndim = INPUT_NDIM.get(name)
        if ndim is not None and array.ndim != ndim + 1:
            form = "(n, C, L, P) packed plots or (n, C, R, R) counts" if name == "recurrence_plots" else "(n, C, L) raw windows"
            raise ValueError(f"input {name!r} must be {form}, got shape {tuple(array.shape)}")
        picked.append(array)
    lengths = [int(array.shape[0]) for array in picked]
    if len(set(lengths)) > 1:
        raise ValueError(f"inputs {list(names)} hold different numbers of windows: {lengths}")
    return tuple(picked)


def select_inputs(
    input_names: Sequence[str], plots: np.ndarray, windows: np.ndarray, split: str
) -> np.ndarray | tuple[np.ndarray, ...]:
    """A split's recurrence plots and/or raw windows as the model reads them (:func:`pick_input_arrays`):
    one array, or a tuple of several in ``input_names`` order.

    Raises:
        ValueError: the model reads recurrence plots but the split has none (or a different number of
            windows than the raw windows), or as :func:`pick_input_arrays`.
    """
    if "recurrence_plots" in input_names and len(plots) != len(windows):
        raise ValueError(
            f"{split}: {len(plots)} recurrence plots for {len(windows)} windows; the encoding stage encodes "
            "plots only for models that read them (model.name)"
        )
    chosen = pick_input_arrays(input_names, {"recurrence_plots": plots, "windows": windows})
    return chosen[0] if len(chosen) == 1 else chosen


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
