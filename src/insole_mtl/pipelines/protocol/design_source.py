"""Which protocol design the pipeline registry builds: the one of the environment being run.

The protocol's topology (one namespace per variant x fold x seed) depends on the environment
(``conf/test`` runs 2 folds x 1 seed of a few variants, ``conf/paper`` 5 x 5 of all of them), but
Kedro's ``register_pipelines()`` receives no environment. :class:`insole_mtl.hooks.ProtocolDesignHook`
therefore hands this module the parameters of the session's environment (``--env``, runtime
``--params`` included) in ``after_context_created``, before the session first reads the pipelines.
Without a session (``import``, unit tests) the parameters are read from ``<cwd>/conf`` for the
``KEDRO_ENV`` environment (default ``local``), as Kedro itself would.

The state kept here is the last parameters seen; :func:`activate` reports whether they change the
design so that the hook can make Kedro rebuild the pipelines (several sessions in one process).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from insole_mtl.protocol.design import ProtocolDesign, design_from_parameters

logger = logging.getLogger(__name__)


class _DesignSource:
    """Holds the active parameters and the design last built from them."""

    def __init__(self) -> None:
        self.parameters: Mapping[str, Any] | None = None
        self.env: str | None = None
        self.built: ProtocolDesign | None = None

    def activate(self, parameters: Mapping[str, Any], env: str | None) -> bool:
        """Use ``parameters`` (of environment ``env``) from now on.

        Returns:
            True when a pipeline was already built from a different design (the caller must make Kedro
            reload its pipelines).
        """
        self.parameters, self.env = parameters, env
        if self.built is None:
            return False
        try:
            return design_from_parameters(parameters) != self.built
        except ValueError:
            return True

    def design(self) -> ProtocolDesign:
        """The design of the active parameters (read from disk when no session supplied them)."""
        parameters = self.parameters if self.parameters is not None else load_parameters_from_disk()
        design = design_from_parameters(parameters)
        self.built = design
        return design


SOURCE = _DesignSource()


def load_parameters_from_disk(project_path: Path | None = None, env: str | None = None) -> dict[str, Any]:
    """``parameters`` of ``<project>/conf`` for ``env`` (default ``KEDRO_ENV``, else ``local``), Kedro's loader and settings."""
    from kedro.config import OmegaConfigLoader

    from insole_mtl import settings

    project = project_path or Path.cwd()
    args = dict(getattr(settings, "CONFIG_LOADER_ARGS", {}))
    default_env = args.pop("default_run_env", "local")
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"), env=env or os.environ.get("KEDRO_ENV") or default_env, default_run_env=default_env, **args
    )
    return dict(loader["parameters"])


def active_design() -> ProtocolDesign:
    """The protocol design the registry should build now."""
    return SOURCE.design()
