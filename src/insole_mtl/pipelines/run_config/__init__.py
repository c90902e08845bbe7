"""Run configuration: the stage parameters one run of the template uses."""

from . import pipeline

__all__ = ["pipeline"]
