"""Multi-layer perceptron: dense hidden layers with a shared activation, any input flattened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import ACTIVATION_NAMES, INIT_NAMES, check, check_choice
from nnx.registry import register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data import DataSpec

__all__ = ["MLPConfig", "mlp"]


@dataclass
class MLPConfig:
    hidden: list[int] = field(
        default_factory=lambda: [100, 100], metadata={"help": "sizes of the hidden layers"}
    )
    activation: str = field(default="relu", metadata={"help": "sigmoid | relu | tanh | leaky_relu"})
    dropout: float = field(default=0.0, metadata={"help": "dropout after each hidden layer, in [0, 1)"})
    init: str = field(default="he_uniform", metadata={"help": "he_uniform | xavier | default (torch's)"})

    def __post_init__(self) -> None:
        check(all(h >= 1 for h in self.hidden), "hidden", self.hidden, "sizes >= 1")
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        check(0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")
        check_choice("init", self.init, INIT_NAMES)


@register_model(MLPConfig)
def mlp(cfg: MLPConfig, spec: DataSpec) -> nn.Module:
    """Multi-layer perceptron: Dense layers with one activation, inputs flattened."""
    import math

    from torch import nn

    from nnx.models.layers import init_weights, make_mlp

    body = make_mlp(math.prod(spec.input_shape), cfg.hidden, spec.num_outputs, cfg.activation, cfg.dropout)
    return init_weights(nn.Sequential(nn.Flatten(), *body), cfg.init)
