"""Layout adapters: how an architecture reads a sample that was laid out for another.

A `DataSpec` says how one sample is laid out (table, signal, image, sequence); a
convolution wants ``(channels, ...)`` and a recurrent net wants ``(time, features)``.
These modules turn one into the other inside the model, so any plugin can take any data
that makes sense for it without hand-entered sizes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from nnx.data.spec import DataSpec

__all__ = ["sequence_shape", "ToSequence", "ToChannels", "channels_shape"]


def sequence_shape(spec: DataSpec) -> tuple[int, int]:
    """``(time, features)`` that `ToSequence` makes of one sample of ``spec``.

    A table of F features is F steps of 1 feature; a (C, L) signal is L steps of C
    features; a (C, H, W) image is read row by row: H steps of C*W features.
    """
    shape = spec.input_shape
    if spec.kind == "sequence" and len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 1:
        return shape[0], 1
    if len(shape) == 2:
        return shape[1], shape[0]
    return shape[1], shape[0] * math.prod(shape[2:])


class ToSequence(nn.Module):
    """(batch, *input_shape) -> (batch, time, features), as `sequence_shape` describes."""

    def __init__(self, spec: DataSpec) -> None:
        super().__init__()
        self.is_sequence = spec.kind == "sequence" and len(spec.input_shape) == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_sequence:
            return x
        if x.dim() == 2:
            return x.unsqueeze(-1)
        if x.dim() == 3:
            return x.transpose(1, 2)
        return x.transpose(1, 2).flatten(2)


def channels_shape(spec: DataSpec) -> tuple[int, ...] | None:
    """``(channels, *spatial)`` a convolution reads, or None for a table (no channels)."""
    shape = spec.input_shape
    if spec.kind == "sequence" and len(shape) == 2:
        return shape[1], shape[0]
    return shape if len(shape) in (2, 3) else None


class ToChannels(nn.Module):
    """(batch, time, features) -> (batch, features, time): features become channels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(1, 2)
