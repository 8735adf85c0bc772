"""Modular network: sub-networks (any model plugins), each on its slice of the input, combined."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nnx.config import Component, check, check_choice, to_dataclass
from nnx.errors import ConfigChoiceError, ConfigValueError
from nnx.registry import get_plugin, register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data import DataSpec

__all__ = ["ModularConfig", "DEFAULT_MODULES", "modular", "parse_window"]


def parse_window(key: str, text: str) -> tuple[int | None, int | None] | None:
    """``all`` -> None; ``"START:STOP"`` (either may be empty) -> a slice of the last axis."""
    if text == "all":
        return None
    parts = str(text).split(":")
    try:
        start, stop = (int(p) if p.strip() else None for p in parts)
    except ValueError:
        raise ConfigValueError(key, text, "all, or START:STOP (a slice of the last input axis)") \
            from None
    return start, stop


def _component(key: str, node: Any) -> Component:
    check(isinstance(node, dict) and "name" in node, key, node,
          "a model plugin config with its name: {name: cnn, channels: [16]}")
    fields = dict(node)
    plugin = get_plugin("model", fields.pop("name"))
    return Component(plugin, to_dataclass(fields, plugin.config, key))


#: What an empty ``modules`` means. Not the field's default: Hydra merges dicts, so a default
#: would be added to every module list a user writes.
DEFAULT_MODULES = {"dense": {"name": "mlp", "hidden": [64]}, "seq": {"name": "gru", "hidden": 32}}


@dataclass
class ModularConfig:
    modules: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "name -> any model plugin's config, e.g. {conv: {name: cnn, channels: [16]}}; "
                          "{}: {dense: {name: mlp, hidden: [64]}, seq: {name: gru, hidden: 32}}"},
    )
    inputs: dict[str, str] = field(
        default_factory=dict, metadata={"help": "name -> all | START:STOP (last axis)"}
    )
    combiner: str = field(
        default="concat",
        metadata={"help": "concat (+ linear head) | mean (of logits) | gate (learned mixture)"},
    )
    training: str = field(
        default="joint", metadata={"help": "joint (end to end) | independent (each module, then combiner)"}
    )
    combiner_epochs: int | None = field(
        default=None, metadata={"help": "combiner phase of `independent`; None: trainer.max_epochs"}
    )

    def __post_init__(self) -> None:
        modules = self.modules or DEFAULT_MODULES
        #: Each module's plugin and validated config, checked against that plugin's schema.
        self.components = {
            name: _component(f"modules.{name}", node) for name, node in modules.items()
        }
        for name, text in self.inputs.items():
            if name not in modules:
                raise ConfigChoiceError("inputs", name, modules)
            parse_window(f"inputs.{name}", text)
        check_choice("combiner", self.combiner, ("concat", "mean", "gate"))
        check_choice("training", self.training, ("joint", "independent"))
        check(self.combiner_epochs is None or self.combiner_epochs >= 1, "combiner_epochs",
              self.combiner_epochs, "an integer >= 1, or null")

    def window(self, name: str) -> tuple[int | None, int | None] | None:
        """The slice of the last input axis that module ``name`` reads (None: all of it)."""
        return parse_window(f"inputs.{name}", self.inputs.get(name, "all"))


@register_model(ModularConfig)
def modular(cfg: ModularConfig, spec: DataSpec) -> nn.Module:
    """Modular network: sub-networks on input slices, combined by concat, mean or a gate."""
    from nnx_plugins.modular.network import Modular

    return Modular(cfg, spec)
