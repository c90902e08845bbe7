"""``insole_infer``: apply a trained model to new recordings (issue #11)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
