"""``nnx -m ... tracking.register=NAME``: only the sweep's best trial's model is registered,
once the sweep has found it (`nnx.training.registration`). `nnx.sweeps.sweep` starts
`register_best` as soon as the trials are done: it runs on a thread beside the sweep's own
end (Optuna's plots, closing the parent run, which mostly waits for the tracking writer),
and the sweep prints its result where it did before, once the parent is closed. The result
is also tagged on the parent. `warm_up` does what logging a model costs once per process
while the trials train.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from nnx.config.recipe import Recipe
from nnx.config.secrets import redact
from nnx.errors import first_line

if TYPE_CHECKING:
    from nnx.tracking.writer import Writer

__all__ = ["register_best", "warm_up"]


def warm_up() -> threading.Thread:
    """Import MLflow's pyfunc flavour and build the map of installed packages its requirement
    check scans (seconds, otherwise on the sweep's critical path), on a thread."""
    thread = threading.Thread(target=_warm_up, name="nnx-register-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up() -> None:
    with contextlib.suppress(Exception):
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        import nnx.training.serving  # noqa: F401  mlflow.pyfunc and mlflow.models, the model's code

        _init_packages_to_modules_map()


def register_best(recipe: Recipe, parent: str, best_run_id: str | None, writer: Writer,
                  warming: threading.Thread | None = None) -> Callable[[], None]:
    """Start registering the best trial's model on a thread, once ``warming`` (`warm_up`) is
    done and ``writer`` (the sweep's tracking writer) has stored the trials' last writes (a
    sweep defers them); the function returned waits for it and prints the result: its line
    on stdout, or why nothing was registered on stderr."""
    said: list[tuple[str, bool]] = []

    def work() -> None:
        if warming is not None:
            warming.join()
        try:
            writer.barrier(None)
            said.append((_register_best(recipe, parent, best_run_id), True))
        except Exception as error:  # noqa: BLE001  the sweep itself is done: say it, do not fail it
            said.append((redact(f"nnx: the best trial was not registered: {first_line(error)}"), False))

    thread = threading.Thread(target=work, name="nnx-register", daemon=True)
    thread.start()

    def report() -> None:
        thread.join()
        line, registered = said[0]
        print(line, file=sys.stdout if registered else sys.stderr, flush=True)

    return report


def _register_best(recipe: Recipe, parent: str, best: str | None) -> str:
    from nnx.training.registration import register

    tracking, metric = recipe.tracking, recipe.run.optimized_metric
    if best is None:
        return f"registry nothing registered: no trial of the sweep finished with {metric}"
    done = register(tracking.uri, best, None, tracking.register, tracking.alias, metric, record_on=parent)
    return f"registry {done.line} (the best trial, run {best})"
