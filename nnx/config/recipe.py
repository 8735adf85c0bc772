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

from nnx.config.schemas import RunConfig, TrackingConfig, TrainerConfig, moved_key
from nnx.errors import ConfigKeyError, ConfigValueError
from nnx.registry import Plugin, get_plugin

__all__ = ["Component", "Recipe", "to_dataclass", "validate", "resolved_config"]

T = TypeVar("T")


@dataclass(frozen=True)
class Component:
    """A plugin chosen by config, with its validated config dataclass instance."""

    plugin: Plugin
    config: Any

    def build(self, *args: Any) -> Any:
        return self.plugin(self.config, *args)


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


def _component(kind: str, node: Any, prefix: str | None = None, name: str | None = None) -> Component:
    node = dict(node)
    name = node.pop("name", name)
    prefix = prefix or kind
    if name is None:
        raise ConfigValueError(f"{prefix}.name", None, f"the name of a registered {kind} plugin")
    plugin = get_plugin(kind, name)
    return Component(plugin, to_dataclass(node, plugin.config, prefix))


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
    return tuple(_component("callbacks", node or {}, f"callbacks.{key}", key)
                 for key, node in group.items() if node is not None)


def _check_moved(trainer: Any) -> None:
    """An old ``trainer.early_stopping`` / ``trainer.checkpoint`` key (a saved config) is one line."""
    for key in (trainer or {}):
        error = moved_key(f"trainer.{key}")
        if error is not None:
            raise error


#: Groups that only change other keys (they are merged away by Hydra) and groups with schemas.
_MODE_GROUPS = ("hydra", "experiment", "hparams_search", "debug")
_SLOT_GROUPS = ("data", "model", "optimizer", "scheduler", "trainer", "tracking", "callbacks")


def resolved_config(cfg: DictConfig | dict) -> dict[str, Any]:
    """The config as plain data, interpolations resolved, without Hydra's own node."""
    resolved = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    return {k: v for k, v in resolved.items() if k != "hydra"}


def validate(cfg: DictConfig | dict) -> Recipe:
    """Check the whole composed config against its schemas; return what a run needs."""
    config = resolved_config(cfg)
    tree = {k: v for k, v in config.items() if k not in _MODE_GROUPS}
    top = {k: v for k, v in tree.items() if k not in _SLOT_GROUPS}
    run = to_dataclass(top, RunConfig, "")
    scheduler = tree.get("scheduler")
    _check_moved(tree.get("trainer"))
    return Recipe(
        run=run,
        data=_component("data", tree.get("data") or {}),
        model=_component("model", tree.get("model") or {}),
        optimizer=_component("optimizer", tree.get("optimizer") or {}),
        scheduler=_component("scheduler", scheduler) if scheduler else None,
        trainer=to_dataclass(tree.get("trainer"), TrainerConfig, "trainer"),
        tracking=to_dataclass(tree.get("tracking"), TrackingConfig, "tracking"),
        config=config,
        callbacks=_callbacks(tree.get("callbacks")),
    )
