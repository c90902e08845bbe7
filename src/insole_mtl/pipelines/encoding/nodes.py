"""Encoding node: windows -> recurrence plots (bit-packed at full resolution, recurrence counts when reduced)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from insole_mtl.encoding.recurrence import encode_recurrence_plots, packed_width
from insole_mtl.models import model_input_kind

logger = logging.getLogger(__name__)


def encode_windows(
    windows: np.ndarray, recurrence: Mapping[str, Any], model: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Encode windows ``(n, C, L)`` as per-channel recurrence plots for the configured model.

    Args:
        windows: raw windows ``(n, C, L)``.
        recurrence: the run's ``recurrence_config`` — ``percentage`` (eps), ``chunk_size``, ``resolution`` (null or
            ``L``: bit-packed ``(n, C, L, ceil(L/8))`` uint8, the paper; ``R`` dividing ``L``: recurrence
            counts per ``(L/R) x (L/R)`` cell ``(n, C, R, R)`` uint8).
        model: the run's ``model_config``; a model that reads raw windows only (``cnn1d``, ``lstm``, ``gru``)
            needs no plots: an empty ``(0, C, L, ceil(L/8))`` array is returned without encoding. None or ``{}``
            = always encode (the protocol encodes each fold once for every variant).
    """
    windows = np.asarray(windows)
    n, channels, length = windows.shape
    if model and model_input_kind(str(model["name"])) != "recurrence_plot":
        logger.info("model %s reads raw windows: no recurrence plots encoded (%d windows)", model["name"], n)
        return np.zeros((0, channels, length, packed_width(length)), dtype=np.uint8)
    resolution = recurrence.get("resolution")
    encoded = encode_recurrence_plots(
        windows,
        percentage=float(recurrence["percentage"]),
        chunk_size=int(recurrence["chunk_size"]),
        resolution=int(resolution) if resolution else None,
    )
    logger.info("Encoded %d windows -> %s uint8 (%.1f MB)", n, encoded.shape, encoded.nbytes / 2**20)
    return encoded
