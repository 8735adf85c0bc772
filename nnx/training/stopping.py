"""Callbacks that end training early, and the one line that says when, why and what was best.

Lightning's `EarlyStopping` and `Timer` stop a fit silently (their messages go to Lightning's
info log, which nnx keeps quiet); these subclasses remember the epoch they stopped at and the
best epoch, so `stop_line` can tell the user.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, Timer

__all__ = ["EarlyStop", "Budget", "stop_line"]


class EarlyStop(EarlyStopping):
    """Lightning's early stopping that also remembers its best epoch (0-based)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.best_epoch: int | None = None

    def _run_early_stopping_check(self, trainer: pl.Trainer) -> None:
        super()._run_early_stopping_check(trainer)
        if self.monitor in trainer.callback_metrics and self.wait_count == 0:
            self.best_epoch = trainer.current_epoch

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "best_epoch": self.best_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """A resumed run keeps its count and best, with the patience it is given now; it has
        not stopped (yet)."""
        state = dict(state_dict)
        self.best_epoch = state.pop("best_epoch", None)
        state.update(patience=self.patience, stopped_epoch=0)
        super().load_state_dict(state)

    def reason(self) -> str | None:
        if not self.stopped_epoch:
            return None
        return f"{self.monitor} did not improve for {self.patience} epochs"


class Budget(Timer):
    """Lightning's `Timer` that remembers the epoch it stopped at."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stopped_epoch: int | None = None

    def _check_time_remaining(self, trainer: pl.Trainer) -> None:
        super()._check_time_remaining(trainer)
        if trainer.should_stop and self.stopped_epoch is None and self.time_remaining() <= 0:
            self.stopped_epoch = trainer.current_epoch

    def reason(self) -> str | None:
        if self.stopped_epoch is None:
            return None
        return f"its wall-clock budget of {self._duration / 60:g} minutes (timer) ran out"


def stop_line(trainer: pl.Trainer, best: Any, prefix: str = "") -> str | None:
    """``early stop: ...`` when a callback ended the fit before ``max_epochs``, else None.

    ``best`` (an `nnx.training.checkpoints.Best` or None) names the epoch whose weights are
    kept; without one, early stopping's own best epoch is named.
    """
    stoppers = [cb for cb in trainer.callbacks if isinstance(cb, (EarlyStop, Budget))]
    reasons = [reason for cb in stoppers if (reason := cb.reason())]
    if not reasons:
        return None
    phase = f"{prefix[:-1]}: " if prefix else ""
    line = f"early stop: {phase}after epoch {trainer.current_epoch}/{trainer.max_epochs}, {reasons[0]}"
    if best is None:
        stopper = next((cb for cb in stoppers if isinstance(cb, EarlyStop) and cb.best_epoch is not None),
                       None)
        if stopper is None:
            return line
        monitor, epoch, score = stopper.monitor, stopper.best_epoch, float(stopper.best_score)
    else:
        monitor, epoch, score = best.monitor, best.epoch, best.score
    return f"{line}; best epoch {epoch + 1} ({monitor} {score:.4g})"
