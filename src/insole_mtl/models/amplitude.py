"""Amplitude statistics of the raw window, the cue a recurrence plot cannot carry.

A recurrence plot is unchanged by any per-window affine rescaling of a channel (SPEC §3): the
network that reads only plots never sees how hard a foot presses, the physical cue for body
weight (and part of the one for speed). :class:`AmplitudeBranch` gives it back: per channel of the
raw window ``(b, C, L)``, in the source's units (FSR counts, newtons, accelerometer counts),

    ``[mean, std, min, max]`` over the window's L samples (``std`` with ddof 0),

flattened channel-major to ``(b, 4 C)`` (``c0_mean, c0_std, c0_min, c0_max, c1_mean, ...``),
standardised with the TRAINING windows' mean and standard deviation of each statistic (buffers
``loc`` / ``scale``, so a checkpoint or an ONNX export carries them and new data is never used to
re-fit them), then ``ReLU(Linear(4 C, out_dim))``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

AMPLITUDE_STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max")
#: a statistic whose training spread is below this (in its own unit) is only centred, not scaled
_MIN_SCALE = 1e-6


def amplitude_statistics(windows: torch.Tensor) -> torch.Tensor:
    """Per-channel ``mean, std, min, max`` of raw windows ``(b, C, L)`` -> ``(b, 4 C)`` float32, channel-major."""
    if windows.ndim != 3:
        raise ValueError(f"amplitude statistics expect raw windows (b, C, L), got shape {tuple(windows.shape)}")
    x = windows.float()
    mean = x.mean(dim=-1)
    std = (x - mean[..., None]).square().mean(dim=-1).sqrt()
    stats = torch.stack([mean, std, x.amin(dim=-1), x.amax(dim=-1)], dim=-1)  # (b, C, 4)
    return stats.flatten(1)


def amplitude_statistics_numpy(windows: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """:func:`amplitude_statistics` of a (possibly memory-mapped) array ``(n, C, L)`` -> ``(n, 4 C)`` float64."""
    windows = np.asarray(windows) if not isinstance(windows, np.ndarray) else windows
    if windows.ndim != 3:
        raise ValueError(f"amplitude statistics expect raw windows (n, C, L), got shape {windows.shape}")
    parts = []
    for start in range(0, windows.shape[0], chunk):
        block = np.asarray(windows[start : start + chunk], dtype=np.float64)
        stats = np.stack([block.mean(-1), block.std(-1), block.min(-1), block.max(-1)], axis=-1)
        parts.append(stats.reshape(len(block), -1))
    return np.concatenate(parts) if parts else np.zeros((0, 4 * windows.shape[1]))


class AmplitudeBranch(nn.Module):
    """Raw windows ``(b, C, L)`` -> standardised amplitude statistics -> ``(b, out_dim)`` features.

    Parameters
    ----------
    channels:
        Channels of the raw window.
    out_dim:
        Width of the output features.
    """

    loc: torch.Tensor
    scale: torch.Tensor

    def __init__(self, channels: int, out_dim: int = 32) -> None:
        super().__init__()
        if channels < 1 or out_dim < 1:
            raise ValueError(f"AmplitudeBranch: channels and out_dim must be >= 1, got {channels} and {out_dim}")
        self.channels = int(channels)
        n = len(AMPLITUDE_STATISTICS) * self.channels
        self.register_buffer("loc", torch.zeros(n, dtype=torch.float32))
        self.register_buffer("scale", torch.ones(n, dtype=torch.float32))
        self.project = nn.Sequential(nn.Linear(n, int(out_dim)), nn.ReLU())

    def fit(self, windows: np.ndarray) -> None:
        """Set ``loc``/``scale`` to the mean and std of each statistic over the TRAINING windows ``(n, C, L)``."""
        if windows.ndim != 3 or windows.shape[1] != self.channels or windows.shape[0] == 0:
            raise ValueError(
                f"AmplitudeBranch.fit expects non-empty raw windows (n, {self.channels}, L), got shape {windows.shape}"
            )
        stats = amplitude_statistics_numpy(windows)
        loc, scale = stats.mean(axis=0), stats.std(axis=0)
        scale[~(scale > _MIN_SCALE)] = 1.0
        self.loc.copy_(torch.as_tensor(loc, dtype=torch.float32))
        self.scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def standardised(self, windows: torch.Tensor) -> torch.Tensor:
        """Standardised statistics ``(b, 4 C)`` float32."""
        if windows.ndim != 3 or windows.shape[1] != self.channels:
            raise ValueError(f"AmplitudeBranch expects raw windows (b, {self.channels}, L), got {tuple(windows.shape)}")
        return (amplitude_statistics(windows) - self.loc) / self.scale

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.project(self.standardised(windows))
