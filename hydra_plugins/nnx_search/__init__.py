"""``hydra/sweeper=optuna``: nnx's Hydra sweeper on Optuna's ask-and-tell API.

It lives in Hydra's ``hydra_plugins`` namespace package, where Hydra discovers sweepers. Its
config is
``conf/hydra/sweeper/optuna.yaml``; the samplers (``hydra/sweeper/sampler=tpe|random|cmaes|
gp|qmc|grid``) and pruners (``hydra/sweeper/pruner=none|median|percentile|hyperband|
successive_halving``) are config groups beside it, so an unknown name fails while the config
is composed (their schemas: `nnx.sweeps.spaces`). Optuna itself is imported only when
the search starts (`nnx.sweeps.workers`).
"""

from __future__ import annotations

from typing import Any

from hydra.plugins.sweeper import Sweeper
from omegaconf import DictConfig

__all__ = ["NnxOptunaSweeper"]


class NnxOptunaSweeper(Sweeper):
    """Asks Optuna for trials, runs each as an nnx job, tells it the metric."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.context: dict[str, Any] = {}

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        self.context = {"hydra_context": hydra_context, "task_function": task_function, "config": config}

    def sweep(self, arguments: list[str]) -> Any:
        """Run the search that the sweep checked when it started (``arguments`` were part of it)."""
        from nnx.sweeps.workers import run_search

        return run_search(hydra_context=self.context["hydra_context"], config=self.context["config"])
