"""Losses by name, matched to the data's task and the model's outputs.

Models return raw scores: logits for classification (one per class, or one for a binary
target), values for regression. Each loss turns those scores and the targets into a scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from nnx.data.spec import DataSpec
from nnx.errors import ConfigValueError

__all__ = ["resolve_loss", "make_loss"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def resolve_loss(name: str, spec: DataSpec, model: torch.nn.Module) -> str:
    """``auto`` becomes the model's preferred loss, else the usual one for the task."""
    if name != "auto":
        return name
    preferred = getattr(model, "default_loss", None)
    if preferred:
        return preferred
    if spec.task == "regression":
        return "mse"
    return "binary_cross_entropy" if spec.num_outputs == 1 else "cross_entropy"


def _binary_targets(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return y.to(out.dtype).view_as(out)


def _mse(spec: DataSpec) -> LossFn:
    if spec.task == "regression":
        return lambda out, y: F.mse_loss(out, y.to(out.dtype).view_as(out))
    if spec.num_outputs == 1:
        return lambda out, y: F.mse_loss(out, _binary_targets(out, y))
    return lambda out, y: F.mse_loss(out, F.one_hot(y, spec.num_outputs).to(out.dtype))


def _perceptron(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # Rosenblatt's criterion: penalise misclassified samples by how far they are wrong.
    sign = 2 * _binary_targets(out, y) - 1
    return torch.relu(-sign * out).mean()


def _binary_cross_entropy(weights: torch.Tensor | None) -> LossFn:
    def loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        weight = None if weights is None else weights.to(out.device, out.dtype)[y].view_as(out)
        return F.binary_cross_entropy_with_logits(out, _binary_targets(out, y), weight=weight)

    return loss


def _cross_entropy(weights: torch.Tensor | None) -> LossFn:
    if weights is None:
        return F.cross_entropy
    return lambda out, y: F.cross_entropy(out, y, weight=weights.to(out.device, out.dtype))


def make_loss(name: str, spec: DataSpec) -> LossFn:
    """The loss function ``name`` for data described by ``spec``.

    ``spec.class_weights`` weight each class's samples in the two cross-entropy losses.
    """
    classification = spec.task == "classification"
    weights = torch.tensor(spec.class_weights) if spec.class_weights else None
    if name == "mse":
        return _mse(spec)
    if name == "cross_entropy" and classification and spec.num_outputs > 1:
        return _cross_entropy(weights)
    if name in ("binary_cross_entropy", "perceptron") and classification and spec.num_outputs == 1:
        if name == "perceptron":
            return _perceptron
        return _binary_cross_entropy(weights)
    needs = {
        "cross_entropy": "a classification task with 3 or more classes",
        "binary_cross_entropy": "a binary classification task",
        "perceptron": "a binary classification task",
    }
    raise ConfigValueError("loss", name, f"a loss that fits the data: {name} needs {needs[name]}")
