"""What a sweep will run, checked before anything runs.

The sweep's own settings come from its validated recipe. Every grid point's config is
composed as its job will be and validated; a search's spec is read (once, here) and its
config validated at every bound of its space: each choice and both ends of each range. So
a value no trial could train with is one line and exit 2, before any trial or run starts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from nnx.config.recipe import Recipe, validate
from nnx.sweeps.study import SearchSpec, is_search, search_spec

__all__ = ["Plan", "SweepStopped", "plan"]


class SweepStopped(BaseException):
    """A sweep that cannot start: no trial is launched. ``error`` is what is wrong (an
    `NnxError`, or Hydra's error composing a point), ``where`` the point it is wrong at.

    A BaseException because Hydra turns a callback's Exception into a warning and launches
    the sweep anyway; the CLI prints it as one line.
    """

    def __init__(self, error: Exception, where: str = "") -> None:
        super().__init__(str(error))
        self.error, self.where = error, where


@dataclass
class Plan:
    """The sweep's settings (its validated recipe), what it sweeps and, for a search, its spec."""

    recipe: Recipe
    swept: list[str]
    spec: SearchSpec | None = None
    points: list[list[str]] = field(default_factory=list)  # the overrides of each config checked


def _validated(config: DictConfig, where: str = "") -> Recipe:
    """The recipe of ``config`` without Hydra's node (a job's folder is known when it runs)."""
    config = copy.deepcopy(OmegaConf.masked_copy(config, [k for k in config if k != "hydra"]))
    with read_write(config), open_dict(config):
        config.output_dir = "."
    try:
        return validate(config)
    except Exception as error:  # noqa: BLE001  nnx's and OmegaConf's errors alike
        raise SweepStopped(error, where) from None


def _parser() -> Any:
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())


def _grid(config: DictConfig) -> tuple[list[str], list[list[str]]]:
    """The swept keys and every job's overrides, as Hydra's basic sweeper splits them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    lines = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    overrides = _parser().parse_overrides(lines)
    swept = [o.key_or_group for o in overrides if o.is_sweep_override()]
    if not str(OmegaConf.select(config, "hydra.sweeper._target_") or "").endswith("BasicSweeper"):
        return swept, []  # another sweeper decides its points itself
    [jobs] = BasicSweeper.split_arguments(overrides, None)
    return swept, [list(job) for job in jobs]


def _bounds(spec: SearchSpec) -> list[list[str]]:
    """Configs that hold every bound of the space: point k takes each parameter's k-th bound."""
    from optuna.distributions import CategoricalDistribution

    ends = {name: [str(c) for c in dist.choices] if isinstance(dist, CategoricalDistribution)
            else [str(dist.low), str(dist.high)] for name, dist in spec.space.items()}
    count = max(len(v) for v in ends.values())
    return [[*spec.fixed, *(f"{name}={v[k % len(v)]}" for name, v in ends.items())] for k in range(count)]


def plan(config: DictConfig) -> Plan:
    """The checked plan of the multirun ``config``; `SweepStopped` at the first bad point."""
    from hydra.core.global_hydra import GlobalHydra

    from nnx.errors import NnxError

    recipe = _validated(config)
    if is_search(config):
        try:
            spec = search_spec(config, list(config.hydra.overrides.task), recipe)
        except NnxError as error:
            raise SweepStopped(error) from None
        result = Plan(recipe, list(spec.space), spec, _bounds(spec))
    else:
        swept, points = _grid(config)
        result = Plan(recipe, swept, None, points)
    loader = GlobalHydra.instance().config_loader()
    for num, overrides in enumerate(result.points):
        shown = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") in result.swept]
        where = (f"trial #{num} ({' '.join(shown)})" if result.spec is None
                 else f"the search space at {' '.join(shown)}")
        try:
            point = loader.load_sweep_config(config, overrides)
        except Exception as error:  # noqa: BLE001  Hydra's composition errors (an unknown option)
            raise SweepStopped(error, where) from None
        _validated(point, where)
    return result
