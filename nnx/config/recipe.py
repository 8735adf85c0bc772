"""Validation at the edge: the composed config becomes a typed `Recipe`, or one clear error.

Every group that selects a plugin is merged over that plugin's config dataclass, the other
groups over the schemas of `nnx.config.schemas`. Unknown keys, wrong types and
out-of-range values become one-line `NnxError`s that name the dotted key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf import errors as oc_errors

from nnx.config.metrics import auto_names, check_names, monitors
from nnx.config.schemas import RunConfig, TrackingConfig, TrainerConfig, moved_key
from nnx.errors import ConfigKeyError, ConfigValueError
from nnx.registry import Plugin, get_plugin

__all__ = ["Component", "Metrics", "Recipe", "to_dataclass", "validate", "resolved_config", "watched"]

T = TypeVar("T")


@dataclass(frozen=True)
class Component:
    """A plugin chosen by config, with its validated config dataclass instance."""

    plugin: Plugin
    config: Any

    def build(self, *args: Any) -> Any:
        return self.plugin(self.config, *args)


@dataclass(frozen=True)
class Metrics:
    """What the ``metrics`` group selects: the task's defaults (``auto``) and named metrics."""

    auto: bool
    chosen: tuple[Component, ...] = ()

    def names(self, task: str | None = None) -> list[str]:
        """The metric names the run logs; with ``auto`` and no ``task``, every task's defaults."""
        defaults = auto_names(task) if self.auto else ()
        return list(dict.fromkeys([*defaults, *(c.plugin.name for c in self.chosen)]))


@dataclass(frozen=True)
class Recipe:
    """Everything a run needs, validated: what `nnx.training.pipeline` executes.

    ``config`` is the resolved config as plain data (without Hydra's node): what the run
    logs, and all it takes to run it again.
    """

    run: RunConfig
    data: Component
    model: Component
    optimizer: Component
    scheduler: Component | None
    loss: Component
    metrics: Metrics
    trainer: TrainerConfig
    tracking: TrackingConfig
    config: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    #: The selected callbacks (``callbacks=[early_stopping,checkpoint]``), in config order.
    callbacks: tuple[Component, ...] = ()


def _pretty_type(tp: Any) -> str:
    return str(tp).replace("typing.", "") if not isinstance(tp, type) else tp.__name__


def _field_type(schema: type, dotted: str) -> Any:
    hints: Any = schema
    for part in dotted.split("."):
        if not (isinstance(hints, type) and dataclasses.is_dataclass(hints)):
            return hints
        hints = typing.get_type_hints(hints).get(part, Any)
    return hints


def to_dataclass(node: Any, schema: type[T], prefix: str) -> T:
    """Merge a config node over ``schema``'s defaults and build the dataclass instance.

    ``prefix`` is the node's dotted path, so errors name the key as the user typed it.
    """
    data = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
    data = dict(data or {})
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        return typing.cast(T, OmegaConf.to_object(merged))
    except (oc_errors.ConfigKeyError, oc_errors.ConfigAttributeError) as error:
        parent = error.full_key.rsplit(".", 1)[0] if "." in error.full_key else ""
        owner = _field_type(schema, parent) if parent else schema
        fields = [f.name for f in dataclasses.fields(owner)] if dataclasses.is_dataclass(owner) else []
        raise ConfigKeyError(_join(prefix, error.full_key), fields, owner.__name__) from error
    except oc_errors.MissingMandatoryValue as error:
        raise ConfigValueError(_join(prefix, error.full_key), "???", "a value (it is required)") from error
    except oc_errors.ValidationError as error:
        expected = _pretty_type(_field_type(schema, error.full_key))
        raise ConfigValueError(_join(prefix, error.full_key), error.value, expected) from error
    except (ConfigValueError, ConfigKeyError) as error:  # from a schema's __post_init__
        raise error.at(prefix) from error


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _component(kind: str, node: Any, prefix: str = "") -> Component:
    node = {"name": node} if isinstance(node, str) else dict(node)  # `loss: mse` of older configs
    name = node.pop("name", None)
    if name is None:
        raise ConfigValueError(f"{prefix or kind}.name", None, f"the name of a registered {kind} plugin")
    plugin = get_plugin(kind, name)
    return Component(plugin, to_dataclass(node, plugin.config, prefix or kind))


