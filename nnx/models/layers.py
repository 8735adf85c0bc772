"""Building blocks shared by every model plugin: activations, initialisers, the neuron.

Plugins name activations and initialisers in their configs (``activation: relu``,
``init: he_uniform``); these tables turn the names into torch modules and functions, so
every plugin accepts the same spellings.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from nnx.errors import ConfigChoiceError

__all__ = [
    "ACTIVATIONS",
    "INITS",
    "activation",
    "init_weights",
    "neuron",
    "Step",
    "make_mlp",
]


class Step(nn.Module):
    """Heaviside step (1 where x > 0) whose gradient passes straight through."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hard = (x > 0).to(x.dtype)
        return x + (hard - x).detach()


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "softmax": lambda: nn.Softmax(dim=-1),
    "step": Step,
    "identity": nn.Identity,
}


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (sigmoid, relu, tanh, leaky_relu, softmax, step)."""
    if name not in ACTIVATIONS:
        raise ConfigChoiceError("activation", name, ACTIVATIONS)
    return ACTIVATIONS[name]()


def _he_uniform(weight: torch.Tensor) -> None:
    # Keras' he_uniform: U(-sqrt(6 / fan_in), sqrt(6 / fan_in)).
    nn.init.kaiming_uniform_(weight, a=0.0, nonlinearity="relu")


INITS: dict[str, Callable[[torch.Tensor], None] | None] = {
    "default": None,  # torch's own initialisation of each layer
    "he_uniform": _he_uniform,
    "he_normal": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
    "xavier": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
}


def init_weights(module: nn.Module, name: str) -> nn.Module:
    """Initialise every Linear/Conv weight of ``module`` by name; biases start at zero."""
    if name not in INITS:
        raise ConfigChoiceError("init", name, INITS)
    fill = INITS[name]
    if fill is None:
        return module
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv1d, nn.Conv2d)):
            fill(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module


def neuron(
    inputs: torch.Tensor, weights: torch.Tensor, bias: float | torch.Tensor, act: str = "sigmoid"
) -> torch.Tensor:
    """One artificial neuron: the weighted sum of its inputs plus a bias, through ``act``."""
    return activation(act)(inputs @ weights + bias)


def make_mlp(
    in_features: int, hidden: list[int], out_features: int, act: str, dropout: float
) -> nn.Sequential:
    """Linear -> act -> dropout for each hidden size, then a linear output of raw scores."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Linear(width, size), activation(act)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = size
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)
