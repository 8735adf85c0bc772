"""Shared building blocks: the neuron, activations and initialisers."""

from __future__ import annotations

import math

import pytest
import torch

from nnx.config import ACTIVATION_NAMES, INIT_NAMES
from nnx.models import layers


def test_tutorial_neuron() -> None:
    # weights [0, 1], bias 4, input [2, 3]: sigmoid(0*2 + 1*3 + 4) = sigmoid(7)
    out = layers.neuron(
        torch.tensor([2.0, 3.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0], dtype=torch.float64),
        4.0,
        "sigmoid",
    )
    assert out.item() == pytest.approx(0.9990889488055994, abs=1e-15)


def test_names_in_schema_match_the_tables() -> None:
    assert set(ACTIVATION_NAMES) == set(layers.ACTIVATIONS)
    assert set(INIT_NAMES) == set(layers.INITS)


@pytest.mark.parametrize(
    ("name", "x", "expected"),
    [
        ("relu", [-1.0, 2.0], [0.0, 2.0]),
        ("leaky_relu", [-1.0, 2.0], [-0.01, 2.0]),
        ("tanh", [0.0], [0.0]),
        ("sigmoid", [0.0], [0.5]),
        ("softmax", [0.0, 0.0], [0.5, 0.5]),
        ("step", [-0.5, 0.5], [0.0, 1.0]),
    ],
)
def test_activations(name: str, x: list[float], expected: list[float]) -> None:
    assert layers.activation(name)(torch.tensor(x)).tolist() == pytest.approx(expected)


def test_step_passes_gradients_straight_through() -> None:
    x = torch.tensor([-0.5, 0.5], requires_grad=True)
    layers.Step()(x).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_he_uniform_bounds_and_zero_bias() -> None:
    torch.manual_seed(0)
    layer = layers.init_weights(torch.nn.Linear(200, 300), "he_uniform")
    bound = math.sqrt(6 / 200)
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.95 * bound  # uniform fills the whole range
    assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert torch.all(layer.bias == 0)


def test_make_mlp_layout() -> None:
    net = layers.make_mlp(4, [8, 6], 3, "tanh", dropout=0.5)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert net(torch.zeros(5, 4)).shape == (5, 3)
