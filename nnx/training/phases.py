"""One phase of training: a Lightning fit and test of the phase's module.

Which phases a model has is the model's business (`nnx.models.phases`); running them is here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from nnx.models.phases import Phase, has_trainable

__all__ = ["PhaseRun"]


@dataclass
class PhaseRun:
    """A phase with the Lightning task, trainer and epoch report that run it."""

    phase: Phase
    task: Any
    trainer: Any
    report: Any
    fit_seconds: float = 0.0  # wall time of the fit alone (no validation-only or test)
    weights: str = "best"  # eval.weights: test the best epoch's weights when one is kept, or the last
    best: Any = None  # the `nnx.training.checkpoints.Best` epoch that was tested, if any

    def fit_and_test(
        self, train: Any, val: Any, test: Any, ckpt_path: str | None = None, stop: Any = None
    ) -> dict[str, float]:
        """Fit (or only validate, when nothing is trainable), test; metrics with the prefix.

        ``ckpt_path`` resumes the fit from a checkpoint (loaded with ``weights_only=True``;
        `nnx.training.resume` has already refused one that holds anything else);
        a `nnx.training.interrupts.GracefulStop` that caught a signal skips the test.
        With ``weights="best"`` and a best checkpoint kept, the best epoch's weights are
        loaded into the model and tested, its train/val metrics are returned, and
        ``best_epoch`` (1-based) says which it was. An early stop prints one line.
        """
        from nnx.training.checkpoints import best_of
        from nnx.training.stopping import stop_line

        if self.phase.prepare is not None:
            self.phase.prepare()
        if has_trainable(self.phase.model):
            started = time.perf_counter()
            self.trainer.fit(self.task, train_dataloaders=train, val_dataloaders=val,
                             ckpt_path=ckpt_path, weights_only=True)
            self.fit_seconds = time.perf_counter() - started
        else:
            self.trainer.validate(self.task, dataloaders=val, verbose=False)
        metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items()}  # testing starts afresh
        if stop is not None and stop.signum is not None:
            return {self.phase.prefix + k: v for k, v in metrics.items()}
        best = best_of(self.trainer)
        line = stop_line(self.trainer, best, self.phase.prefix)
        if line and self.trainer.global_rank == 0:
            print(line, flush=True)
        if self.weights == "best" and best is not None:
            self.best = best
            row = self.report.by_epoch.get(best.epoch)
            if row is not None:  # the best epoch's own train/val metrics (absent if before a resume)
                metrics = {k.removeprefix(self.phase.prefix): v for k, v in row.items()}
            metrics["best_epoch"] = best.epoch + 1
        self.trainer.test(self.task, dataloaders=test, verbose=False,
                          ckpt_path=self.best.path if self.best else None, weights_only=True)
        metrics.update({k: float(v) for k, v in self.trainer.callback_metrics.items()})
        return {self.phase.prefix + k: v for k, v in metrics.items()}

