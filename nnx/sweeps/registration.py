"""``nnx -m ... tracking.register=NAME``: only the sweep's best trial's model is logged and
registered, once the sweep has found it (`nnx.training.registration`).

A Hydra callback listed before ``nnx_sweep`` in ``conf/hydra/default.yaml``: Hydra ends
callbacks in reverse order, so it runs after `SweepCallback` has recorded the best trial on
the parent run. The result is printed and tagged on the parent run.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from nnx.config.recipe import to_dataclass
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact
from nnx.errors import NnxError, first_line
from nnx.sweeps.trials import SWEEP_FILE

__all__ = ["RegisterBest"]


def _registers(config: DictConfig) -> TrackingConfig | None:
    tracking = to_dataclass(config.get("tracking"), TrackingConfig, "tracking")
    return tracking if tracking.register and tracking.backend == "mlflow" else None


def _warm_up() -> None:
    """What logging a model costs once per process, done while the trials train: importing
    MLflow's pyfunc flavour, and the map of installed packages its requirement check scans
    (seconds; it would otherwise run after the sweep, on its critical path)."""
    with contextlib.suppress(Exception):
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        _init_packages_to_modules_map()


class RegisterBest(Callback):
    """Registers the best trial's model of a sweep run with ``tracking.register=NAME``."""

    def __init__(self) -> None:
        self._warming: threading.Thread | None = None

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if _registers(config) is not None:
            self._warming = threading.Thread(target=_warm_up, name="nnx-register-warm-up", daemon=True)
            self._warming.start()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        tracking = _registers(config)
        if tracking is None:
            return
        if self._warming is not None:
            self._warming.join()
        info_file = Path(str(config.hydra.sweep.dir)) / SWEEP_FILE
        parent = json.loads(info_file.read_text()).get("parent_run_id") if info_file.is_file() else None
        try:
            line = _register_best(tracking, parent, str(config.get("optimized_metric", "val/loss")))
        except Exception as error:  # noqa: BLE001  Hydra would turn it into a warning
            line = f"nnx: the best trial was not registered: {first_line(error)}"
            print(redact(line), file=sys.stderr, flush=True)
            return
        print(line, flush=True)


def _register_best(tracking: TrackingConfig, parent: str | None, metric: str) -> str:
    from nnx.tracking.store import Store
    from nnx.training.registration import register
    from nnx.training.resume import OUTPUT_DIR_TAG

    if parent is None:
        raise NnxError("the sweep has no parent run")
    with Store.of(tracking.uri).session() as client:
        best = client.get_run(parent).data.tags.get("nnx.best_run_id")
        if best is None:
            return f"registry nothing registered: no trial of the sweep finished with {metric}"
        run_dir = client.get_run(best).data.tags.get(OUTPUT_DIR_TAG, "")
    done = register(tracking.uri, best, Path(run_dir), tracking.register, tracking.alias, metric,
                    record_on=parent)
    return f"registry {done.line} (the best trial, run {best})"
