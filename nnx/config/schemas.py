"""Typed schemas of the groups that no plugin owns: trainer, tracking, eval, the top level.

Groups that select a plugin (``model``, ``data``, ``optimizer``, ``scheduler``, ``loss``,
``metrics``) are checked against that plugin's own dataclass instead (see `nnx.config.recipe`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from nnx.config.checks import (
    ACCELERATORS,
    PRECISIONS,
    STRATEGIES,
    URI_SCHEMES,
    check,
    check_choice,
    check_metric,
)
from nnx.errors import NnxError, did_you_mean

__all__ = [
    "TrainerConfig", "moved_key", "TrackingConfig", "SweepConfig",
    "EvalConfig", "RunConfig", "LOCAL_URI", "default_uri",
]


@dataclass
class TrainerConfig:
    max_epochs: int = 20  # passes over the training split
    accelerator: str = "auto"  # auto | cpu | gpu | mps: auto uses a GPU when there is one
    devices: Any = "auto"  # auto, a count, or a list of device indices
    strategy: str = "auto"  # auto | ddp | ddp_spawn ... (Lightning strategies)
    num_nodes: int = 1  # machines for multi-node training
    precision: str = "32-true"  # 32-true | 16-mixed | bf16-mixed | 64-true
    gradient_clip_val: float | None = None  # clip gradients to this value (None: no clipping)
    gradient_clip_algorithm: str = "norm"  # norm | value
    fused_steps: int | None = None  # optimizer steps per Lightning step; None: a whole epoch
    progress: bool = True  # one progress line per epoch
    save_last: bool = True  # checkpoints/last.ckpt (what `resume=` continues) whenever training stops
    save_last_every_s: float = 60.0  # and during training, at most this often (seconds)

    def __post_init__(self) -> None:
        check(self.max_epochs >= 1, "max_epochs", self.max_epochs, "an integer >= 1")
        check_choice("accelerator", self.accelerator, ACCELERATORS)
        check_choice("precision", str(self.precision), PRECISIONS)
        check_choice("strategy", self.strategy, STRATEGIES)
        check(_devices_ok(self.devices), "devices", self.devices,
              "auto, a count >= 1 (-1: all), or a list of device indices")
        check(self.num_nodes >= 1, "num_nodes", self.num_nodes, "an integer >= 1")
        check_choice("gradient_clip_algorithm", self.gradient_clip_algorithm, ("norm", "value"))
        check(
            self.gradient_clip_val is None or self.gradient_clip_val > 0,
            "gradient_clip_val", self.gradient_clip_val, "a number > 0, or null",
        )
        check(
            self.fused_steps is None or self.fused_steps >= 1,
            "fused_steps", self.fused_steps, "an integer >= 1, or null",
        )
        check(self.save_last_every_s > 0, "save_last_every_s", self.save_last_every_s,
              "a number of seconds > 0")


#: Keys that moved out of ``trainer`` (dotted under ``trainer.``) -> where they are now.
_MOVED = {
    "early_stopping.enabled": "callbacks=[early_stopping]",
    "early_stopping": "callbacks=[early_stopping] (keys: callbacks.early_stopping.<key>)",
    "checkpoint.enabled": "callbacks=[checkpoint]",
    "checkpoint.save_last": "trainer.save_last",
    "checkpoint.save_last_every_s": "trainer.save_last_every_s",
    "checkpoint": "callbacks=[checkpoint] (keys: callbacks.checkpoint.<key>)",
}


def moved_key(key: str) -> NnxError | None:
    """The one-line error for a key of the old ``trainer`` schema (``trainer.early_stopping.*``,
    ``trainer.checkpoint.*``), naming where it is now; None for any other key."""
    rest = key.lstrip("+~").removeprefix("trainer.")
    if rest == key.lstrip("+~"):
        return None
    group, _, leaf = rest.partition(".")
    if group not in ("early_stopping", "checkpoint"):
        return None
    new = _MOVED.get(rest) or (f"callbacks.{group}.{leaf}" if leaf else _MOVED[group])
    return NnxError(f"'trainer.{rest}' moved: use {new} (the callbacks group, "
                    "docs/pages/training.md#callbacks).")


#: nnx's own store when neither ``tracking.uri`` nor ``MLFLOW_TRACKING_URI`` names one.
LOCAL_URI = "sqlite:///outputs/mlflow.db"


def default_uri() -> str:
    """The store used unless one is named: ``MLFLOW_TRACKING_URI`` (MLflow's own variable,
    which a team sets for its server) when set, else nnx's local SQLite file."""
    return os.environ.get("MLFLOW_TRACKING_URI") or LOCAL_URI


