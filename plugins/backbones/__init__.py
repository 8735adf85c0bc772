"""A torchvision classification network (resnet18, mobilenet_v3_small, ...) with a new head.

Weights are never downloaded: ``model.weights=DEFAULT`` reads torchvision's file from torch
hub's cache, ``model.weights=PATH`` a state dict of your own. The backbone can be frozen for
the first epochs (a training phase of its own) while the new head learns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import check
from nnx.registry import register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data import DataSpec

__all__ = ["TorchvisionConfig", "torchvision"]


@dataclass
class TorchvisionConfig:
    arch: str = field(default="resnet18", metadata={
        "help": "a classification builder of torchvision.models: resnet18, mobilenet_v3_small, "
                "efficientnet_b0, convnext_tiny, ..."})
    weights: str | None = field(default=None, metadata={
        "help": "null (random) | DEFAULT (torchvision's file, from torch hub's cache) | the path "
                "of a state dict; never downloaded"})
    freeze_backbone_epochs: int = field(default=0, metadata={
        "help": "train only the new head for this many epochs (phase 'frozen'), then the whole "
                "network for trainer.max_epochs"})

    def __post_init__(self) -> None:
        check(self.freeze_backbone_epochs >= 0, "freeze_backbone_epochs",
              self.freeze_backbone_epochs, "an integer >= 0")


@register_model(TorchvisionConfig)
def torchvision(cfg: TorchvisionConfig, spec: DataSpec) -> nn.Module:
    """A torchvision classifier (model.arch), optionally pretrained, with a head for the classes."""
    from nnx_plugins.backbones.network import build

    return build(cfg.arch, cfg.weights, cfg.freeze_backbone_epochs, spec)
