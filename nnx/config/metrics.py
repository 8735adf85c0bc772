"""Metric names before any data exists: which way each improves, what a run will log.

Everything that compares runs or epochs (a search's direction, early stopping and the best
checkpoint's ``mode``, `nnx-compare`'s order) asks `direction` instead of being told. A metric
plugin declares its direction on its config class (``direction: ClassVar[str] = "max"``), so
asking never builds a metric nor imports torch. Every metric name a config mentions is checked
against `logged_keys` before the data is loaded (`check_names`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from nnx.config.checks import SPLITS
from nnx.errors import ConfigValueError, PluginError, UnknownNameError, did_you_mean
from nnx.registry import get_plugin, list_plugins

__all__ = [
    "AUTO", "TASKS", "READS", "Declared", "declared", "direction", "auto_names", "logged_keys",
    "monitors", "UnknownMetricError", "check_names", "check_direction",
]

#: The metrics ``metrics=auto`` logs, by the data's task (`task_of` in `nnx.training.metrics`).
AUTO: dict[str, tuple[str, ...]] = {
    "binary": ("acc", "precision", "recall", "f1", "auroc", "average_precision"),
    "multiclass": ("acc", "f1", "precision", "recall", "auroc"),
    "regression": ("mae", "rmse", "r2"),
    "forecast": ("mae", "rmse"),
}
TASKS = tuple(AUTO)
#: What a metric reads from the model's outputs: class labels, class probabilities, or values.
READS = ("labels", "probabilities", "values")
_PREFIXES = ("baseline_last_", "baseline_")


@dataclasses.dataclass(frozen=True)
class Declared:
    """What a metric plugin's config class declares: direction, what it reads, which tasks."""

    direction: str
    reads: str
    tasks: tuple[str, ...]


def declared(name: str) -> Declared:
    """The declaration of metric plugin ``name`` (imports its module, never builds it)."""
    plugin = get_plugin("metrics", name)
    config = plugin.config
    found = Declared(getattr(config, "direction", ""), getattr(config, "reads", ""),
                     tuple(getattr(config, "tasks", ())))
    if found.direction not in ("max", "min") or found.reads not in READS or not set(found.tasks) <= set(
            TASKS) or not found.tasks:
        raise PluginError(
            f"The metric plugin '{plugin.name}' ({plugin.source}) must declare on {config.__name__}: "
            f"direction: ClassVar[str] = 'max' | 'min', reads: ClassVar[str] = {' | '.join(READS)}, "
            f"tasks: ClassVar[tuple[str, ...]] (of {', '.join(TASKS)}).")
    return found


def _leaf(key: str) -> str:
    """``conv/val/baseline_f1_std`` -> ``f1``: the metric a key is a value of."""
    leaf = key.rsplit("/", 1)[-1].removesuffix("_std")
    for prefix in _PREFIXES:
        leaf = leaf.removeprefix(prefix)
    return leaf


def direction(key: str) -> str:
    """``"max"`` or ``"min"`` for a metric key ``split/name``, as its plugin declares.

    A baseline (``test/baseline_f1``) and a spread (``val/f1_std``) read as their metric; the
    loss, and anything no metric plugin registers (``train/lr``), go down.
    """
    leaf = _leaf(key)
    if leaf == "loss":
        return "min"
    try:
        return declared(leaf).direction
    except UnknownNameError:
        return "min"


def auto_names(task: str | None) -> tuple[str, ...]:
    """The ``metrics=auto`` names of ``task``; of every task while it is not known yet."""
    if task is not None:
        return AUTO[task]
    return tuple(dict.fromkeys(name for names in AUTO.values() for name in names))


def logged_keys(names: Iterable[str], forecast: bool | None = False) -> list[str]:
    """The keys a run with these metrics logs: each split's loss and metrics, ``train/lr``, and
    beside each test metric its trivial baseline (``test/baseline_f1``; a forecast also the
    last value's, ``test/baseline_last_mae``; ``forecast=None``: possibly a forecast)."""
    names = ["loss", *names]
    keys = [f"{split}/{name}" for split in SPLITS for name in names] + ["train/lr"]
    prefixes = _PREFIXES if forecast in (None, True) else _PREFIXES[1:]
    return keys + [f"test/{prefix}{name}" for prefix in reversed(prefixes) for name in names[1:]]


def monitors(configs: Mapping[str, Any]) -> dict[str, str]:
    """Every ``monitor`` field in the validated configs, by its dotted key
    (``callbacks.early_stopping.monitor``, ``scheduler.monitor``, ``callbacks.checkpoint.monitor``)."""
    found: dict[str, str] = {}
    for prefix, config in configs.items():
        if not dataclasses.is_dataclass(config):
            continue
        for field in dataclasses.fields(config):
            value = getattr(config, field.name)
            key = f"{prefix}.{field.name}"
            if field.name == "monitor" and isinstance(value, str):
                found[key] = value
            elif dataclasses.is_dataclass(value):
                found.update(monitors({key: value}))
    return found


class UnknownMetricError(ConfigValueError):
    """A metric key that the run will not log, where a config names one."""

    def __init__(self, key: str, value: str, known: list[str], when: str, hint: str, fix: str) -> None:
        self.known, self.when, self.hint, self.fix = known, when, hint, fix
        super().__init__(key, value, "a metric the run logs")

    def _message(self) -> str:
        return (f"Unknown metric '{self.value}' in '{self.key}'{self.when}.{self.hint} "
                f"{', '.join(self.known)}.{self.fix}")


def check_names(named: Mapping[str, str], names: Iterable[str], task: str | None = None) -> None:
    """Each metric key in ``named`` (config key -> metric key) must be one the run logs.

    ``task`` is the data's (None before it is loaded). One line for the first unknown one:
    the config key, the value, the keys of the same split the run logs, and a did-you-mean,
    or how to add a registered metric that the run does not log.
    """
    names = list(names)
    known = logged_keys(names, None if task is None else task == "forecast")
    when = f" (with {task} data)" if task else ""
    for key, value in named.items():
        metric = "/".join(str(value).split("/")[-2:])  # a phase's prefix (conv/val/acc) aside
        if metric in known or metric.removesuffix("_std") in known:
            continue
        split, leaf = metric.partition("/")[0], _leaf(metric)
        same = [k for k in known if k.startswith(f"{split}/")] or known
        hint, fix = "", " `nnx-plugins --kind metrics` lists the metrics."
        if leaf not in list_plugins("metrics"):
            close = did_you_mean(leaf, [_leaf(k) for k in same])
            hint = close.replace("'", f"'{split}/", 1) if close else ""
        elif task is None or task in declared(leaf).tasks:  # registered, but not selected
            fix = f" Add it: metrics=[{','.join(dict.fromkeys([*names, leaf]))}]."
        else:
            fix = f" {leaf} does not fit {task} data."
        raise UnknownMetricError(key, value, same, when, hint + " Logged:", fix)


def check_direction(key: str, given: str, metric: str) -> None:
    """An explicit ``minimize``/``maximize`` must agree with the metric's own direction."""
    own = "maximize" if direction(metric) == "max" else "minimize"
    if given != own:
        raise ConfigValueError(
            key, given, f"{own} for {metric} (its metric improves as it goes "
            f"{'up' if own == 'maximize' else 'down'}); leave the direction out to follow the metric")
