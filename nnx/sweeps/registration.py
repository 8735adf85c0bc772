"""``nnx -m ... tracking.register=NAME``: only the sweep's best trial's model is registered,
once the sweep has found it (`nnx.training.registration`); `nnx.sweeps.sweep` calls
`register_best` when it closes the parent run. The result is printed and tagged on the parent.
`warm_up` does what logging a model costs once per process while the trials train.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

from nnx.config.recipe import Recipe
from nnx.config.secrets import redact
from nnx.errors import first_line

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

        _init_packages_to_modules_map()


def register_best(recipe: Recipe, parent: str, best_run_id: str | None) -> None:
    """Register the best trial's model (a line on stdout), or say why not (on stderr)."""
    try:
        print(_register_best(recipe, parent, best_run_id), flush=True)
    except Exception as error:  # noqa: BLE001  the sweep itself is done: say it, do not fail it
        print(redact(f"nnx: the best trial was not registered: {first_line(error)}"), file=sys.stderr,
              flush=True)


def _register_best(recipe: Recipe, parent: str, best: str | None) -> str:
    from nnx.tracking.store import Store
    from nnx.training.registration import register
    from nnx.training.resume import OUTPUT_DIR_TAG

    tracking, metric = recipe.tracking, recipe.run.optimized_metric
    if best is None:
        return f"registry nothing registered: no trial of the sweep finished with {metric}"
    with Store.of(tracking.uri).session() as client:
        run_dir = client.get_run(best).data.tags.get(OUTPUT_DIR_TAG, "")
    done = register(tracking.uri, best, Path(run_dir), tracking.register, tracking.alias, metric,
                    record_on=parent)
    return f"registry {done.line} (the best trial, run {best})"
