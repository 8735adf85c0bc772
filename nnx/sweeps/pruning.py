"""The Optuna trial a job runs for, and the Lightning callback that reports to it and prunes.

A search worker (`nnx.sweeps.workers`) sets the `TrialContext` of this process before it runs
a trial's job; `nnx.sweeps.trials.run_trial` passes its callbacks to the training and hands
the outcome back. After every validation epoch the callback reports the optimised metric;
when the pruner says so, the trial stops at the end of that epoch with `TrialPruned`, which
ends its MLflow run KILLED with the tags ``nnx.pruned=true`` and ``nnx.pruned_epoch``.

With ``eval.folds=k`` every validation epoch of every fold is one step, numbered on across
folds (fold 2's first epoch follows fold 1's last), so trials are compared at the same fold
and epoch; a pruned trial trains none of its remaining folds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrialContext", "TrialPruned", "active", "activate"]

_active: list[TrialContext] = []


class TrialPruned(Exception):
    """Raised at the end of the epoch after which the pruner stopped the trial."""

    nnx_run_status = "KILLED"  # how tracking ends the run (nnx.tracking.tracker.Tracker.active)

    def __init__(self, number: int, epoch: int, value: float) -> None:
        self.number, self.epoch, self.value = number, epoch, value
        self.nnx_run_tags = {"nnx.pruned": "true", "nnx.pruned_epoch": str(epoch),
                             "optuna.trial_state": "PRUNED"}
        super().__init__(f"trial #{number} pruned after epoch {epoch} ({value:.4g})")


@dataclass
class TrialContext:
    """The running trial (an ``optuna.Trial``), what it optimises, and its outcome."""

    trial: Any
    metrics: list[str]
    prune: bool
    state: str = "FAIL"  # COMPLETE | PRUNED | FAIL, set by run_trial
    values: list[float] | None = None
    steps: int = 0  # validation epochs reported so far (across folds)
    pruned_epoch: int | None = None
    run_id: str | None = None  # the trial's MLflow run
    extra: dict[str, Any] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        return {"optuna.trial_number": str(self.trial.number)}

    def callbacks(self) -> list[Any]:
        return [_reporter(self)] if self.prune else []


def active() -> TrialContext | None:
    """The trial this process runs now (None outside a search)."""
    return _active[-1] if _active else None


def activate(context: TrialContext | None) -> None:
    _active.clear()
    if context is not None:
        _active.append(context)


def _reporter(context: TrialContext) -> Any:
    import pytorch_lightning as pl

    class PruneReport(pl.Callback):
        """Reports the metric after each validation epoch; stops a pruned trial after it."""

        def __init__(self) -> None:
            self.pruned: TrialPruned | None = None

        def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            if trainer.sanity_checking or self.pruned is not None:
                return
            value = trainer.callback_metrics.get(context.metrics[0])
            if value is None or not math.isfinite(float(value)):
                return
            step = context.steps
            context.steps += 1
            context.trial.report(float(value), step)
            if context.trial.should_prune():
                epoch = trainer.current_epoch + 1
                context.pruned_epoch = epoch
                self.pruned = TrialPruned(context.trial.number, epoch, float(value))
                trainer.should_stop = True

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            if self.pruned is not None:  # the epoch's report (logged before this) is complete
                raise self.pruned

    return PruneReport()
