"""Subject-wise K-fold cross-validation of insole_mtl: the run template once per fold, scored out of fold."""

from . import pipeline

__all__ = ["pipeline"]
