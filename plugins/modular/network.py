"""The network behind the `modular` plugin: branches, combiners and training phases.

Each branch is a whole model plugin (with its own output layer) reading its slice of the
input. A combiner turns the branches' outputs (logits or values) into one prediction. In
``independent`` training each branch is first trained alone, then frozen (parameters and
batch-norm statistics), and only the combiner is trained; ``joint`` trains end to end.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
from torch import nn

from nnx.data.spec import DataSpec
from nnx.models.phases import Phase
from nnx.models.summary import PLUGIN_ATTRIBUTE

__all__ = ["Branch", "Concat", "Mean", "Gate", "Modular"]


class Branch(nn.Module):
    """A sub-network reading ``x[..., start:stop]`` (or all of ``x``)."""

    def __init__(self, net: nn.Module, window: tuple[int | None, int | None] | None,
                 plugin: str) -> None:
        super().__init__()
        self.net = net
        self.window = None if window is None else slice(*window)
        setattr(self, PLUGIN_ATTRIBUTE, plugin)
        if hasattr(net, "default_loss"):  # trained alone, it keeps its preferred loss
            self.default_loss = net.default_loss

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x if self.window is None else x[..., self.window])


class Concat(nn.Module):
    """All branches' outputs side by side, then a linear layer."""

    def __init__(self, branches: int, outputs: int, _inputs: int) -> None:
        super().__init__()
        self.head = nn.Linear(branches * outputs, outputs)

    def forward(self, outs: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat(outs, dim=-1))


class Mean(nn.Module):
    """The average of the branches' logits: a soft vote, nothing to learn."""

    def __init__(self, _branches: int, _outputs: int, _inputs: int) -> None:
        super().__init__()

    def forward(self, outs: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return torch.stack(outs).mean(dim=0)


class Gate(nn.Module):
    """A learned mixture: per-sample softmax weights over branches, computed from the input."""

    def __init__(self, branches: int, _outputs: int, inputs: int) -> None:
        super().__init__()
        self.gate = nn.Linear(inputs, branches)

    def forward(self, outs: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.gate(x.flatten(1)), dim=-1)  # (batch, branches)
        return torch.einsum("bn,nbk->bk", weights, torch.stack(outs))


COMBINERS: dict[str, type[nn.Module]] = {"concat": Concat, "mean": Mean, "gate": Gate}


def _branch_spec(spec: DataSpec, window: tuple[int | None, int | None] | None) -> DataSpec:
    if window is None:
        return spec
    size = len(range(spec.input_shape[-1])[slice(*window)])
    if size < 1:
        from nnx.errors import ConfigValueError

        last = spec.input_shape[-1]
        raise ConfigValueError("model.inputs", f"{window[0]}:{window[1]}",
                               f"a non-empty slice of the last input axis (size {last})")
    return dataclasses.replace(spec, input_shape=(*spec.input_shape[:-1], size))


class Modular(nn.Module):
    """Branches built from their plugins' configs, and a combiner over their outputs."""

    def __init__(self, cfg: Any, spec: DataSpec) -> None:
        super().__init__()
        branches = {}
        for name, component in cfg.components.items():
            window = cfg.window(name)
            net = component.build(_branch_spec(spec, window))
            branches[name] = Branch(net, window, component.plugin.name)
        self.branches = nn.ModuleDict(branches)
        combiner = COMBINERS[cfg.combiner]
        self.combiner = combiner(len(branches), spec.num_outputs, math.prod(spec.input_shape))
        self.independent = cfg.training == "independent"
        self.combiner_epochs = cfg.combiner_epochs
        self.frozen = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combiner([branch(x) for branch in self.branches.values()], x)

    def freeze_branches(self) -> None:
        """Stop training the branches: no gradients, batch norm and dropout in eval mode."""
        self.frozen = True
        for parameter in self.branches.parameters():
            parameter.requires_grad_(False)
        self.branches.eval()

    def train(self, mode: bool = True) -> Modular:
        super().train(mode)
        if self.frozen:
            self.branches.eval()
        return self

    def training_phases(self) -> list[Phase]:
        """``joint``: one phase; ``independent``: one per branch, then the combiner."""
        if not self.independent:
            return [Phase("", self)]
        phases = [Phase(name, branch) for name, branch in self.branches.items()]
        return [*phases, Phase("", self, self.combiner_epochs, self.freeze_branches)]
