"""Training in phases: how a model asks to be trained in several successive fits.

Most models are one phase: the whole model, trained end to end. A model that defines
``training_phases() -> list[Phase]`` (the `modular` plugin in ``independent`` mode) is
trained one phase after another (see `nnx.training.phases`), each a fresh fit and test of
the phase's module with its own optimizer. A phase's metrics carry its name as a prefix
(``conv/val/acc``); the last phase, named ``""``, gives the run's unprefixed metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = ["Phase", "phases_of", "has_trainable", "parameter_groups"]


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


def parameter_groups(model: nn.Module) -> list:
    """What the optimizer trains: the parameters that require grad, in one list; for a model
    with ``backbone_parameters()`` in two groups, the backbone's marked ``"backbone": True``
    (its learning rate is scaled by ``optimizer.backbone_lr_scale``) and the rest."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    backbone_of = getattr(model, "backbone_parameters", None)
    if not callable(backbone_of):
        return trainable
    backbone = {id(p) for p in backbone_of()}
    groups = [{"params": [p for p in trainable if id(p) in backbone], "backbone": True},
              {"params": [p for p in trainable if id(p) not in backbone]}]
    return [group for group in groups if group["params"]]
