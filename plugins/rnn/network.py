"""The recurrent network behind the `rnn`, `lstm` and `gru` plugins (imported when one is built).

Many-to-one: the whole sequence goes through stacked recurrent layers; the head reads the
last step (both directions' final states when bidirectional), the mean over time, or every
step flattened (MNIST-1D's GRU baseline).
"""

from __future__ import annotations

import torch
from torch import nn

from nnx.data.spec import DataSpec
from nnx.models.shapes import ToSequence, sequence_shape

__all__ = ["Readout", "Recurrent"]

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Readout(nn.Module):
    """(batch, time, directions * hidden) -> what the head reads."""

    def __init__(self, mode: str, hidden: int, bidirectional: bool) -> None:
        super().__init__()
        self.mode, self.hidden, self.bidirectional = mode, hidden, bidirectional

    def forward(self, steps: torch.Tensor) -> torch.Tensor:
        if self.mode == "mean":
            return steps.mean(dim=1)
        if self.mode == "all":
            return steps.flatten(1)
        if not self.bidirectional:
            return steps[:, -1]
        # The backward direction has read the whole sequence at step 0, not at the end.
        return torch.cat([steps[:, -1, : self.hidden], steps[:, 0, self.hidden :]], dim=-1)

    def extra_repr(self) -> str:
        return f"mode={self.mode}"


class Recurrent(nn.Module):
    """Input -> (time, features) sequence -> RNN/LSTM/GRU layers -> readout -> linear head."""

    def __init__(
        self, spec: DataSpec, outputs: int, *, cell: str, hidden: int, layers: int,
        bidirectional: bool, dropout: float, readout: str,
    ) -> None:
        super().__init__()
        steps, features = sequence_shape(spec)
        directions = 2 if bidirectional else 1
        self.to_sequence = ToSequence(spec)
        self.rnn = CELLS[cell](
            features, hidden, num_layers=layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.readout = Readout(readout, hidden, bidirectional)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        width = hidden * directions * (steps if readout == "all" else 1)
        self.head = nn.Linear(width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _state = self.rnn(self.to_sequence(x))
        return self.head(self.dropout(self.readout(steps)))
