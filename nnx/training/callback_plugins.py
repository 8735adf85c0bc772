"""Built-in callbacks, registered like any plugin: ``nnx callbacks=[early_stopping,checkpoint]``.

A callback plugin is ``builder(cfg, ctx: CallbackContext) -> pytorch_lightning.Callback``
registered with `nnx.registry.register_callback`; any Lightning callback can be one. Each
config that watches a metric names it ``monitor``, and its ``mode`` defaults to the metric's
own direction (`nnx.config.metrics.direction`: ``val/acc`` is maximised, ``val/loss``
minimised). Lightning is imported only when a callback is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnx.config.checks import check, check_choice, check_metric
from nnx.config.metrics import direction
from nnx.registry import register_callback

__all__ = [
    "CallbackContext", "EarlyStoppingConfig", "CheckpointConfig", "LrMonitorConfig", "GradNormConfig",
    "TimerConfig", "SwaConfig", "resolve_mode", "early_stopping", "checkpoint", "lr_monitor",
    "grad_norm", "timer", "swa",
]

_MODES = ("auto", "min", "max")


@dataclass(frozen=True)
class CallbackContext:
    """What a callback builder may need from the run: where it writes, and which phase."""

    output_dir: Path  # the run dir
    checkpoint_dir: Path  # <run dir>/checkpoints: last.ckpt and the best checkpoints
    max_epochs: int  # epochs of this training phase
    prefix: str = ""  # the phase's metric prefix (``conv/``) in a multi-phase model, else ''


def resolve_mode(monitor: str, mode: str) -> str:
    """``min`` or ``max``: as given, or (``auto``) the monitored metric's direction."""
    return direction(monitor) if mode == "auto" else mode


@dataclass
class _Monitored:
    monitor: str = field(default="val/loss", metadata={"help": "the metric key to watch (val/acc)"})
    mode: str = field(default="auto", metadata={
        "help": "min | max | auto: the metric's own direction (val/acc: max, val/loss: min)"})

    def __post_init__(self) -> None:
        check_metric("monitor", self.monitor)
        check_choice("mode", self.mode, _MODES)


@dataclass
class EarlyStoppingConfig(_Monitored):
    patience: int = field(default=5, metadata={"help": "epochs without improvement before stopping"})
    min_delta: float = field(default=0.0, metadata={"help": "the smallest change that is an improvement"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.patience >= 1, "patience", self.patience, "an integer >= 1")
        check(self.min_delta >= 0, "min_delta", self.min_delta, "a number >= 0")


@dataclass
class CheckpointConfig(_Monitored):
    save_top_k: int = field(default=1, metadata={"help": "how many of the best epochs to keep on disk"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.save_top_k >= 1, "save_top_k", self.save_top_k, "an integer >= 1")


@dataclass
class LrMonitorConfig:
    log_momentum: bool = field(default=False, metadata={"help": "also log each group's momentum (beta1)"})


@dataclass
class GradNormConfig:
    norm_type: float = field(default=2.0, metadata={"help": "the p of the p-norm (2: Euclidean)"})

    def __post_init__(self) -> None:
        check(self.norm_type > 0, "norm_type", self.norm_type, "a number > 0 (2.0, or inf)")


@dataclass
class TimerConfig:
    minutes: float = field(default=60.0, metadata={"help": "wall-clock budget of the fit, in minutes"})
    interval: str = field(default="epoch", metadata={
        "help": "epoch | step: when the budget is checked (step needs Lightning's per-batch loop)"})

    def __post_init__(self) -> None:
        check(self.minutes > 0, "minutes", self.minutes, "a number of minutes > 0")
        check_choice("interval", self.interval, ("epoch", "step"))


@dataclass
class SwaConfig:
    swa_lr: float = field(default=0.01, metadata={"help": "learning rate while weights are averaged"})
    swa_epoch_start: float = field(default=0.8, metadata={
        "help": "first averaged epoch: a fraction of max_epochs (0.8) or an epoch number (>= 1)"})
    annealing_epochs: int = field(default=10, metadata={"help": "epochs to anneal the lr to swa_lr"})
    annealing_strategy: str = field(default="cos", metadata={"help": "cos | linear"})

    def __post_init__(self) -> None:
        check(self.swa_lr > 0, "swa_lr", self.swa_lr, "a number > 0")
        check(self.swa_epoch_start > 0, "swa_epoch_start", self.swa_epoch_start,
              "a fraction in (0, 1) or an epoch number >= 1")
        check(self.annealing_epochs >= 1, "annealing_epochs", self.annealing_epochs, "an integer >= 1")
        check_choice("annealing_strategy", self.annealing_strategy, ("cos", "linear"))


@register_callback(EarlyStoppingConfig)
def early_stopping(cfg: EarlyStoppingConfig, ctx: CallbackContext) -> Any:
    """Stop when `monitor` has not improved for `patience` epochs; prints why and the best epoch."""
    from nnx.training.stopping import EarlyStop

    return EarlyStop(monitor=cfg.monitor, mode=resolve_mode(cfg.monitor, cfg.mode),
                     patience=cfg.patience, min_delta=cfg.min_delta)


@register_callback(CheckpointConfig)
def checkpoint(cfg: CheckpointConfig, ctx: CallbackContext) -> Any:
    """Keep the best epochs by `monitor` under <run dir>/checkpoints; tests use the best."""
    from nnx.training.checkpoints import best_checkpoint_callback

    return best_checkpoint_callback(ctx, cfg.monitor, resolve_mode(cfg.monitor, cfg.mode), cfg.save_top_k)


@register_callback(LrMonitorConfig)
def lr_monitor(cfg: LrMonitorConfig, ctx: CallbackContext) -> Any:
    """Log every parameter group's learning rate (train/lr_pg<i>) at each epoch's start."""
    from nnx.training.callbacks import LrMonitor

    return LrMonitor(cfg.log_momentum)


@register_callback(GradNormConfig)
def grad_norm(cfg: GradNormConfig, ctx: CallbackContext) -> Any:
    """Log the gradient norm before each optimizer step (train/grad_norm, the epoch's mean)."""
    from nnx.training.callbacks import GradNorm

    return GradNorm(cfg.norm_type)


@register_callback(TimerConfig)
def timer(cfg: TimerConfig, ctx: CallbackContext) -> Any:
    """Stop training when a wall-clock budget (`minutes`) is used up."""
    from datetime import timedelta

    from nnx.training.stopping import Budget

    return Budget(duration=timedelta(minutes=cfg.minutes), interval=cfg.interval)


@register_callback(SwaConfig)
def swa(cfg: SwaConfig, ctx: CallbackContext) -> Any:
    """Stochastic weight averaging over the last epochs (Lightning's StochasticWeightAveraging)."""
    from pytorch_lightning.callbacks import StochasticWeightAveraging

    start = cfg.swa_epoch_start if cfg.swa_epoch_start < 1 else int(cfg.swa_epoch_start)
    return StochasticWeightAveraging(swa_lrs=cfg.swa_lr, swa_epoch_start=start,
                                     annealing_epochs=cfg.annealing_epochs,
                                     annealing_strategy=cfg.annealing_strategy)
