"""Hydra's app, run inside the caller's process: the same composition, run dirs, sweepers
and launchers as the `nnx` command, called again and again.

`hydra.main` parses ``sys.argv`` and ends the process; here the same `Hydra` object is
driven directly, and what it sets globally (its singletons, the logging configuration) is
put back when the call returns, so a notebook can call `nnx.run` as often as it likes and
keep its own Hydra session. Errors come out as nnx's one-line `NnxError`s, never SystemExit.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from omegaconf import DictConfig

from nnx.cli.errors import explain
from nnx.config.environment import scoped_env
from nnx.errors import NnxError

__all__ = ["launch", "TASK_NAME"]

#: The job name of the `nnx` command (its file name): the run dirs' log file is ``app.log``.
TASK_NAME = "app"


@contextlib.contextmanager
def _hydra_state_kept() -> Iterator[None]:
    """Put back Hydra's global singletons and the root logger as they were before the block."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.utils import JobRuntime

    global_hydra, hydra_config = GlobalHydra.instance(), HydraConfig.instance()
    runtime = JobRuntime.instance()
    saved = (global_hydra.hydra, hydra_config.cfg, runtime.conf)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    global_hydra.clear()
    try:
        yield
    finally:
        global_hydra.hydra, hydra_config.cfg, runtime.conf = saved
        for handler in root.handlers:
            if handler not in handlers:  # the job's console and log-file handlers
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def _as_nnx_error(error: Exception) -> Exception:
    """Hydra's and OmegaConf's config errors as nnx's one-line errors; anything else as it is."""
    explained = explain(error)
    return error if explained is None else explained


def _hydra_app() -> Any:
    """Hydra's app object for nnx's config tree, which keeps the last config it composed
    (a sweep's: where its dir is, once ``${now:...}`` is resolved)."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import create_automatic_config_search_path

    class _App(Hydra):
        composed: DictConfig | None = None

        def compose_config(self, *args: Any, **kwargs: Any) -> DictConfig:
            self.composed = super().compose_config(*args, **kwargs)
            return self.composed

    search_path = create_automatic_config_search_path(None, None, "pkg://nnx_conf")
    return _App.create_main_hydra2(task_name=TASK_NAME, config_search_path=search_path)


def launch(overrides: Sequence[str], task: Callable[[DictConfig], Any], *, multirun: bool,
           check: Callable[[DictConfig], None] | None = None) -> tuple[Any, DictConfig]:
    """Compose ``conf/train.yaml`` with ``overrides`` and run ``task`` as Hydra's job (one run),
    or sweep it with the configured sweeper and launcher (``multirun``, or a config that sets
    ``hydra.mode: MULTIRUN`` such as ``hparams_search=...``).

    ``check`` sees the composed config before anything runs. Returns Hydra's `JobReturn`
    (one run) or the sweeper's result (a multirun), and the composed config.
    """
    from hydra.types import RunMode

    overrides = [str(o) for o in overrides]
    with _hydra_state_kept(), scoped_env({"HYDRA_FULL_ERROR": "1"}):
        try:
            app = _hydra_app()
            mode = app.get_mode(config_name="train", overrides=overrides)
            if check is not None and app.composed is not None:
                check(app.composed)
            if mode == RunMode.MULTIRUN and not multirun:
                raise NnxError("These overrides sweep (hydra.mode=MULTIRUN, e.g. hparams_search=...): "
                               "call nnx.sweep or nnx.search instead of nnx.run.")
            if multirun and mode != RunMode.MULTIRUN:
                overrides, mode = [*overrides, "hydra.mode=MULTIRUN"], RunMode.MULTIRUN
            run = app.multirun if mode == RunMode.MULTIRUN else app.run
            return run(config_name="train", task_function=task, overrides=overrides), app.composed
        except Exception as error:
            raised = _as_nnx_error(error)
            if raised is error:
                raise
            raise raised from None
