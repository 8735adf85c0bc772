"""``hydra/sweeper=optuna``: nnx's Hydra sweeper on Optuna's ask-and-tell API.

Installed as ``hydra_plugins.nnx_search`` (Hydra looks for sweepers in that namespace;
``nnx.cli.app`` also registers it, for editable installs). Options of the samplers
(``hydra/sweeper/sampler=tpe|random|cmaes|gp|qmc|grid``) and pruners
(``hydra/sweeper/pruner=none|median|percentile|hyperband|successive_halving``) are config
groups, so an unknown name or a mistyped argument fails while the config is composed.
Optuna itself is imported only when the search starts (`nnx.sweeps.workers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from omegaconf import MISSING, DictConfig

__all__ = ["NnxOptunaSweeper", "NnxOptunaConf"]


@dataclass
class TPE:
    name: str = "tpe"
    seed: int | None = None          # the same seed proposes the same trials (one worker)
    n_startup_trials: int = 10       # random trials before TPE models the results
    multivariate: bool = False       # model the parameters jointly
    constant_liar: bool = False      # parallel workers avoid proposing what others run


@dataclass
class Random:
    name: str = "random"
    seed: int | None = None


@dataclass
class CmaEs:
    name: str = "cmaes"
    seed: int | None = None
    sigma0: float | None = None      # initial step size (default: 1/6 of the range)
    n_startup_trials: int = 1


@dataclass
class GP:
    name: str = "gp"
    seed: int | None = None
    n_startup_trials: int = 10
    deterministic_objective: bool = False


@dataclass
class QMC:
    name: str = "qmc"
    seed: int | None = None
    qmc_type: str = "sobol"          # sobol | halton
    scramble: bool = False


@dataclass
class Grid:
    name: str = "grid"               # every combination of choice(...) / range(...) once
    seed: int | None = None


@dataclass
class NoPruner:
    name: str = "none"


@dataclass
class Median:
    name: str = "median"             # prune below the median of earlier trials at this epoch
    n_startup_trials: int = 5        # trials that finish before any is pruned
    n_warmup_steps: int = 0          # epochs of each trial never pruned
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class Percentile:
    name: str = "percentile"
    percentile: float = 25.0         # keep the best `percentile` % at each epoch
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    interval_steps: int = 1
    n_min_trials: int = 1


@dataclass
class Hyperband:
    name: str = "hyperband"
    min_resource: int = 1            # epochs every trial gets
    max_resource: Any = "auto"       # epochs the best get (auto: from the first finished trial)
    reduction_factor: int = 3


@dataclass
class SuccessiveHalving:
    name: str = "successive_halving"
    min_resource: Any = "auto"
    reduction_factor: int = 4
    min_early_stopping_rate: int = 0


@dataclass
class NnxOptunaConf:
    _target_: str = "hydra_plugins.nnx_search.NnxOptunaSweeper"
    defaults: list[Any] = field(default_factory=lambda: [{"sampler": "tpe"}, {"pruner": "none"}])
    direction: Any = "minimize"      # minimize | maximize, or a list of them (multi-objective)
    metrics: Any = None              # the metrics to optimise (default: [optimized_metric])
    study_name: str | None = None    # default: the hparams_search name, else "nnx"
    storage: str | None = None       # any Optuna storage URL; default: a journal beside the MLflow store
    n_trials: int = 20               # finished (complete or pruned) trials of the study, in total
    n_jobs: int = 1                  # workers, each asking for a trial as soon as its last ends
    max_failures: int | None = None  # failed trials after which this sweep stops (default n_trials)
    torch_threads: int | None = None  # per worker (default: cores / workers)
    plots: bool = True               # Optuna's plots as PNG artifacts of the parent run
    sampler: Any = MISSING           # hydra/sweeper/sampler=...
    pruner: Any = MISSING            # hydra/sweeper/pruner=...
    params: dict[str, Any] | None = None  # the search space, in Hydra's override syntax


class NnxOptunaSweeper(Sweeper):
    """Asks Optuna for trials, runs each as an nnx job, tells it the metric."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.context: dict[str, Any] = {}

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        self.context = {"hydra_context": hydra_context, "task_function": task_function, "config": config}

    def sweep(self, arguments: list[str]) -> Any:
        from nnx.sweeps.workers import run_search

        return run_search(arguments=arguments, **self.context)


def register() -> None:
    """Store the sweeper's configs (Hydra's discovery would, for a wheel install)."""
    store = ConfigStore.instance()
    store.store(group="hydra/sweeper", name="optuna", node=NnxOptunaConf, provider="nnx")
    for node in (TPE, Random, CmaEs, GP, QMC, Grid):
        store.store(group="hydra/sweeper/sampler", name=node.name, node=node, provider="nnx")
    for node in (NoPruner, Median, Percentile, Hyperband, SuccessiveHalving):
        store.store(group="hydra/sweeper/pruner", name=node.name, node=node, provider="nnx")


register()
