"""Moved to `nnx.config`; this path still works and warns (FutureWarning)."""

from nnx._moved import moved

__getattr__ = moved(__name__, {
    "check": "nnx.config",
    "check_choice": "nnx.config",
    "check_metric": "nnx.config",
    "ACTIVATION_NAMES": "nnx.config",
    "INIT_NAMES": "nnx.config",
    "LOSSES": "nnx.config",
    "Component": "nnx.config",
    "Recipe": "nnx.config",
    "to_dataclass": "nnx.config",
    "validate": "nnx.config",
    "CheckpointConfig": "nnx.config",
    "EarlyStoppingConfig": "nnx.config",
    "EvalConfig": "nnx.config",
    "RunConfig": "nnx.config",
    "SweepConfig": "nnx.config",
    "TrackingConfig": "nnx.config",
    "TrainerConfig": "nnx.config",
})
