"""The schemas of the search's samplers and pruners: each argument typed, defaulted, commented.

The options themselves are ``conf/hydra/sweeper/{sampler,pruner}/*.yaml``; `nnx.sweeps.study`
merges the chosen one over its schema, so a mistyped argument fails before the first trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["SAMPLERS", "PRUNERS"]


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


SAMPLERS = {c.name: c for c in (TPE, Random, CmaEs, GP, QMC, Grid)}
PRUNERS = {c.name: c for c in (NoPruner, Median, Percentile, Hyperband, SuccessiveHalving)}
