"""What a model's raw outputs mean: logits for classification, values for regression."""

from __future__ import annotations

import torch

from nnx.data.spec import DataSpec

__all__ = ["predict"]


def predict(out: torch.Tensor, spec: DataSpec, threshold: float = 0.5) -> torch.Tensor:
    """Class predictions from raw scores: for a binary target (one logit), positive when
    its probability is above ``threshold``."""
    if spec.num_outputs == 1:
        return (torch.sigmoid(out.view(-1)) > threshold).long()
    return out.argmax(dim=-1)
