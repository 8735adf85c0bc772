"""What a data plugin returns: train/val/test tensors and the spec of one sample.

Seed-scale datasets fit in memory, so they live as tensors on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import torch

from nnx.data.augmented import AugmentedImages

__all__ = ["DataSpec", "Splits"]


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about the data it is built for.

    ``input_shape`` is one sample's shape: ``(features,)`` for tables, ``(channels, length)``
    for 1-D signals, ``(channels, height, width)`` for images, ``(time, features)`` for
    sequences. A binary target gets one output (a logit); ``num_classes`` outputs otherwise.
    """

    input_shape: tuple[int, ...]
    task: str  # classification | regression
    num_classes: int = 0  # classification only
    num_targets: int = 1  # regression only
    kind: str = "table"  # table | signal | image | sequence: how the input is laid out
    class_weights: tuple[float, ...] | None = None  # per-class loss weights (imbalanced targets)
    forecast: bool = False  # the input is the target's own past (a series): last-value baseline
    class_names: tuple[str, ...] = ()  # one per class, in class order; () when unnamed

    @property
    def labels(self) -> list[str]:
        """The class names, or the class indices as text when the data names none."""
        if self.class_names:
            return list(self.class_names)
        return [str(i) for i in range(self.num_classes)]

    @property
    def num_outputs(self) -> int:
        if self.task == "regression":
            return self.num_targets
        return 1 if self.num_classes == 2 else self.num_classes


@dataclass
class Splits:
    """Train/val/test tensors ``(x, y)``, the spec of their samples, and how raw inputs
    became these tensors (``preprocessing``: see `nnx.data.transforms`; empty when the
    plugin records nothing, and then inputs are taken as the model sees them)."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    spec: DataSpec
    preprocessing: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # One source of class names for everything downstream (metrics, report, predictor):
        # a plugin may give them in the spec or record them with its preprocessing.
        recorded = self.preprocessing.get("classes")
        if recorded and not self.spec.class_names:
            self.spec = replace(self.spec, class_names=tuple(str(c) for c in recorded))
        elif self.spec.class_names and not recorded:
            self.preprocessing = {**self.preprocessing, "classes": list(self.spec.class_names)}

    def to(self, device: torch.device | str) -> Splits:
        """The same splits with every tensor (and in-memory augmented images) on ``device``
        (streamed inputs stay where they are read: their batches move, `nnx.data.streaming`)."""
        movable = (torch.Tensor, AugmentedImages)
        move = lambda xy: (xy[0].to(device) if isinstance(xy[0], movable) else xy[0],  # noqa: E731
                           xy[1].to(device))
        return Splits(move(self.train), move(self.val), move(self.test), self.spec, self.preprocessing)
