"""Configuration: the schemas a run's config is checked against, and validation into a Recipe.

Torch-free: importing it costs OmegaConf only, so config errors and ``nnx-plugins`` stay fast.
Plugins import their checks from here (``from nnx.config import check, check_choice``).
"""

from nnx.config.checks import (
    ACTIVATION_NAMES,
    INIT_NAMES,
    check,
    check_choice,
    check_metric,
)
from nnx.config.recipe import Component, Recipe, resolved_config, to_dataclass, validate
from nnx.config.schemas import (
    EvalConfig,
    RunConfig,
    SweepConfig,
    TrackingConfig,
    TrainerConfig,
)

__all__ = [
    "ACTIVATION_NAMES", "INIT_NAMES", "check", "check_choice", "check_metric",
    "Component", "Recipe", "resolved_config", "to_dataclass", "validate",
    "EvalConfig", "RunConfig", "SweepConfig",
    "TrackingConfig", "TrainerConfig",
]
