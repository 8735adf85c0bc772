"""Console entry points. `nnx` is the Hydra app; `nnx-plugins` lists plugins.

Nothing here imports torch, Lightning or MLflow: `nnx --help`, `nnx-plugins` and config
errors stay fast. Errors meant for users print as one line (``NNX_FULL_ERROR=1`` shows
the traceback) and exit non-zero.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import resources
from typing import Any

import hydra
from omegaconf import DictConfig

from nnx.errors import ConfigKeyError, NnxError, UnknownNameError
from nnx.registry import KINDS, get_plugin, list_plugins

__all__ = ["main", "plugins_main"]


@hydra.main(version_base="1.3", config_path="pkg://nnx_conf", config_name="train")
def _app(cfg: DictConfig) -> float | None:
    from nnx.sweep import in_sweep, run_trial
    from nnx.train import main as train_main

    if in_sweep():  # a failed trial is recorded and the sweep goes on
        return run_trial(cfg, train_main)
    try:
        return train_main(cfg)
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        _fail(error)


def _store_options_without_yaml(argv: list[str]) -> None:
    """Make entry-point plugins that ship no YAML selectable (``nnx model=theirs``).

    Only plugins named on the command line are imported, to build their config node.
    """
    from hydra.core.config_store import ConfigStore

    from nnx.describe import fields_of

    conf = resources.files("nnx_conf")
    store = ConfigStore.instance()
    for kind in KINDS:
        chosen = {v for arg in argv if arg.startswith(f"{kind}=") for v in arg[len(kind) + 1 :].split(",")}
        for name in chosen & set(list_plugins(kind)):
            if not (conf / kind / f"{name}.yaml").is_file():
                plugin = get_plugin(kind, name)
                node = {"name": name, **{f.name: f.default for f in fields_of(plugin.config)}}
                store.store(group=kind, name=name, node=node)


def _register_launchers(argv: list[str]) -> None:
    """Make nnx's own Hydra launcher known when chosen (Hydra finds it by itself only when
    nnx is installed from a wheel, not from an editable checkout)."""
    if any(arg.startswith("hydra/launcher=joblib_resilient") for arg in argv):
        from hydra.core.plugins import Plugins
        from hydra_plugins.nnx_launcher import ResilientJoblibLauncher

        Plugins.instance().register(ResilientJoblibLauncher)


def _explain(error: BaseException) -> NnxError | None:
    """Hydra's and OmegaConf's config errors, rewritten as nnx's one-line errors."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, OmegaConfBaseException
    from omegaconf.errors import ConfigKeyError as OmegaKeyError

    if isinstance(error, NnxError):
        return error
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, name = error.missing_cfg_file.rpartition("/")
        if group and error.options is not None:
            return UnknownNameError(f"{group} option", name, error.options, fix="`nnx-plugins` lists them.")
    cause = error.__cause__
    if isinstance(cause, (OmegaKeyError, ConfigAttributeError)) and cause.full_key:
        parent = cause.parent_node
        fields = [str(k) for k in parent.keys()] if hasattr(parent, "keys") else []
        owner = cause.full_key.rpartition(".")[0] or "top-level"
        return ConfigKeyError(cause.full_key, fields, f"the '{owner}' config")
    if isinstance(error, (ConfigCompositionException, OverrideParseException, OmegaConfBaseException)):
        return NnxError(str(error).strip().split("\n")[0])
    return None


def _fail(error: NnxError) -> None:
    print(f"nnx: error: {error}", file=sys.stderr)
    sys.exit(error.exit_code)


def main() -> None:
    """`nnx [overrides]`: compose the config with Hydra, validate it, train, track."""
    full_error = os.environ.get("NNX_FULL_ERROR") == "1"
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let config errors reach _explain
    from nnx import sweep

    try:
        _store_options_without_yaml(sys.argv[1:])
        _register_launchers(sys.argv[1:])
        _app()
    except KeyboardInterrupt as stop:
        sweep.abort("KILLED")
        print(f"nnx: interrupted{f': {stop}' if str(stop) else ''}", file=sys.stderr)
        sys.exit(getattr(stop, "exit_code", 130))
    except Exception as error:
        sweep.abort("FAILED")
        explained = _explain(error)
        if explained is None or full_error:
            raise
        _fail(explained)
    sys.exit(sweep.exit_code())


def _plugins_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-plugins",
        description="List nnx's plugins (models, data, optimizers, schedulers) and their config fields.",
    )
    parser.add_argument("name", nargs="?", help="show one plugin's fields in full")
    parser.add_argument("--kind", choices=list(KINDS), help="only this kind")
    return parser


def plugins_main(argv: list[str] | None = None) -> None:
    """`nnx-plugins [NAME] [--kind KIND]`: what can be selected, and how to configure it."""
    from nnx.describe import details, kinds_with, listing

    args: Any = _plugins_parser().parse_args(argv)
    try:
        if args.name is None:
            print(listing([args.kind] if args.kind else list(KINDS)), end="")
            return
        kinds = [args.kind] if args.kind else kinds_with(args.name) or ["model"]
        for kind in kinds:
            print(details(get_plugin(kind, args.name)))
    except NnxError as error:
        _fail(error)
