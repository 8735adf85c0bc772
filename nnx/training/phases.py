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

    def fit_and_test(
        self, train: Any, val: Any, test: Any, ckpt_path: str | None = None, stop: Any = None
    ) -> dict[str, float]:
        """Fit (or only validate, when nothing is trainable), test; metrics with the prefix.

        ``ckpt_path`` resumes the fit from a checkpoint (loaded with ``weights_only=True``;
        `nnx.training.resume` has already refused one that holds anything else);
        a `nnx.training.interrupts.GracefulStop` that caught a signal skips the test.
        """
        if self.phase.prepare is not None:
            self.phase.prepare()
        if has_trainable(self.phase.model):
            started = time.perf_counter()
            self.trainer.fit(self.task, train_dataloaders=train, val_dataloaders=val,
                             ckpt_path=ckpt_path, weights_only=True)
            self.fit_seconds = time.perf_counter() - started
        else:
            self.trainer.validate(self.task, dataloaders=val, verbose=False)
        metrics = dict(self.trainer.callback_metrics)  # testing starts a fresh set
        if stop is not None and stop.signum is not None:
            return {self.phase.prefix + k: float(v) for k, v in metrics.items()}
        self.trainer.test(self.task, dataloaders=test, verbose=False)
        metrics.update(self.trainer.callback_metrics)
        return {self.phase.prefix + k: float(v) for k, v in metrics.items()}

