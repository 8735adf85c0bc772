"""Plugin registry: name -> (builder, config dataclass), discovered through entry points.

Built-in and third-party plugins register the same way: an entry point in the group of
their kind (``nnx.models``, ``nnx.datasets``, ``nnx.optimizers``, ``nnx.schedulers``,
``nnx.losses``, ``nnx.metrics``, ``nnx.callbacks``) that names a function decorated with the
kind's ``register_*`` decorator. Names are listed from entry-point
metadata without importing anything; only a plugin that is asked for gets imported.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from nnx.errors import PluginError, UnknownNameError

__all__ = [
    "KINDS",
    "Plugin",
    "register_model",
    "register_dataset",
    "register_optimizer",
    "register_scheduler",
    "register_loss",
    "register_metric",
    "register_callback",
    "get_plugin",
    "list_plugins",
    "load_all",
    "plugin_package",
    "normalize_name",
]

#: kind -> entry-point group. The kind is also the Hydra config group that selects it.
KINDS: dict[str, str] = {
    "model": "nnx.models",
    "data": "nnx.datasets",
    "optimizer": "nnx.optimizers",
    "scheduler": "nnx.schedulers",
    "loss": "nnx.losses",
    "metrics": "nnx.metrics",
    "callbacks": "nnx.callbacks",
}
#: kind -> the decorator that registers it (named in errors).
_DECORATORS: dict[str, str] = {
    "model": "register_model", "data": "register_dataset", "optimizer": "register_optimizer",
    "scheduler": "register_scheduler", "loss": "register_loss", "metrics": "register_metric",
    "callbacks": "register_callback",
}


@dataclass(frozen=True)
class Plugin:
    """A registered component: what builds it and the dataclass that configures it."""

    kind: str
    name: str
    builder: Callable[..., Any]
    config: type
    source: str

    @property
    def doc(self) -> str:
        """First line of the builder's docstring: the one-line help `nnx-plugins` shows."""
        return (self.builder.__doc__ or "").strip().split("\n")[0]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.builder(*args, **kwargs)


_registered: dict[str, dict[str, Plugin]] = {kind: {} for kind in KINDS}


def normalize_name(name: str) -> str:
    """One spelling everywhere: lowercase, '-' and spaces become '_'."""
    return re.sub(r"[\s-]+", "_", str(name).strip().lower())


def _register(kind: str, config: type, name: str | None) -> Callable[[Callable], Plugin]:
    if not dataclasses.is_dataclass(config):
        raise TypeError(f"{_DECORATORS[kind]}: config must be a dataclass, got {config!r}")

    def decorate(builder: Callable) -> Plugin:
        plugin = Plugin(
            kind=kind,
            name=normalize_name(name or builder.__name__),
            builder=builder,
            config=config,
            source=f"{builder.__module__}:{builder.__qualname__}",
        )
        _add(plugin)
        return plugin

    return decorate


def _add(plugin: Plugin) -> None:
    known = _registered[plugin.kind].get(plugin.name)
    if known is not None and known.source != plugin.source:
        raise PluginError(_twice(plugin.kind, plugin.name, known.source, plugin.source))
    entry = _entry_points(plugin.kind).get(plugin.name)
    if entry is not None and entry.value != plugin.source:
        raise PluginError(_twice(plugin.kind, plugin.name, entry.value, plugin.source))
    _registered[plugin.kind][plugin.name] = plugin


def _twice(kind: str, name: str, first: str, second: str) -> str:
    return (
        f"The {kind} plugin name '{name}' is registered twice: by {first} and by {second}. "
        "Rename one of them."
    )


def register_model(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, spec) -> nn.Module`` as a model named after the function."""
    return _register("model", config, name)


def register_dataset(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg) -> nnx.data.Splits`` as a data source."""
    return _register("data", config, name)


def register_optimizer(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, params) -> torch.optim.Optimizer``."""
    return _register("optimizer", config, name)


def register_scheduler(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, optimizer, max_epochs) -> Lightning lr-scheduler dict``."""
    return _register("scheduler", config, name)


