"""Checkpoints under ``<run dir>/checkpoints``: ``last.ckpt`` and the best epochs.

``last.ckpt`` is what `nnx resume=` continues from. It is written whenever training stops
(its last epoch, early stopping, a time budget, Ctrl-C/SIGTERM) and, during long runs, at
most every ``trainer.save_last_every_s`` seconds; not at every epoch end, because one save
costs about as much as an epoch of a small model.

The best checkpoint (``best-epoch=N.ckpt``, from the ``checkpoint`` callback, or kept for
early stopping when ``eval.weights=best``) is what the run tests and saves as its predictor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Checkpoint, EarlyStopping, ModelCheckpoint

__all__ = [
    "LastCheckpoint", "Best", "BestCheckpoint", "best_checkpoint_callback", "keep_best_for_early_stopping",
    "best_of",
]


class LastCheckpoint(Checkpoint):
    """Saves ``<folder>/last.ckpt`` at the end of an epoch when training stops or it is due.

    A `Checkpoint`, so Lightning runs it with the monitoring callbacks, after the module's
    own epoch end and after early stopping (and `nnx.training.interrupts.GracefulStop`) have
    decided whether training stops (``trainer.should_stop``): the stopping epoch is saved.
    """

    def __init__(self, folder: Path, every_s: float) -> None:
        self.path = Path(folder) / "last.ckpt"
        self.every_s = every_s
        self._saved_at = time.monotonic()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
        due = time.monotonic() - self._saved_at >= self.every_s
        due = trainer.strategy.broadcast(due)  # every process must agree to save together
        final = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if due or final or trainer.should_stop:
            trainer.save_checkpoint(self.path)
            self._saved_at = time.monotonic()


@dataclass(frozen=True)
class Best:
    """The best epoch a run kept: its checkpoint, 0-based epoch, metric and value."""

    path: str
    epoch: int
    monitor: str
    score: float


class BestCheckpoint(ModelCheckpoint):
    """Lightning's `ModelCheckpoint` whose file names count epochs from 1, as nnx's progress
    lines and ``best_epoch`` do (``best-epoch=4.ckpt`` is the fourth epoch)."""

    def format_checkpoint_name(self, metrics: dict[str, Any], *args: Any, **kwargs: Any) -> str:
        metrics = {**metrics, "epoch": int(metrics.get("epoch", -1)) + 1}
        return super().format_checkpoint_name(metrics, *args, **kwargs)


def best_checkpoint_callback(ctx: Any, monitor: str, mode: str, save_top_k: int = 1) -> ModelCheckpoint:
    """A `BestCheckpoint` keeping the best epochs by ``monitor`` (a file name per phase)."""
    phase = ctx.prefix.replace("/", "-")
    return BestCheckpoint(dirpath=ctx.checkpoint_dir, filename=f"{phase}best-{{epoch}}", monitor=monitor,
                          mode=mode, save_top_k=save_top_k)


def keep_best_for_early_stopping(callbacks: list, ctx: Any) -> None:
    """Early stopping without a best checkpoint: add one on its metric, so the run can test the
    epoch early stopping counts as best (``eval.weights=best``)."""
    if any(isinstance(cb, ModelCheckpoint) and cb.monitor for cb in callbacks):
        return
    stopper = next((cb for cb in callbacks if isinstance(cb, EarlyStopping)), None)
    if stopper is not None:
        callbacks.append(best_checkpoint_callback(ctx, stopper.monitor, stopper.mode))


def best_of(trainer: pl.Trainer) -> Best | None:
    """The best checkpoint the trainer's first monitoring `ModelCheckpoint` kept, or None."""
    import torch

    keeper = next((cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint) and cb.monitor), None)
    if keeper is None or not keeper.best_model_path or keeper.best_model_score is None:
        return None
    epoch = torch.load(keeper.best_model_path, map_location="cpu", weights_only=True)["epoch"]  # noqa: TID251
    return Best(keeper.best_model_path, int(epoch), keeper.monitor, float(keeper.best_model_score))
