"""`nnx [overrides]`: the Hydra app. Compose the config, run the job (or a sweep's trial).

Nothing here imports torch, Lightning or MLflow at import time: `nnx --help` and config
errors stay fast. Errors meant for users print as one line (``NNX_FULL_ERROR=1`` shows the
traceback) and exit non-zero.
"""

from __future__ import annotations

import contextlib
import os
import sys
from importlib import resources
from typing import Any

import hydra
from omegaconf import DictConfig

from nnx.cli.errors import explain, fail
from nnx.config.environment import scoped_env
from nnx.errors import NnxError, first_line
from nnx.registry import KINDS, get_plugin, list_plugins
from nnx.shutdown import exits_fast

__all__ = ["main", "console", "store_options_without_yaml"]


@hydra.main(version_base="1.3", config_path="pkg://nnx_conf", config_name="train")
def _app(cfg: DictConfig) -> Any:
    from nnx.sweeps.trial import in_sweep, run_trial
    from nnx.training.pipeline import main as run_job

    if in_sweep():  # a failed trial is recorded in its outcome and the sweep goes on
        return run_trial(cfg)
    try:
        return run_job(cfg)
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        fail("nnx", error)


def _chosen(overrides: list[Any], kind: str, known: list[str]) -> set[str]:
    """The plugin names of one kind that command-line overrides select or sweep over."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    names: set[str] = set()
    for override in overrides:
        space = _search_space(override, kind)
        if space is not None:  # a sweeper's search space, given as text: `choice(a,b)`
            names |= _chosen([OverridesParser.create().parse_override(f"{kind}={space}")], kind, known)
            continue
        if override.key_or_group != kind:
            continue
        value = override.value()
        if hasattr(value, "filter"):  # glob(...): the known names it matches
            names.update(value.filter(known))
        else:  # a name, a list of names (metrics=[f1,auroc]), or a sweep of either
            for choice in override.sweep_iterator() if override.is_sweep_override() else [value]:
                names.update(map(str, choice) if isinstance(choice, list) else [str(choice)])
    return names


def _search_space(override: Any, kind: str) -> str | None:
    """The search space of ``kind`` in ``hydra.sweeper.params.<kind>='...'`` or
    ``hydra.sweeper.params={<kind>: '...'}``."""
    if override.key_or_group == f"hydra.sweeper.params.{kind}":
        return str(override.value())
    value = override.value() if override.key_or_group == "hydra.sweeper.params" else None
    return str(value[kind]) if isinstance(value, dict) and kind in value else None


def _package(kind: str, name: str) -> str | None:
    """Where an option of a group that selects several at once goes (``metrics.f1``)."""
    return f"{kind}.{name}" if kind == "metrics" else None


def store_options_without_yaml(argv: list[str]) -> None:
    """Make entry-point plugins that ship no YAML selectable (``nnx model=theirs``).

    The overrides are read with Hydra's own parser (``+model=x``, ``model=a,b``,
    ``model=glob(*)``, ``hydra.sweeper.params.model='choice(a,b)'``); only the plugins they
    name are imported, to build their config node. A YAML that names one needs it on the
    command line too, or a YAML of its own in the plugin's package.
    """
    from hydra._internal.utils import get_args_parser
    from hydra.core.config_store import ConfigStore
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from nnx.config.describe import fields_of

    args, unknown = get_args_parser().parse_known_args(argv)
    if unknown:  # argparse would print them as they are, passwords in URIs included
        raise NnxError(f"unrecognized arguments: {' '.join(unknown)} (flags such as -m go "
                       "before the overrides: nnx -m key=a,b)")
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except Exception:  # noqa: BLE001  Hydra reports a malformed override itself, in context
        return
    conf = resources.files("nnx_conf")
    store = ConfigStore.instance()
    for kind in KINDS:
        known = list_plugins(kind)
        for name in _chosen(overrides, kind, known) & set(known):
            if not (conf / kind / f"{name}.yaml").is_file():
                plugin = get_plugin(kind, name)
                node = {"name": name, **{f.name: f.default for f in fields_of(plugin.config)}}
                store.store(group=kind, name=name, node=node, package=_package(kind, name))


def _hydra_raises() -> contextlib.AbstractContextManager[None]:
    """Let Hydra's config errors reach `explain` instead of Hydra printing them, for the
    length of the app only: the variable is restored afterwards."""
    return scoped_env({"HYDRA_FULL_ERROR": "1"})


def _close_quietly(writer: Any) -> None:
    """Store what a stopped or failed command tracked; the error that stopped it is the one
    to report."""
    with contextlib.suppress(Exception):
        writer.close()


def main() -> None:
    """`nnx [overrides]`: compose the config with Hydra, validate it, train, track."""
    from nnx.sweeps import sweep
    from nnx.tracking import writer

    full_error = os.environ.get("NNX_FULL_ERROR") == "1"
    try:
        store_options_without_yaml(sys.argv[1:])
        with _hydra_raises():
            _app()
        writer.close()  # everything tracked is stored before the command returns
    except sweep.SweepStopped as stopped:
        _close_quietly(writer)
        if full_error:
            raise
        error = explain(stopped.error) or NnxError(first_line(stopped.error))
        fail("nnx", NnxError(f"{stopped.where}: {error}") if stopped.where else error)
    except KeyboardInterrupt as stop:
        sweep.abort("KILLED")
        _close_quietly(writer)
        print(f"nnx: interrupted{f': {stop}' if str(stop) else ''}", file=sys.stderr)
        sys.exit(getattr(stop, "exit_code", 130))
    except Exception as error:
        sweep.abort("FAILED")
        _close_quietly(writer)
        explained = explain(error)
        if explained is None or full_error:
            raise
        fail("nnx", explained)
    sys.exit(sweep.exit_code())


#: The `nnx` console script: `main`, then the process ends without the interpreter's teardown.
console = exits_fast(main)
