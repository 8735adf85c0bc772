"""Convolutional network: Conv1d or Conv2d blocks picked from the input shape, then a dense head."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import ACTIVATION_NAMES, INIT_NAMES, check, check_choice
from nnx.registry import register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data import DataSpec

__all__ = ["CNNConfig", "cnn"]


@dataclass
class CNNConfig:
    channels: list[int] = field(
        default_factory=lambda: [32], metadata={"help": "output channels of each conv layer"}
    )
    kernel_size: list[int] = field(
        default_factory=lambda: [3], metadata={"help": "per conv layer, or one for all"}
    )
    stride: list[int] = field(
        default_factory=lambda: [1], metadata={"help": "per conv layer, or one for all"}
    )
    padding: list[int] = field(
        default_factory=lambda: [0], metadata={"help": "per conv layer, or one for all"}
    )
    pool: str = field(default="max", metadata={"help": "max | avg | none: pooling after each conv layer"})
    pool_size: int = field(default=2, metadata={"help": "window and stride of each pooling"})
    batch_norm: bool = field(default=False, metadata={"help": "batch normalisation after each convolution"})
    dropout: float = field(
        default=0.0, metadata={"help": "dropout after each conv block and dense layer, in [0, 1)"}
    )
    dense: list[int] = field(
        default_factory=lambda: [100], metadata={"help": "dense layers after flattening"}
    )
    activation: str = field(default="relu", metadata={"help": "sigmoid | relu | tanh | leaky_relu"})
    init: str = field(
        default="he_uniform", metadata={"help": "he_uniform | he_normal | xavier | default (torch's)"}
    )

    def __post_init__(self) -> None:
        check(bool(self.channels) and min(self.channels) >= 1, "channels", self.channels,
              "a non-empty list of sizes >= 1")
        for key, low in (("kernel_size", 1), ("stride", 1), ("padding", 0)):
            values = getattr(self, key)
            check(len(values) in (1, len(self.channels)) and min(values, default=-1) >= low, key,
                  values, f"one value >= {low}, or one per conv layer ({len(self.channels)})")
        check_choice("pool", self.pool, ("max", "avg", "none"))
        check(self.pool_size >= 1, "pool_size", self.pool_size, "an integer >= 1")
        check(0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")
        check(all(d >= 1 for d in self.dense), "dense", self.dense, "sizes >= 1")
        check_choice("activation", self.activation, ACTIVATION_NAMES)
        check_choice("init", self.init, INIT_NAMES)

    def per_layer(self, key: str) -> list[int]:
        """``kernel_size``, ``stride`` or ``padding`` with one value per conv layer."""
        values = getattr(self, key)
        return values * len(self.channels) if len(values) == 1 else list(values)


def _out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


@register_model(CNNConfig)
def cnn(cfg: CNNConfig, spec: DataSpec) -> nn.Module:
    """Convolutional network: Conv1d for (C, L) signals, Conv2d for (C, H, W) images."""
    from torch import nn

    from nnx.errors import ConfigValueError
    from nnx.models.layers import activation, init_weights, make_mlp
    from nnx.models.shapes import ToChannels, channels_shape

    shape = channels_shape(spec)
    if shape is None:
        raise ConfigValueError(
            "model", "cnn", f"a model for {spec.kind} inputs of shape {spec.input_shape}: cnn "
            "needs (channels, length) signals or (channels, height, width) images; use model=mlp "
            "or model=rnn for tables",
        )
    dims = len(shape) - 1
    conv, pool = (nn.Conv1d, nn.MaxPool1d if cfg.pool == "max" else nn.AvgPool1d)
    if dims == 2:
        conv, pool = (nn.Conv2d, nn.MaxPool2d if cfg.pool == "max" else nn.AvgPool2d)
    norm = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    layers: list[nn.Module] = [ToChannels()] if spec.kind == "sequence" else []
    width, size = shape[0], list(shape[1:])
    sizes = map(cfg.per_layer, ("kernel_size", "stride", "padding"))
    per_layer = zip(cfg.channels, *sizes, strict=True)
    for index, (out, k, s, p) in enumerate(per_layer, start=1):
        layers.append(conv(width, out, k, stride=s, padding=p))
        size = [_out_size(n, k, s, p) for n in size]
        if cfg.batch_norm:
            layers.append(norm(out))
        layers.append(activation(cfg.activation))
        if cfg.pool != "none":
            layers.append(pool(cfg.pool_size))
            size = [n // cfg.pool_size for n in size]
        if cfg.dropout > 0:
            layers.append(nn.Dropout(cfg.dropout))
        if min(size) < 1:
            raise ConfigValueError(
                "model.channels", cfg.channels, f"fewer conv/pool layers, smaller kernels or more "
                f"padding: input {spec.input_shape} shrinks to nothing at conv layer {index}",
            )
        width = out
    flat = width * math.prod(size)
    head = make_mlp(flat, cfg.dense, spec.num_outputs, cfg.activation, cfg.dropout)
    return init_weights(nn.Sequential(*layers, nn.Flatten(), *head), cfg.init)
