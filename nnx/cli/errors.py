"""How every console script reports a user's error: one line on stderr, a non-zero exit.

Hydra's and OmegaConf's own config errors are rewritten as nnx's (`explain`), so a bad
override reads like any other nnx error. ``NNX_FULL_ERROR=1`` shows the traceback instead.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from nnx.config.secrets import redact
from nnx.errors import ConfigKeyError, ConfigValueError, NnxError, UnknownNameError

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


def _yaml_error(error: BaseException) -> NnxError | None:
    """A YAML file that does not parse (the user's own: ``--config-dir``, ``hydra.searchpath``),
    named with the line where the parser stopped."""
    while error is not None and getattr(error, "problem_mark", None) is None:  # PyYAML's MarkedYAMLError
        error = error.__cause__ or error.__context__
    if error is None:
        return None
    mark, context = error.problem_mark, error.context_mark
    started = f" ({error.context} from line {context.line + 1})" if error.context and context else ""
    return NnxError(f"YAML syntax error in {mark.name}, line {mark.line + 1}, column {mark.column + 1}: "
                    f"{error.problem}{started}.")


def _folder_error(error: BaseException) -> NnxError | None:
    """A folder that cannot be created (a run's, a sweep's: under a file, on a read-only disk)."""
    if not isinstance(error, OSError) or error.filename is None:
        return None
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None or frame.tb_frame.f_code.co_name not in ("mkdir", "makedirs"):
        return None
    return NnxError(f"Cannot create the folder '{error.filename}': {error.strerror}. Point output_dir "
                    "(hydra.run.dir, or hydra.sweep.dir for -m) at a folder that can be created.")


def explain(error: BaseException) -> NnxError | None:
    """Hydra's and OmegaConf's config errors as nnx's one-line errors (None: not a config error)."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, OmegaConfBaseException
    from omegaconf.errors import ConfigKeyError as OmegaKeyError

    if isinstance(error, NnxError):
        return error
    known = _yaml_error(error) or _folder_error(error)
    if known is not None:
        return known
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
        owner, _, leaf = cause.full_key.rpartition(".")
        if owner and not fields:  # a mapping of the user's own keys (tracking.tags)
            return NnxError(f"'{owner}' takes keys of your own; add '{leaf}' with a leading '+': "
                            f"+{cause.full_key}=VALUE (or +{owner}={{{leaf}: VALUE}}).")
        return ConfigKeyError(cause.full_key, fields, f"the '{owner or 'top-level'}' config")
    merging = re.match(r"Error merging override ([\w.]+)=(.*)", str(error))
    if merging and isinstance(cause, OmegaConfBaseException):  # a mapping for a list, or the reverse
        given, held = ("a mapping", "a list") if merging[2].startswith("{") else ("a list", "a mapping")
        return ConfigValueError(merging[1], merging[2], f"{held}, as the key holds (not {given})")
    if isinstance(error, (ConfigCompositionException, OverrideParseException, OmegaConfBaseException)):
        return NnxError(str(error).strip().split("\n")[0])
    return None
