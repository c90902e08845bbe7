import pytest

from ._trained import ensure_trained_project


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory):
    """A project copy with two finished insole_mtl runs and two insole_infer runs (see ``_trained``)."""
    return ensure_trained_project(tmp_path_factory.getbasetemp())
