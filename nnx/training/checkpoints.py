"""``checkpoints/last.ckpt``: what `nnx resume=` continues from.

Written when training stops (its last epoch, early stopping, Ctrl-C/SIGTERM) and, during
long runs, at most every ``trainer.checkpoint.save_last_every_s`` seconds; not at every
epoch end, because one save costs about as much as an epoch of a small model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

__all__ = ["LastCheckpoint"]


class LastCheckpoint(pl.Callback):
    """Saves ``<folder>/last.ckpt`` at the end of an epoch when training stops or it is due.

    Runs after `nnx.training.interrupts.GracefulStop` in the callback list, so an epoch that ends
    with a stop signal (``trainer.should_stop``) is saved.
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
