"""Kedro project settings for insole_mtl."""

from kedro.config import OmegaConfigLoader

from insole_mtl.hooks import (
    CrossValidationMlflowHook,
    KilledRunMlflowHook,
    ProtocolMlflowHook,
    RunNamingMlflowHook,
    ServableModelMlflowHook,
)

HOOKS = (ProtocolMlflowHook(), CrossValidationMlflowHook(), RunNamingMlflowHook(), ServableModelMlflowHook(), KilledRunMlflowHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "config_patterns": {
        "parameters": ["parameters*", "parameters*/**", "**/parameters*"],
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],
    },
}