@dataclass
class TrackingConfig:
    backend: str = "mlflow"  # mlflow | none
    uri: str = field(default_factory=default_uri)  # any MLflow tracking URI; MLFLOW_TRACKING_URI, else local
    experiment: str = "nnx"  # MLflow experiment that receives the run
    run_name: str | None = None  # None: MLflow picks a name
    tags: dict[str, str] = field(default_factory=dict)  # extra tags for the run
    log_model: bool = False  # log the model with mlflow.pytorch (registrable); ~2 s per process
    system_metrics: bool = False  # sample CPU/memory/GPU use into system/* metrics
    register: str | None = None  # register the run's model (a sweep's best trial's) under this name
    alias: str = "champion"  # moves to a newly registered model only when it beats the holder

    def __post_init__(self) -> None:
        check_choice("backend", self.backend, ("mlflow", "none"))
        if self.backend == "none":
            return
        scheme = self.uri.partition(":")[0]
        check(scheme in URI_SCHEMES and ":" in self.uri, "uri", self.uri,
              "an MLflow tracking URI: sqlite:///path/mlflow.db, http://host:port, postgresql://..."
              + did_you_mean(scheme, URI_SCHEMES))
        check(bool(self.experiment.strip()), "experiment", self.experiment, "a non-empty name")


@dataclass
class SweepConfig:
    skip_finished: bool = False  # in a multirun, reuse trials whose exact config already FINISHED
    allow_failures: bool = False  # a multirun with failed trials exits 0 (default: 1)


@dataclass
class EvalConfig:
    folds: int | None = None  # k-fold cross-validation: k models, mean ± std; None or 1: off
    fold_seed: int = 0  # shuffles samples into folds; fixed, so changing `seed` keeps the folds
    seeds: Any = None  # N: train with seeds seed..seed+N-1, or a list of seeds; mean ± std; None: off
    threshold: Any = 0.5  # binary targets: positive above this probability; tuned: best val F1
    report: bool = True  # the evaluation report of the test split (evaluation/ in the run)
    weights: str = "best"  # best | last: test the best epoch (when a callback keeps a best) or the last

    def __post_init__(self) -> None:
        check_choice("eval.weights", self.weights, ("best", "last"))
        threshold = self.threshold
        number = isinstance(threshold, (int, float)) and not isinstance(threshold, bool)
        check(threshold == "tuned" or number and 0 < threshold < 1, "eval.threshold", threshold,
              "a probability in (0, 1), or tuned (the best F1 on the validation split)")
        check(self.folds is None or self.folds >= 1, "eval.folds", self.folds, "an integer >= 2, or null")
        seeds = self.seeds
        listed = isinstance(seeds, (list, tuple)) and bool(seeds) and all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s < 2**32 for s in seeds)
        count = isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1
        check(seeds is None or count or listed and len(set(seeds)) == len(seeds), "eval.seeds", seeds,
              "a count >= 1, a list of distinct seeds in [0, 2**32), or null")

    def seed_list(self, seed: int) -> list[int]:
        """The seeds to train with: ``seed`` and the next ones for a count, or the list."""
        if self.seeds is None:
            return [seed]
        if isinstance(self.seeds, int):
            return [seed + i for i in range(self.seeds)]
        return [int(s) for s in self.seeds]

    @property
    def multi_seed(self) -> bool:
        return self.seeds is not None and (not isinstance(self.seeds, int) or self.seeds >= 2)

    @property
    def cross_validate(self) -> bool:
        return self.folds is not None and self.folds >= 2


@dataclass
class RunConfig:
    """Top level of ``conf/train.yaml``; plugin groups are validated by their own schemas."""

    seed: int = 42  # seeds torch, numpy and python for the whole run
    deterministic: bool = True  # deterministic algorithms (Lightning's `deterministic`)
    optimized_metric: str = "val/loss"  # what `nnx` returns to a sweeper
    output_dir: str = "outputs"  # where this run writes files (Hydra's run dir)
    resume: str | None = None  # a run id or run dir: continue its training from its last checkpoint
    rerun: str | None = None  # a run id or run dir: train it again from its config, compare metrics
    data: Any = None
    model: Any = None
    optimizer: Any = None
    scheduler: Any = None
    loss: Any = None
    metrics: Any = None
    trainer: Any = None
    tracking: Any = None
    sweep: SweepConfig = field(default_factory=SweepConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        check(0 <= self.seed < 2**32, "seed", self.seed, "an integer in [0, 2**32)")
        check_metric("optimized_metric", self.optimized_metric)


def _devices_ok(devices: Any) -> bool:
    if devices == "auto":
        return True
    if isinstance(devices, int) and not isinstance(devices, bool):
        return devices >= 1 or devices == -1
    if isinstance(devices, list):
        return bool(devices) and all(isinstance(d, int) and d >= 0 for d in devices)
    return isinstance(devices, str) and devices.replace(",", "").isdigit()
