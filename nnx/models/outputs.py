"""What a model's raw outputs mean: logits for classification, values for regression."""

from __future__ import annotations

import torch

from nnx.data.spec import DataSpec

__all__ = ["predict"]


def predict(out: torch.Tensor, spec: DataSpec) -> torch.Tensor:
    """Class predictions from raw scores (a logit > 0 for binary targets)."""
    if spec.num_outputs == 1:
        return (out.view(-1) > 0).long()
    return out.argmax(dim=-1)
