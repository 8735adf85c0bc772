"""`nnx [overrides]`: the Hydra app. Compose the config, run the job (or a sweep's trial).

Nothing here imports torch, Lightning or MLflow at import time: `nnx --help` and config
errors stay fast. Errors meant for users print as one line (``NNX_FULL_ERROR=1`` shows the
traceback) and exit non-zero.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from nnx.cli.errors import explain, fail
from nnx.config.environment import scoped_env
from nnx.config.schemas import moved_key
from nnx.errors import NnxError, first_line
from nnx.shutdown import exits_fast

__all__ = ["main", "console"]


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


def _check_flags(argv: list[str]) -> None:
    """Refuse unknown flags in one line: argparse would print them as they are, passwords in
    URIs included."""
    from hydra._internal.utils import get_args_parser

    _, unknown = get_args_parser().parse_known_args(argv)
    if unknown:
        raise NnxError(f"unrecognized arguments: {' '.join(unknown)} (flags such as -m go "
                       "before the overrides: nnx -m key=a,b)")


def _check_moved(argv: list[str]) -> None:
    """An override of a key that moved (``trainer.early_stopping.*``) is one line naming the new one."""
    from hydra._internal.utils import get_args_parser
    from hydra.core.override_parser.overrides_parser import OverridesParser

    args = get_args_parser().parse_known_args(argv)[0]
    try:
        overrides = OverridesParser.create().parse_overrides(args.overrides)
    except Exception:  # noqa: BLE001  Hydra reports a malformed override itself, in context
        return
    for override in overrides:
        moved = moved_key(override.key_or_group)
        if moved is not None:
            raise moved


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
    sweep.forget()
    try:
        _check_flags(sys.argv[1:])
        _check_moved(sys.argv[1:])
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
