"""Hydra discovers nnx's plugin options here: a search-path plugin puts the ``nnx-plugins://``
config source (`nnx.config.options.PluginOptions`, which builds each option from its plugin's
dataclass) on the search path of nnx's config tree, for the app and the compose API alike."""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from nnx.config.options import PluginOptions

__all__ = ["PluginOptions", "PluginOptionsPath"]


class PluginOptionsPath(SearchPathPlugin):
    """Adds ``nnx-plugins://`` after nnx's ``conf/`` (only where nnx's config tree is used)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if any(element.path == "pkg://nnx_conf" for element in search_path.get_path()):
            search_path.append(provider="nnx-plugins", path=f"{PluginOptions.scheme()}://")
