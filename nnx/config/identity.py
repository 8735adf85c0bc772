"""What identifies a run: its config hash, overrides, plugins, and which way its metric improves.

Torch-free and MLflow-free, so the sweep callback and `nnx-compare` can use it cheaply.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnx import __version__
from nnx.config.metrics import direction as metric_direction
from nnx.config.recipe import Recipe
from nnx.config.secrets import redact

__all__ = [
    "HASH_TAG", "VERSIONS_TAG", "config_hash", "is_location_key", "run_overrides", "run_tags",
    "plugin_tags", "package_versions", "direction_of",
]

HASH_TAG = "nnx.config_hash"
#: Keys that say where a run is written, not what it computes.
_NOT_HASHED = ("hydra", "output_dir", "tracking", "sweep")


def is_location_key(key: str) -> bool:
    """Whether a flattened param says where a run is written (``output_dir``, ``tracking.*``)."""
    return key.split(".", 1)[0] in _NOT_HASHED


def config_hash(cfg: DictConfig | dict) -> str:
    """A short hash of the resolved config (seed included; output and tracking keys left out).

    Two runs with the same hash train the same model on the same data the same way.
    """
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    kept = {k: v for k, v in tree.items() if k not in _NOT_HASHED}
    text = json.dumps(kept, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_overrides() -> list[str]:
    """The command-line overrides of the Hydra job running in this process (none in tests),
    credentials masked: as they are shown and recorded."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return [redact(str(o)) for o in HydraConfig.get().overrides.task]


def run_tags(cfg: DictConfig | dict) -> dict[str, str]:
    """Tags every run gets: its config hash and its overrides."""
    return {HASH_TAG: config_hash(cfg), "nnx.overrides": " ".join(run_overrides())[:5000]}


#: The packages whose versions can change a run's numbers (tag `nnx.versions`).
VERSIONED = ("torch", "pytorch-lightning", "numpy", "scikit-learn", "pandas", "mlflow")
VERSIONS_TAG = "nnx.versions"


@functools.lru_cache(maxsize=1)
def package_versions() -> str:
    """``python=3.11.9 nnx=0.1.0 torch=2.5.1 ...``: what a rerun compares."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    found = [f"python={platform.python_version()}", f"nnx={__version__}"]
    for name in VERSIONED:
        try:
            found.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            continue
    return " ".join(found)


def plugin_tags(recipe: Recipe) -> dict[str, str]:
    """The tags that say what a run trained: nnx's and its packages' versions, the plugins."""
    return {
        "nnx.version": __version__,
        VERSIONS_TAG: package_versions(),
        "nnx.model": recipe.model.plugin.name,
        "nnx.data": recipe.data.plugin.name,
        "nnx.optimizer": recipe.optimizer.plugin.name,
    }


def direction_of(sweeper: Any, metric: str) -> str:
    """``minimize`` or ``maximize``: the sweeper's ``direction`` if it has one (Optuna),
    else the metric's own (`nnx.config.metrics.direction`)."""
    direction = OmegaConf.select(sweeper, "direction") if isinstance(sweeper, DictConfig) else None
    if direction is not None:
        first = direction[0] if OmegaConf.is_list(direction) else direction
        return str(first).rsplit(".", 1)[-1].lower()
    return "maximize" if metric_direction(metric) == "max" else "minimize"