def _metrics(node: Any) -> Metrics:
    """``metrics``: entries by name (``{f1: {name: f1, average: macro}}``, as the group composes
    them), or a list of names; ``auto`` (or no ``metrics`` at all) adds the task's defaults."""
    if node is None or isinstance(node, str):
        node = [node or "auto"]
    if isinstance(node, list):
        node = {str(name): {"name": str(name)} for name in node}
    auto, chosen = False, []
    for key, entry in node.items():
        entry = {"name": key} if entry is None else {"name": key, **entry}
        if entry["name"] == "auto":
            auto = True
            continue
        chosen.append(_component("metrics", entry, f"metrics.{key}"))
    return Metrics(auto, tuple(chosen))


def watched(recipe: Recipe) -> dict[str, str]:
    """The metric keys a config names, by config key: ``optimized_metric`` and every
    ``monitor`` field of the selected plugins and trainer (early stopping, checkpoints,
    a plateau scheduler, callbacks)."""
    configs: dict[str, Any] = {}
    for field in dataclasses.fields(recipe):
        value = getattr(recipe, field.name)
        if isinstance(value, Component):
            configs[field.name] = value.config
        elif isinstance(value, (tuple, list)):
            configs.update({f"{field.name}.{c.plugin.name}": c.config for c in value
                            if isinstance(c, Component)})
        elif dataclasses.is_dataclass(value) and field.name != "run":
            configs[field.name] = value
    return {"optimized_metric": recipe.run.optimized_metric, **monitors(configs)}


def _callbacks(group: Any) -> tuple[Component, ...]:
    """The callbacks group: one node per selected callback, keyed by its name.

    A node without ``name`` is named by its key, so ``+callbacks.early_stopping.patience=3``
    selects early stopping on its own; a null node (``callbacks.swa=null``) drops one.
    """
    if group is None:
        return ()
    if not isinstance(group, dict):
        raise ConfigValueError("callbacks", group, "callbacks selected by name: "
                               "callbacks=[early_stopping,checkpoint]")
    return tuple(_component("callbacks", {"name": key, **(node or {})}, f"callbacks.{key}")
                 for key, node in group.items() if node is not None)


def _check_moved(trainer: Any) -> None:
    """An old ``trainer.early_stopping`` / ``trainer.checkpoint`` key (a saved config) is one line."""
    for key in (trainer or {}):
        error = moved_key(f"trainer.{key}")
        if error is not None:
            raise error


#: Groups that only change other keys (they are merged away by Hydra) and groups with schemas.
_MODE_GROUPS = ("hydra", "experiment", "hparams_search", "debug")
_SLOT_GROUPS = ("data", "model", "optimizer", "scheduler", "loss", "metrics", "trainer", "tracking",
                "callbacks")


def resolved_config(cfg: DictConfig | dict) -> dict[str, Any]:
    """The config as plain data, interpolations resolved, without Hydra's own node."""
    resolved = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    return {k: v for k, v in resolved.items() if k != "hydra"}


def validate(cfg: DictConfig | dict) -> Recipe:
    """Check the whole composed config against its schemas; return what a run needs.

    Every metric key the config names (`watched`) must be one the run logs: with
    ``metrics=auto`` the task's defaults are known once the data is, so until then any
    task's defaults are accepted and `nnx.training` checks again before training.
    """
    config = resolved_config(cfg)
    tree = {k: v for k, v in config.items() if k not in _MODE_GROUPS}
    top = {k: v for k, v in tree.items() if k not in _SLOT_GROUPS}
    run = to_dataclass(top, RunConfig, "")
    scheduler = tree.get("scheduler")
    _check_moved(tree.get("trainer"))
    recipe = Recipe(
        run=run,
        data=_component("data", tree.get("data") or {}),
        model=_component("model", tree.get("model") or {}),
        optimizer=_component("optimizer", tree.get("optimizer") or {}),
        scheduler=_component("scheduler", scheduler) if scheduler else None,
        loss=_component("loss", tree.get("loss") or "auto"),
        metrics=_metrics(tree.get("metrics")),
        trainer=to_dataclass(tree.get("trainer"), TrainerConfig, "trainer"),
        tracking=to_dataclass(tree.get("tracking"), TrackingConfig, "tracking"),
        config=config,
        callbacks=_callbacks(tree.get("callbacks")),
    )
    check_names(watched(recipe), recipe.metrics.names())
    return recipe
