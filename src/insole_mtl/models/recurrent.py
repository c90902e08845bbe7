"""LSTM / GRU baselines on raw windows (SPEC §6, paper Sec. V-A2).

Architecture (defaults, input ``(b, 14, 160)``):

1. per-channel input scaling ``(x - input_loc) / input_scale`` (buffers, default 0/1, so a
   checkpoint or ONNX export carries the normalisation fitted on the training windows);
2. two stacked single-layer LSTM (or GRU) of 256 hidden units, dropout 0.3 between layers
   (the same parameters and semantics as ``nn.LSTM(num_layers=2, dropout=0.3)``);
3. max-pool and mean-pool over time of the hidden-state sequence of every layer
   (``pool_layers="all"``: 2 layers x 2 pools x 256 = 1024 features) or of the last layer
   only (``pool_layers="last"``: 512 features);
4. shared ``Linear(features, embedding_dim)`` + ReLU = the shared embedding;
5. one ``Linear(embedding_dim, n_outputs)`` head per task.

Parameter counts (single task) against the paper's 871 K (LSTM) and 670 K (GRU):
the recurrent layers alone hold 804,864 (LSTM) / 603,648 (GRU) parameters, so the paper's
heads hold about 66 K. Both ``pool_layers="all"`` with ``embedding_dim=64``
(Linear(1024, 64) = 65,600) and ``pool_layers="last"`` with ``embedding_dim=128``
(Linear(512, 128) = 65,664) reproduce that; a head straight on the pooled features
(Linear(512, k)) or Linear(512, 64) does not (~805-838 K). Activity single-task:
LSTM 870,919 / GRU 669,703 with the default, i.e. 871 K / 670 K. The default follows the
paper's text ("the hidden output representations from all the layers") and gives the same
64-d shared embedding as the MobileNetV2.
"""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from torch import nn

import numpy as np

from insole_mtl.models.base import WINDOWS, MultitaskModel, TaskSpec, channel_statistics

RecurrentKind = Literal["lstm", "gru"]
_RNN_CLASSES: dict[str, type[nn.Module]] = {"lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentMultitaskNet(MultitaskModel):
    """Multitask LSTM/GRU on raw windows with max+mean temporal pooling.

    Parameters
    ----------
    kind:
        ``"lstm"`` or ``"gru"``.
    in_channels:
        Channels of the raw window (14 for the insole pair).
    tasks:
        Task specifications; one task gives a single-task model.
    hidden_size, num_layers, dropout:
        Recurrent width, depth, and dropout between recurrent layers (paper: 256, 2, 0.3).
    pool_layers:
        ``"all"``: pool the hidden sequence of every layer; ``"last"``: only the top layer.
    embedding_dim:
        Width of the shared fully connected layer read by the heads.
    amplitude_features:
        Fuse per-channel amplitude statistics of the raw window with the embedding (off: the paper).
    amplitude_linear:
        Add a zero-initialised linear path from the window's per-channel means to each regression head
        (:class:`~insole_mtl.models.base.MultitaskModel`).

    The input standardisation ``input_loc``/``input_scale`` is fitted on the training windows by
    :meth:`fit_input_statistics` (the training engine calls it), so predictions need no outside scaling.

    Input ``(b, in_channels, L)`` float32, any L >= 1; :meth:`embed` returns
    ``(b, embedding_dim)``.
    """

    primary_input = WINDOWS
    input_loc: torch.Tensor
    input_scale: torch.Tensor

    def __init__(
        self,
        kind: RecurrentKind,
        in_channels: int,
        tasks: Sequence[TaskSpec],
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.3,
        pool_layers: Literal["all", "last"] = "all",
        embedding_dim: int = 64,
        amplitude_features: bool = False,
        amplitude_linear: bool = False,
    ) -> None:
        super().__init__(
            tasks, embedding_dim, amplitude_channels=in_channels if amplitude_features else None, amplitude_linear=amplitude_linear
        )
        if kind not in _RNN_CLASSES:
            raise ValueError(f"recurrent kind must be one of {sorted(_RNN_CLASSES)}, got {kind!r}")
        if in_channels < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(
                "in_channels, hidden_size and num_layers must be >= 1, got "
                f"{in_channels}, {hidden_size}, {num_layers}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if pool_layers not in ("all", "last"):
            raise ValueError(f"pool_layers must be 'all' or 'last', got {pool_layers!r}")
        self.kind = kind
        self.in_channels = in_channels
        self.hidden_size = hidden_size
        self.pool_layers = pool_layers
        rnn_class = _RNN_CLASSES[kind]
        # Separate single-layer modules (instead of num_layers=2) so every layer's hidden
        # sequence is available for pooling; parameters are identical to the stacked module.
        self.rnns = nn.ModuleList(
            [
                rnn_class(in_channels if i == 0 else hidden_size, hidden_size, batch_first=True)
                for i in range(num_layers)
            ]
        )
        self.dropout = nn.Dropout(dropout)
        pooled_layers = num_layers if pool_layers == "all" else 1
        self.shared = nn.Sequential(nn.Linear(2 * hidden_size * pooled_layers, embedding_dim), nn.ReLU())
        self.register_buffer("input_loc", torch.zeros(in_channels, dtype=torch.float32))
        self.register_buffer("input_scale", torch.ones(in_channels, dtype=torch.float32))

    def set_input_scaling(self, loc: Sequence[float] | torch.Tensor, scale: Sequence[float] | torch.Tensor) -> None:
        """Per-channel input standardisation ``(x - loc) / scale``, shapes ``(in_channels,)``.

        Use the training windows' per-channel mean and standard deviation (raw units:
        accelerometer counts, FSR readings). ``scale`` must be finite and > 0.
        """
        loc_t = torch.as_tensor(loc, dtype=torch.float32).reshape(-1)
        scale_t = torch.as_tensor(scale, dtype=torch.float32).reshape(-1)
        for name, value in (("loc", loc_t), ("scale", scale_t)):
            if value.shape != (self.in_channels,):
                raise ValueError(
                    f"input scaling {name} must have shape ({self.in_channels},), got {tuple(value.shape)}"
                )
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"input scaling {name} must be finite, got {value.tolist()}")
        if bool((scale_t <= 0).any()):
            raise ValueError(f"input scaling scale must be > 0 per channel, got {scale_t.tolist()}")
        self.input_loc.copy_(loc_t)
        self.input_scale.copy_(scale_t)

    def fit_input_statistics(self, *inputs: np.ndarray) -> None:
        """Per-channel mean/std of the TRAINING windows ``(n, C, L)`` (and the amplitude branch's statistics)."""
        super().fit_input_statistics(*inputs)
        mean, std = channel_statistics(inputs[0])
        self.set_input_scaling(mean, std)

    def backbone_embed(self, x: torch.Tensor) -> torch.Tensor:
        """Raw windows ``(b, in_channels, L)`` -> shared embedding ``(b, embedding_dim)``."""
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"RecurrentMultitaskNet expects raw windows (b, {self.in_channels}, L), got {tuple(x.shape)}"
            )
        x = (x.float() - self.input_loc[:, None]) / self.input_scale[:, None]
        h = x.transpose(1, 2)  # (b, L, C): the RNNs are batch_first
        pooled: list[torch.Tensor] = []
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                h = self.dropout(h)  # between layers only, as nn.LSTM(dropout=...) does
            h, _ = rnn(h)
            if self.pool_layers == "all" or i == len(self.rnns) - 1:
                pooled.extend((h.amax(dim=1), h.mean(dim=1)))
        return self.shared(torch.cat(pooled, dim=1))
