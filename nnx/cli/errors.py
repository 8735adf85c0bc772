"""How every console script reports a user's error: one line on stderr, a non-zero exit.

Hydra's and OmegaConf's own config errors are rewritten as nnx's (`explain`), so a bad
override reads like any other nnx error. ``NNX_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from nnx.config.secrets import redact
from nnx.errors import ConfigKeyError, NnxError, UnknownNameError

__all__ = ["fail", "explain"]


def fail(prog: str, error: NnxError) -> NoReturn:
    """Print ``prog: error: <message>`` (credentials masked) and exit with the error's code."""
    print(f"{prog}: error: {redact(str(error))}", file=sys.stderr)
    sys.exit(error.exit_code)


def _options(group: str) -> list[str]:
    """A group's options: its YAML files and, for a plugin kind, its registered plugins."""
    from importlib import resources

    from nnx.registry import KINDS, list_plugins

    folder = resources.files("nnx_conf") / group
    found = {p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")} if folder.is_dir() else set()
    return sorted(found | set(list_plugins(group) if group in KINDS else ()))


def explain(error: BaseException) -> NnxError | None:
    """Hydra's and OmegaConf's config errors as nnx's one-line errors (None: not a config error)."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, OmegaConfBaseException
    from omegaconf.errors import ConfigKeyError as OmegaKeyError

    if isinstance(error, NnxError):
        return error
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        if group and error.options is not None:
            return UnknownNameError(f"{group} option", name, error.options, fix="`nnx-plugins` lists them.")
    listed = re.search(r"Could not load '(\w+)/(\w+)'", str(error))  # one of several (metrics=[a,b])
    if isinstance(error, MissingConfigException) and listed:
        return UnknownNameError(f"{listed[1]} option", listed[2], _options(listed[1]),
                                fix="`nnx-plugins` lists them.")
    cause = error.__cause__
    if isinstance(cause, (OmegaKeyError, ConfigAttributeError)) and cause.full_key:
        parent = cause.parent_node
        fields = [str(k) for k in parent.keys()] if hasattr(parent, "keys") else []
        owner = cause.full_key.rpartition(".")[0] or "top-level"
        return ConfigKeyError(cause.full_key, fields, f"the '{owner}' config")
    if isinstance(error, (ConfigCompositionException, OverrideParseException, OmegaConfBaseException)):
        return NnxError(str(error).strip().split("\n")[0])
    return None
