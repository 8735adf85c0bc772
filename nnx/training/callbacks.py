"""Lightning callbacks that report: each epoch's metrics (to the terminal and the tracker), the
learning rates and the gradient norm (as ``train/`` metrics of the epoch)."""

from __future__ import annotations

import sys
from typing import Any

import pytorch_lightning as pl

from nnx.tracking.tracker import Tracker
from nnx.training.task import publish

__all__ = ["EpochReport", "LrMonitor", "GradNorm", "format_metrics"]


def format_metrics(metrics: dict[str, float]) -> str:
    """``train/loss 0.412  val/acc 0.953`` in key order."""
    return "  ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))


class EpochReport(pl.Callback):
    """Sends each epoch's metrics to the tracker and prints one progress line.

    On a terminal the line is redrawn in place; otherwise (logs, CI) it is a plain line per
    epoch. Test metrics are sent when testing ends. ``prefix`` names the training phase
    (``conv/``) in every metric key of a multi-phase run.
    """

    def __init__(self, tracker: Tracker, progress: bool, prefix: str = "") -> None:
        self.tracker = tracker
        self.progress = progress
        self.prefix = prefix
        self.tty = sys.stdout.isatty()
        self.history: list[dict[str, float]] = []
        self.by_epoch: dict[int, dict[str, float]] = {}  # the same rows by 0-based epoch

    def _metrics(self, trainer: pl.Trainer, splits: tuple[str, ...]) -> dict[str, float]:
        return {
            self.prefix + k: float(v)
            for k, v in trainer.callback_metrics.items() if k.startswith(splits)
        }

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_rank != 0:
            return
        metrics = self._metrics(trainer, ("train/", "val/"))
        self.history.append(metrics)
        self.by_epoch[trainer.current_epoch] = metrics
        self.tracker.log_metrics(metrics, step=trainer.current_epoch)
        if self.progress:
            phase = f"{self.prefix[:-1]}: " if self.prefix else ""
            epoch = f"{phase}epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
            line = f"{epoch}  {format_metrics(metrics)}"
            # one write per line: the lines of parallel workers sharing a stdout never tear
            print(f"\r\033[K{line}" if self.tty else f"{line}\n", end="", flush=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.progress and self.tty and trainer.global_rank == 0:
            print()

    def on_test_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_rank == 0:
            self.tracker.log_metrics(self._metrics(trainer, ("test/",)), step=trainer.current_epoch)


class LrMonitor(pl.Callback):
    """Logs each parameter group's learning rate (``train/lr_pg<i>``) as an epoch starts.

    nnx's schedulers step once per epoch, so this is every value the rates take. Lightning's
    `LearningRateMonitor` needs a Lightning logger, which nnx does not use.
    """

    def __init__(self, log_momentum: bool = False) -> None:
        self.log_momentum = log_momentum

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        for i, group in enumerate(trainer.optimizers[0].param_groups):
            values = {f"train/lr_pg{i}": group["lr"]}
            if self.log_momentum:
                values[f"train/momentum_pg{i}"] = group.get("momentum", group.get("betas", (0.0,))[0])
            publish(trainer, values)


class GradNorm(pl.Callback):
    """Logs the norm of all gradients before each optimizer step, as the epoch's mean
    (``train/grad_norm``). It needs Lightning's per-step hook, so a run with it leaves the
    fused fast path (`nnx.training.hooks`)."""

    def __init__(self, norm_type: float = 2.0) -> None:
        self.norm_type = norm_type

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: Any, optimizer: Any) -> None:
        from pytorch_lightning.utilities import grad_norm

        norms = grad_norm(pl_module, self.norm_type)
        total = norms.get(f"grad_{float(self.norm_type)}_norm_total")
        if total is not None:
            pl_module.log("train/grad_norm", total, on_step=False, on_epoch=True, batch_size=1)
