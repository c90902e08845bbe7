"""Encoding node: windows -> bit-packed recurrence plots."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from insole_mtl.encoding.recurrence import encode_recurrence_plots

logger = logging.getLogger(__name__)


def encode_windows(windows: np.ndarray, recurrence: Mapping[str, Any]) -> np.ndarray:
    """Encode windows ``(n, C, L)`` as per-channel recurrence plots, bit-packed ``(n, C, L, ceil(L/8))`` uint8."""
    packed = encode_recurrence_plots(
        np.asarray(windows), percentage=float(recurrence["percentage"]), chunk_size=int(recurrence["chunk_size"])
    )
    logger.info("Encoded %d windows -> %s uint8 (%.1f MB)", len(windows), packed.shape, packed.nbytes / 2**20)
    return packed
