"""nnx's Hydra config tree, installed as the package ``nnx_conf`` (``pkg://nnx_conf``).

Importing it (Hydra does, to read ``train.yaml``) makes the plugins' options known: the
``nnx-plugins://`` source on ``train.yaml``'s search path builds each from its dataclass.
"""

from hydra.core.plugins import Plugins

from nnx.config.options import PluginOptions

Plugins.instance().register(PluginOptions)
