"""Search spaces in Hydra's override syntax, as Optuna distributions.

``interval(a, b)`` is a float (or int, when both ends are ints) range, ``tag(log, ...)``
makes it log-scaled, ``range(a, b[, step])`` a stepped int or float range, ``choice(...)``
a categorical one; a plain value is fixed for every trial. A malformed space is a config
error (`ConfigValueError`) raised before any trial runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nnx.errors import ConfigValueError

__all__ = ["parse_space", "grid_of"]

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
