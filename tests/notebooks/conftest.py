import pytest

from inference._trained import ensure_trained_project


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory):
    """The shared finished test-environment project (tests/inference/_trained.py)."""
    return ensure_trained_project(tmp_path_factory.getbasetemp())
