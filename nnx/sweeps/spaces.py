"""What a search is made of: its space, in Hydra's override syntax, as Optuna distributions,
and the schemas of its samplers and pruners.

``interval(a, b)`` is a float (or int, when both ends are ints) range, ``tag(log, ...)``
makes it log-scaled, ``range(a, b[, step])`` a stepped int or float range, ``choice(...)``
a categorical one; a plain value is fixed for every trial. A malformed space is a config
error (`ConfigValueError`) raised before any trial runs.

The samplers and pruners themselves are ``conf/hydra/sweeper/{sampler,pruner}/*.yaml``;
`nnx.sweeps.study` merges the chosen one over its schema here (each argument typed,
defaulted, commented), so a mistyped argument fails before the first trial.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nnx.errors import ConfigValueError

__all__ = ["parse_space", "grid_of", "SAMPLERS", "PRUNERS"]

_SYNTAX = ("choice(a, b, ...), interval(low, high), tag(log, interval(low, high)) "
           "or range(start, stop[, step])")


def _distribution(override: Any) -> Any:
    from hydra.core.override_parser.types import Transformer
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    key = f"hydra.sweeper.params.{override.get_key_element()}"
    if override.is_choice_sweep() or (override.is_range_sweep() and value.shuffle):
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        if not choices:
            raise ConfigValueError(key, override.input_line, "at least one choice")
        return CategoricalDistribution(choices)
    if override.is_range_sweep():
        start, stop, step = value.start, value.stop, value.step or 1
        if isinstance(start, float) or isinstance(stop, float) or isinstance(step, float):
            # Hydra's range excludes its stop; Optuna's high is inclusive.
            high = start + step * (int((stop - start) / step - 1e-9))
            return FloatDistribution(float(start), float(high), step=float(step))
        return IntDistribution(int(start), int(stop) - 1, step=int(step))
    if override.is_interval_sweep():
        low, high = value.start, value.end
        log = "log" in value.tags
        if low >= high:
            raise ConfigValueError(key, override.input_line, "interval(low, high) with low < high")
        if log and low <= 0:
            raise ConfigValueError(key, override.input_line, "a log interval with low > 0")
        if isinstance(low, int) and isinstance(high, int):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise ConfigValueError(key, override.input_line, _SYNTAX)


def parse_space(params: dict[str, Any], arguments: Iterable[str] = ()) -> tuple[dict[str, Any], list[str]]:
    """The distributions of ``hydra.sweeper.params`` and the command line's sweeps, and the
    overrides every trial shares (``key=value``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    space: dict[str, Any] = {}
    fixed: list[str] = []
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    parser = OverridesParser.create()
    for line in lines:
        try:
            override = parser.parse_override(line)
        except Exception as error:  # noqa: BLE001  Hydra's parse and evaluation errors alike
            key = line.split("=", 1)[0]
            raise ConfigValueError(f"hydra.sweeper.params.{key}", line.split("=", 1)[-1],
                                   f"{_SYNTAX} ({str(error).splitlines()[0]})") from None
        if override.is_sweep_override():
            try:
                space[override.get_key_element()] = _distribution(override)
            except ValueError as error:  # Optuna's own checks (a step that does not fit, ...)
                raise ConfigValueError(f"hydra.sweeper.params.{override.get_key_element()}",
                                       override.input_line, f"{_SYNTAX}: {str(error).rstrip('.')}") from None
        else:
            fixed.append(line)
    return space, fixed


def grid_of(space: dict[str, Any]) -> dict[str, list[Any]]:
    """Every value of each distribution, for the grid sampler (continuous ones cannot be)."""
    from optuna.distributions import CategoricalDistribution

    grid: dict[str, list[Any]] = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            grid[name] = list(dist.choices)
        elif getattr(dist, "step", None) is not None and not getattr(dist, "log", False):
            count = int(round((dist.high - dist.low) / dist.step)) + 1
            grid[name] = [dist.low + i * dist.step for i in range(count)]
        else:
            raise ConfigValueError(f"hydra.sweeper.params.{name}", "interval(...)",
                                   "choice(...) or range(...) with the grid sampler")
    return grid


@dataclass
class TPE:
    name: str = "tpe"
    seed: int | None = None          # the same seed proposes the same trials (one worker)
    n_startup_trials: int = 10       # random trials before TPE models the results
    multivariate: bool = False       # model the parameters jointly
    constant_liar: bool = False      # parallel workers avoid proposing what others run


@dataclass
class Random:
    name: str = "random"
    seed: int | None = None


@dataclass
class CmaEs:
    name: str = "cmaes"
    seed: int | None = None
    sigma0: float | None = None      # initial step size (default: 1/6 of the range)
    n_startup_trials: int = 1


@dataclass
class GP:
    name: str = "gp"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class QMC:
    name: str = "qmc"
    seed: int | None = None
    qmc_type: str = "sobol"          # sobol | halton
    scramble: bool = False


@dataclass
class Grid:
    name: str = "grid"               # every combination of choice(...) / range(...) once
    seed: int | None = None


@dataclass
class NoPruner:
    name: str = "none"


@dataclass
class Median:
    name: str = "median"             # prune below the median of earlier trials at this epoch
    n_startup_trials: int = 5        # trials that finish before any is pruned
    n_warmup_steps: int = 0          # epochs of each trial never pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class Percentile:
    name: str = "percentile"
    percentile: float = 25.0         # keep the best `percentile` % at each epoch
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class Hyperband:
    name: str = "hyperband"
    min_resource: int = 1            # epochs every trial gets
    max_resource: Any = "auto"       # epochs the best get (auto: from the first finished trial)
    reduction_factor: int = 3


@dataclass
class SuccessiveHalving:
    name: str = "successive_halving"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0


SAMPLERS = {c.name: c for c in (TPE, Random, CmaEs, GP, QMC, Grid)}
PRUNERS = {c.name: c for c in (NoPruner, Median, Percentile, Hyperband, SuccessiveHalving)}
