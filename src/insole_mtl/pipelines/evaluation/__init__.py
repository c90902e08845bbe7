"""The evaluation stage of insole_mtl."""

from . import pipeline

__all__ = ["pipeline"]
