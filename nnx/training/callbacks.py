"""Lightning callbacks that report each epoch: to the terminal and to the tracker."""

from __future__ import annotations

import sys
from typing import Any

import pytorch_lightning as pl

from nnx.tracking.tracker import Tracker

__all__ = ["EpochReport", "format_metrics"]


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
        self.tracker.log_metrics(metrics, step=trainer.current_epoch)
        if self.progress:
            phase = f"{self.prefix[:-1]}: " if self.prefix else ""
            epoch = f"{phase}epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
            line = f"{epoch}  {format_metrics(metrics)}"
            end = "" if self.tty else "\n"
            print(f"\r\033[K{line}" if self.tty else line, end=end, flush=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if self.progress and self.tty and trainer.global_rank == 0:
            print()

    def on_test_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        if trainer.global_rank == 0:
            self.tracker.log_metrics(self._metrics(trainer, ("test/",)), step=trainer.current_epoch)
