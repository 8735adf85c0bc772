"""Moved to `nnx.training.pipeline`; this path still works and warns (FutureWarning)."""

from nnx._moved import moved

__getattr__ = moved(__name__, {
    "run": "nnx.training.pipeline",
    "main": "nnx.training.pipeline",
    "load_data": "nnx.training.pipeline",
    "fit": "nnx.training.fit",
    "flatten": "nnx.tracking.params",
    "resolved_config": "nnx.config.recipe",
    "plugin_tags": "nnx.config.identity",
    "log_curves": "nnx.training.evaluation",
})
