"""The encoding stage of insole_mtl."""

from . import pipeline

__all__ = ["pipeline"]
