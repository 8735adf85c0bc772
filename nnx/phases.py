"""Training in phases: a model may ask to be trained in several successive fits.

Most models are one phase: the whole model, trained end to end. A model that defines
``training_phases() -> list[Phase]`` (the `modular` plugin in ``independent`` mode) is
trained one phase after another, each a fresh Lightning fit and test of the phase's
module with its own optimizer. A phase's metrics carry its name as a prefix
(``conv/val/acc``); the last phase, named ``""``, gives the run's unprefixed metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

__all__ = ["Phase", "PhaseRun", "phases_of", "has_trainable"]


@dataclass
class Phase:
    """One fit: which module is trained and tested, and what to do just before."""

    name: str  # metric-key prefix; "" for the final model
    model: nn.Module  # trained (its parameters that require grad) and tested
    epochs: int | None = None  # None: trainer.max_epochs
    prepare: Callable[[], None] | None = None  # e.g. freeze what earlier phases trained

    @property
    def prefix(self) -> str:
        return f"{self.name}/" if self.name else ""


def phases_of(model: nn.Module) -> list[Phase]:
    """The model's own phases, or one phase that trains the whole model."""
    plan = getattr(model, "training_phases", None)
    return plan() if callable(plan) else [Phase("", model)]


def has_trainable(model: nn.Module) -> bool:
    return any(p.requires_grad for p in model.parameters())


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

        ``ckpt_path`` resumes the fit from a checkpoint (loaded with ``weights_only=True``);
        a `nnx.interrupts.GracefulStop` that caught a signal skips the test.
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