def register_loss(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, spec) -> loss(outputs, targets)`` as a loss."""
    return _register("loss", config, name)


def register_metric(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, spec) -> nnx metric`` (a torchmetrics metric with a direction)."""
    return _register("metrics", config, name)


def register_callback(config: type, name: str | None = None) -> Callable[[Callable], Plugin]:
    """Register ``builder(cfg, ctx) -> pytorch_lightning.Callback`` as a callback.

    ``ctx`` is a `nnx.training.callback_plugins.CallbackContext` (the run dir, its
    ``checkpoint_dir``, the phase's ``max_epochs`` and metric ``prefix``). Selected with
    ``callbacks=[name,...]``; a config field that names a metric is called ``monitor``.
    """
    return _register("callbacks", config, name)


@functools.cache
def _entry_points(kind: str) -> dict[str, EntryPoint]:
    """Entry points of one kind, read once from installed metadata (no plugin import)."""
    found: dict[str, EntryPoint] = {}
    for entry in entry_points(group=KINDS[kind]):
        name = normalize_name(entry.name)
        other = found.get(name)
        if other is not None and other.value != entry.value:
            raise PluginError(
                _twice(kind, name, f"{_dist(other)} ({other.value})", f"{_dist(entry)} ({entry.value})")
            )
        found[name] = entry
    return found


def _dist(entry: EntryPoint) -> str:
    return entry.dist.name if entry.dist is not None else "an unknown package"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UnknownNameError("plugin kind", kind, KINDS)


def list_plugins(
    kind: str, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None
) -> list[str]:
    """Names of one kind, filtered with fnmatch patterns and sorted naturally (mlp2 < mlp10)."""
    _check_kind(kind)
    names = set(_entry_points(kind)) | set(_registered[kind])
    if include is not None:
        patterns = [include] if isinstance(include, str) else list(include)
        names = {n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)}
    if exclude is not None:
        patterns = [exclude] if isinstance(exclude, str) else list(exclude)
        names = {n for n in names if not any(fnmatch.fnmatch(n, p) for p in patterns)}
    return sorted(names, key=_natural_key)


def _natural_key(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def plugin_package(kind: str, name: str) -> str:
    """The distribution that provides a plugin, read from metadata without importing it."""
    entry = _entry_points(kind).get(normalize_name(name))
    if entry is not None:
        return _dist(entry)
    plugin = _registered[kind].get(normalize_name(name))
    return plugin.builder.__module__.split(".")[0] if plugin else "?"


def get_plugin(kind: str, name: str) -> Plugin:
    """Load one plugin by name; unknown names fail with the known ones and a did-you-mean."""
    _check_kind(kind)
    key = normalize_name(name)
    if key in _registered[kind]:
        return _registered[kind][key]
    entry = _entry_points(kind).get(key)
    if entry is None:
        raise UnknownNameError(
            f"{kind} plugin", name, list_plugins(kind), fix="`nnx-plugins` lists them."
        )
    try:
        loaded = entry.load()
    except Exception as error:  # any import failure of third-party code
        raise PluginError(
            f"The {kind} plugin '{key}' from package {_dist(entry)} failed to import: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(loaded, Plugin) or loaded.kind != kind:
        raise PluginError(
            f"Entry point '{key}' = '{entry.value}' in group {KINDS[kind]} is not decorated "
            f"with {_DECORATORS[kind]}."
        )
    if loaded.name != key:
        raise PluginError(
            f"Entry point '{key}' points at a plugin registered as '{loaded.name}'; "
            "the two names must be the same."
        )
    return loaded


def load_all(kind: str) -> list[Plugin]:
    """Every plugin of a kind; one that fails to import is skipped with one warning."""
    plugins = []
    for name in list_plugins(kind):
        try:
            plugins.append(get_plugin(kind, name))
        except PluginError as error:
            warnings.warn(str(error), stacklevel=2)
    return plugins
