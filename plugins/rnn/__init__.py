"""Recurrent networks (RNN, LSTM, GRU): the input read as a sequence, a dense head on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import check, check_choice
from nnx.registry import register_model

if TYPE_CHECKING:
    from torch import nn

    from nnx.data.spec import DataSpec

__all__ = ["RNNConfig", "LSTMConfig", "GRUConfig", "rnn", "lstm", "gru"]


@dataclass
class RNNConfig:
    cell: str = field(default="rnn", metadata={"help": "rnn (Elman, tanh) | lstm | gru"})
    hidden: int = field(default=64, metadata={"help": "hidden units of each recurrent layer (per direction)"})
    layers: int = field(default=1, metadata={"help": "stacked recurrent layers"})
    bidirectional: bool = field(default=False, metadata={"help": "also read the sequence backwards"})
    dropout: float = field(
        default=0.0, metadata={"help": "dropout between stacked layers and before the head, in [0, 1)"}
    )
    readout: str = field(
        default="last",
        metadata={"help": "last (final step) | mean (over time) | all (every step, flattened)"},
    )

    def __post_init__(self) -> None:
        check_choice("cell", self.cell, ("rnn", "lstm", "gru"))
        check(self.hidden >= 1, "hidden", self.hidden, "an integer >= 1")
        check(self.layers >= 1, "layers", self.layers, "an integer >= 1")
        check(0 <= self.dropout < 1, "dropout", self.dropout, "a number in [0, 1)")
        check_choice("readout", self.readout, ("last", "mean", "all"))


@dataclass
class LSTMConfig(RNNConfig):
    cell: str = field(default="lstm", metadata={"help": "rnn (Elman, tanh) | lstm | gru"})


@dataclass
class GRUConfig(RNNConfig):
    cell: str = field(default="gru", metadata={"help": "rnn (Elman, tanh) | lstm | gru"})


@register_model(RNNConfig)
def rnn(cfg: RNNConfig, spec: DataSpec) -> nn.Module:
    """Recurrent network: tables, signals and image rows read as (time, features) sequences."""
    from nnx_plugins.rnn.network import Recurrent

    return Recurrent(spec, spec.num_outputs, **vars(cfg))


@register_model(LSTMConfig)
def lstm(cfg: LSTMConfig, spec: DataSpec) -> nn.Module:
    """Long short-term memory network: `rnn` with cell=lstm."""
    return rnn(cfg, spec)


@register_model(GRUConfig)
def gru(cfg: GRUConfig, spec: DataSpec) -> nn.Module:
    """Gated recurrent unit network: `rnn` with cell=gru."""
    return rnn(cfg, spec)
