"""Built-in optimizers and learning-rate schedulers, registered like any plugin.

Each has a config dataclass whose fields are the torch constructor's arguments, so
``optimizer.momentum=0.9`` is checked against SGD's schema before training starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from nnx.config.checks import check, check_choice, check_metric
from nnx.registry import register_optimizer, register_scheduler

__all__ = [
    "SGDConfig", "AdamConfig", "AdamWConfig", "RMSpropConfig", "StepConfig", "CosineConfig", "PlateauConfig",
    "sgd", "adam", "adamw", "rmsprop", "step", "cosine", "plateau",
]


@dataclass
class _LearningRate:
    lr: float = field(default=1e-3, metadata={"help": "learning rate"})
    weight_decay: float = field(default=0.0, metadata={"help": "L2 penalty"})
    backbone_lr_scale: float = field(default=1.0, metadata={
        "help": "a pretrained backbone's learning rate as a share of lr (model=torchvision); "
                "its new head learns at lr"})

    def __post_init__(self) -> None:
        check(self.lr > 0, "lr", self.lr, "a number > 0")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        check(self.backbone_lr_scale >= 0, "backbone_lr_scale", self.backbone_lr_scale,
              "a number >= 0")


@dataclass
class SGDConfig(_LearningRate):
    lr: float = field(default=0.01, metadata={"help": "learning rate"})
    momentum: float = field(default=0.9, metadata={"help": "momentum factor; 0: plain SGD"})
    nesterov: bool = field(default=False, metadata={"help": "Nesterov momentum (needs momentum > 0)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")
        check(not self.nesterov or self.momentum > 0, "nesterov", self.nesterov,
              "false unless momentum > 0 (set optimizer.momentum=0.9)")


@dataclass
class AdamConfig(_LearningRate):
    beta1: float = field(default=0.9, metadata={"help": "decay of the first-moment estimate"})
    beta2: float = field(default=0.999, metadata={"help": "decay of the second-moment estimate"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("beta1", "beta2"):
            check(0 <= getattr(self, key) < 1, key, getattr(self, key), "a number in [0, 1)")


@dataclass
class AdamWConfig(AdamConfig):
    weight_decay: float = field(default=0.01, metadata={"help": "decoupled weight decay"})


@dataclass
class RMSpropConfig(_LearningRate):
    alpha: float = field(default=0.99, metadata={"help": "smoothing of the squared-gradient average"})
    momentum: float = field(default=0.0, metadata={"help": "momentum factor"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0 < self.alpha <= 1, "alpha", self.alpha, "a number in (0, 1]")
        check(0 <= self.momentum < 1, "momentum", self.momentum, "a number in [0, 1)")


def _torch_optimizer(name: str, cfg: Any, params: Any) -> Any:
    import torch

    kwargs = dataclasses.asdict(cfg)
    scale = kwargs.pop("backbone_lr_scale")
    params = [{**group, "lr": kwargs["lr"] * scale} if isinstance(group, dict) and group.get("backbone")
              else group for group in params]  # `nnx.models.phases.parameter_groups`
    if "beta1" in kwargs:
        kwargs["betas"] = (kwargs.pop("beta1"), kwargs.pop("beta2"))
    return getattr(torch.optim, name)(params, **kwargs)


@register_optimizer(SGDConfig)
def sgd(cfg: SGDConfig, params: Any) -> Any:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    return _torch_optimizer("SGD", cfg, params)


@register_optimizer(AdamConfig)
def adam(cfg: AdamConfig, params: Any) -> Any:
    """Adam: adaptive moment estimation."""
    return _torch_optimizer("Adam", cfg, params)


@register_optimizer(AdamWConfig)
def adamw(cfg: AdamWConfig, params: Any) -> Any:
    """AdamW: Adam with decoupled weight decay."""
    return _torch_optimizer("AdamW", cfg, params)


@register_optimizer(RMSpropConfig)
def rmsprop(cfg: RMSpropConfig, params: Any) -> Any:
    """RMSprop: divides the gradient by a running average of its magnitude."""
    return _torch_optimizer("RMSprop", cfg, params)


@dataclass
class StepConfig:
    step_size: int = field(default=10, metadata={"help": "epochs between decays"})
    gamma: float = field(default=0.1, metadata={"help": "factor applied at each decay"})

    def __post_init__(self) -> None:
        check(self.step_size >= 1, "step_size", self.step_size, "an integer >= 1")
        check(0 < self.gamma <= 1, "gamma", self.gamma, "a number in (0, 1]")


@dataclass
class CosineConfig:
    eta_min: float = field(default=0.0, metadata={"help": "learning rate reached at the last epoch"})

    def __post_init__(self) -> None:
        check(self.eta_min >= 0, "eta_min", self.eta_min, "a number >= 0")


@dataclass
class PlateauConfig:
    monitor: str = field(default="val/loss", metadata={"help": "metric watched for a plateau"})
    mode: str = field(default="min", metadata={"help": "min | max"})
    factor: float = field(default=0.1, metadata={"help": "factor applied when the metric stalls"})
    patience: int = field(default=3, metadata={"help": "epochs without improvement before decaying"})

    def __post_init__(self) -> None:
        check_metric("monitor", self.monitor)
        check_choice("mode", self.mode, ("min", "max"))
        check(0 < self.factor < 1, "factor", self.factor, "a number in (0, 1)")
        check(self.patience >= 0, "patience", self.patience, "an integer >= 0")


@register_scheduler(StepConfig)
def step(cfg: StepConfig, optimizer: Any, max_epochs: int) -> dict:
    """Step decay: multiply the learning rate by gamma every step_size epochs."""
    import torch

    return {"scheduler": torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma)}


@register_scheduler(CosineConfig)
def cosine(cfg: CosineConfig, optimizer: Any, max_epochs: int) -> dict:
    """Cosine annealing from the initial learning rate to eta_min over the run."""
    import torch

    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max_epochs, cfg.eta_min)
    return {"scheduler": sched}


@register_scheduler(PlateauConfig)
def plateau(cfg: PlateauConfig, optimizer: Any, max_epochs: int) -> dict:
    """Reduce the learning rate when a monitored metric stops improving."""
    import torch

    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=cfg.mode, factor=cfg.factor, patience=cfg.patience
    )
    return {"scheduler": sched, "monitor": cfg.monitor}
