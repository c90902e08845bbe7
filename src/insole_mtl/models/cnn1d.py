"""A small residual 1-D ConvNet on raw windows (the model family of the best published gaitpdb figures).

Architecture (defaults, input ``(b, C, L)`` raw window in the source's units):

1. input normalisation, per channel: ``"window"`` (default) ``(x - mean_window) / (std_window + ε_c)``,
   i.e. the shape of the signal only — the per-subject force level, which a network with a few dozen
   training subjects would otherwise memorise, is left to the amplitude branch; ``"global"``
   ``(x - loc_c) / scale_c`` with the TRAINING windows' per-channel mean and std (buffers). ``ε_c`` is
   ``1e-3 ×`` the channel's training std, so a flat channel maps to 0 instead of dividing by zero;
2. stem ``Conv1d(C, w, 7, padding 3)`` + BatchNorm + ReLU;
3. four residual stages of widths ``w, 2w, 3w, 4w`` and strides ``1, 2, 2, 2``; each holds ``blocks``
   basic blocks (two ``Conv1d(k, padding k // 2)`` + BatchNorm, ReLU, identity or 1x1-projection
   shortcut);
4. mean- and max-pool over time (``8 w`` features), dropout, ``Linear(8 w, embedding_dim)`` + ReLU =
   the shared embedding (fused with the amplitude statistics when ``amplitude_features``);
5. one linear head per task.

With ``w = 32`` and 160 samples: about 0.3 M parameters and 10 M multiply-accumulates per window,
1/30 of the Table II network's MACs at 160 x 160.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from insole_mtl.models.base import WINDOWS, MultitaskModel, TaskSpec, channel_statistics

InputNorm = Literal["window", "global"]


class BasicBlock1d(nn.Module):
    """``(b, in, L) -> (b, out, ceil(L / stride))``: two convolutions with a residual shortcut."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, kernel_size: int) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm1d(out_channels)
        self.conv2 = nn.Conv1d(out_channels, out_channels, kernel_size, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm1d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv1d(in_channels, out_channels, 1, stride=stride, bias=False), nn.BatchNorm1d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResidualCNN1d(MultitaskModel):
    """Residual 1-D ConvNet multitask model on raw windows (see the module docstring).

    Parameters
    ----------
    in_channels:
        Channels of the raw window.
    tasks:
        Task specifications.
    width:
        ``w``, channels of the first stage (stages: w, 2w, 3w, 4w).
    blocks:
        Basic blocks per stage.
    kernel_size:
        Kernel of the residual convolutions (odd).
    dropout:
        Dropout before the embedding layer.
    input_norm:
        ``"window"`` or ``"global"`` (see the module docstring).
    amplitude_features:
        Fuse per-channel amplitude statistics of the raw window with the embedding.
    amplitude_linear:
        Add a zero-initialised linear path from the window's per-channel means to each regression head
        (:class:`~insole_mtl.models.base.MultitaskModel`).
    embedding_dim:
        Width of the shared embedding.

    Input ``(b, in_channels, L)`` float32, any ``L >= 8``; :meth:`embed` returns ``(b, embedding_dim)``.
    """

    primary_input = WINDOWS
    input_loc: torch.Tensor
    input_scale: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[TaskSpec],
        width: int = 32,
        blocks: int = 1,
        kernel_size: int = 5,
        dropout: float = 0.3,
        input_norm: InputNorm = "window",
        amplitude_features: bool = True,
        embedding_dim: int = 64,
        amplitude_linear: bool = False,
    ) -> None:
        if in_channels < 1 or width < 1 or blocks < 1:
            raise ValueError(f"in_channels, width and blocks must be >= 1, got {in_channels}, {width}, {blocks}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd number, got {kernel_size}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if input_norm not in ("window", "global"):
            raise ValueError(f"input_norm must be 'window' or 'global', got {input_norm!r}")
        super().__init__(
            tasks, embedding_dim, amplitude_channels=in_channels if amplitude_features else None, amplitude_linear=amplitude_linear
        )
        self.in_channels = in_channels
        self.input_norm = input_norm
        self.register_buffer("input_loc", torch.zeros(in_channels, dtype=torch.float32))
        self.register_buffer("input_scale", torch.ones(in_channels, dtype=torch.float32))
        self.stem = nn.Sequential(
            nn.Conv1d(in_channels, width, 7, padding=3, bias=False), nn.BatchNorm1d(width), nn.ReLU()
        )
        stages: list[nn.Module] = []
        channels = width
        for factor, stride in ((1, 1), (2, 2), (3, 2), (4, 2)):
            for j in range(blocks):
                stages.append(BasicBlock1d(channels, factor * width, stride if j == 0 else 1, kernel_size))
                channels = factor * width
        self.stages = nn.Sequential(*stages)
        self.head_input = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * channels, embedding_dim), nn.ReLU())
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv1d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm1d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def fit_input_statistics(self, *inputs: np.ndarray) -> None:
        """Per-channel mean/std of the TRAINING windows (and the amplitude branch's statistics)."""
        super().fit_input_statistics(*inputs)
        mean, std = channel_statistics(np.asarray(inputs[0]) if not isinstance(inputs[0], np.ndarray) else inputs[0])
        self.input_loc.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_scale.copy_(torch.as_tensor(std, dtype=torch.float32))

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """Raw windows ``(b, C, L)`` -> normalised ``(b, C, L)`` float32 (see ``input_norm``)."""
        x = x.float()
        if self.input_norm == "global":
            return (x - self.input_loc[:, None]) / self.input_scale[:, None]
        mean = x.mean(dim=-1, keepdim=True)
        std = (x - mean).square().mean(dim=-1, keepdim=True).sqrt()
        return (x - mean) / (std + 1e-3 * self.input_scale[:, None])

    def backbone_embed(self, x: torch.Tensor) -> torch.Tensor:
        """Raw windows ``(b, in_channels, L)`` -> ``(b, embedding_dim)``."""
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"ResidualCNN1d expects raw windows (b, {self.in_channels}, L), got {tuple(x.shape)}")
        h = self.stages(self.stem(self.normalise(x)))
        return self.head_input(torch.cat([h.mean(dim=-1), h.amax(dim=-1)], dim=1))
