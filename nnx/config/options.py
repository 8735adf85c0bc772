"""Each plugin as a Hydra config option (``model=mlp``), built from its config dataclass.

The dataclass is the one source of a plugin's defaults and field help, so no YAML repeats
them. `PluginOptions` is a Hydra config source (scheme ``nnx-plugins://``, put on the search
path of nnx's config tree by ``hydra_plugins/nnx_options``) that serves ``<group>/<name>``
as ``{name: ..., <field>: <default>}``: every key exists after composition, so
``model.hidden=[64]`` needs no ``+`` and a mistyped key still fails in Hydra's struct mode.
Names come from entry-point metadata; only a plugin that a config composes is imported,
built-in or third-party alike.
"""

from __future__ import annotations

from typing import Any

from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigLoadError, ConfigResult, ConfigSource
from omegaconf import OmegaConf

from nnx.errors import NnxError
from nnx.registry import get_plugin, list_plugins

__all__ = ["PLUGIN_GROUPS", "PluginOptions", "plugin_node"]

#: Config groups whose options are plugins of the kind of the same name.
PLUGIN_GROUPS = ("data", "model", "optimizer", "scheduler", "loss", "metrics", "callbacks")
#: Groups that select several options at once (``metrics=[acc,f1]``, ``callbacks=[a,b]``): each
#: goes to ``<group>.<name>``.
_MANY = ("metrics", "callbacks")


def plugin_node(kind: str, name: str) -> dict[str, Any]:
    """The config option of one plugin: its name, then each field's default."""
    plugin = get_plugin(kind, name)
    return {"name": plugin.name, **OmegaConf.to_container(OmegaConf.structured(plugin.config))}


class PluginOptions(ConfigSource):
    """Hydra's view of the registry: a group per plugin kind, an option per plugin."""

    @staticmethod
    def scheme() -> str:
        return "nnx-plugins"

    def available(self) -> bool:
        return True

    def load_config(self, config_path: str) -> ConfigResult:
        group, _, name = config_path.removesuffix(".yaml").rpartition("/")
        try:
            node = plugin_node(group, name)
        except NnxError as error:  # a third-party plugin that fails to import, named here
            raise ConfigLoadError(str(error)) from error
        package = f"{group}.{name}" if group in _MANY else None
        config = OmegaConf.create(node)
        for key, value in node.items():  # a free-form mapping takes new keys: model.modules={a: ...}
            if isinstance(value, dict):
                OmegaConf.set_struct(config[key], False)
        return ConfigResult(config=config, path=self.full_path(),
                            provider=self.provider, header={"package": package})

    def is_group(self, config_path: str) -> bool:
        return config_path.strip("/") in ("", *PLUGIN_GROUPS)

    def is_config(self, config_path: str) -> bool:
        group, _, name = config_path.strip("/").removesuffix(".yaml").rpartition("/")
        return group in PLUGIN_GROUPS and name in list_plugins(group)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        path = config_path.strip("/")
        names = PLUGIN_GROUPS if path == "" else list_plugins(path) if path in PLUGIN_GROUPS else ()
        found: list[str] = []
        for name in names:
            self._list_add_result(found, f"{path}/{name}".lstrip("/"), name, results_filter)
        return sorted(set(found))
