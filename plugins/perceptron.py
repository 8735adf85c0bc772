"""The perceptron: one neuron, a weighted sum of the inputs plus a bias through step or sigmoid."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import INIT_NAMES, check_choice
from nnx.registry import register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data import DataSpec

__all__ = ["PerceptronConfig", "perceptron"]


@dataclass
class PerceptronConfig:
    activation: str = field(
        default="sigmoid", metadata={"help": "sigmoid (logistic neuron) | step (Rosenblatt's rule)"}
    )
    init: str = field(default="default", metadata={"help": "he_uniform | xavier | default (torch's)"})

    def __post_init__(self) -> None:
        check_choice("activation", self.activation, ("sigmoid", "step"))
        check_choice("init", self.init, INIT_NAMES)


@register_model(PerceptronConfig)
def perceptron(cfg: PerceptronConfig, spec: DataSpec) -> nn.Module:
    """Perceptron: a single neuron (weighted sum + bias), linear decision boundary."""
    import math

    from torch import nn

    from nnx.models.layers import init_weights

    if spec.num_outputs != 1:
        from nnx.errors import ConfigValueError

        raise ConfigValueError(
            "model", "perceptron", f"a binary task (one output); this data has {spec.num_outputs}"
        )
    neuron = nn.Linear(math.prod(spec.input_shape), 1)
    model = init_weights(nn.Sequential(nn.Flatten(), neuron), cfg.init)
    # The model returns the neuron's pre-activation z; the loss applies the activation:
    # sigmoid -> binary cross-entropy on sigmoid(z); step -> the perceptron criterion,
    # whose gradient step is Rosenblatt's update w += lr * (y - step(z)) * x.
    model.default_loss = "binary_cross_entropy" if cfg.activation == "sigmoid" else "perceptron"
    return model
