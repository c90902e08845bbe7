"""The paper's protocol (issue #4): one template per fold and per run, instantiated with namespaces."""

from . import pipeline

__all__ = ["pipeline"]
