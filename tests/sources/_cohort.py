"""A tiny raw cohort with the paper's 14 channels, for the source-reader tests (a helper module, not a conftest)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from insole_mtl.schema import PAPER_CHANNELS
from insole_mtl.sources.cohort import RawCohort

CH = list(PAPER_CHANNELS)


def paper_channel_cohort(lengths: dict[tuple[str, int], int], weights: dict[str, float]) -> RawCohort:
    """Recordings named ``<subject>_EXP<NN>`` at 40 Hz; channel j of sample k of recording r = 1000*r + 10*k + j."""
    parts, index = [], []
    for r, ((subject, experiment), n) in enumerate(lengths.items()):
        name = f"{subject}_EXP{experiment:02d}"
        values = 1000.0 * r + 10.0 * np.arange(n)[:, None] + np.arange(len(CH))[None, :]
        frame = pd.DataFrame(values.astype("float32"), columns=CH)
        frame.insert(0, "time_s", np.arange(n) / 40.0)
        frame.insert(0, "recording", name)
        parts.append(frame)
        index.append((name, subject, experiment))
    return RawCohort(
        recordings=pd.concat(parts, ignore_index=True),
        recording_index=pd.DataFrame(index, columns=["recording", "subject", "experiment"]),
        subjects=pd.DataFrame({"subject": list(weights), "weight_kg": list(weights.values())}),
    )
