"""A Keras-style model summary: each layer's name, type, output shape and parameters."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nnx.data import DataSpec

__all__ = ["LayerRow", "summarize", "render"]


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...] | str
    params: int


def _shape(out: object) -> tuple[int, ...] | str:
    if isinstance(out, torch.Tensor):
        return (None, *out.shape[1:])  # type: ignore[return-value]
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return _shape(out[0])
    return "?"


def summarize(model: nn.Module, spec: DataSpec) -> list[LayerRow]:
    """Run one dummy batch through ``model`` and record every leaf layer it calls, in order."""
    rows: list[LayerRow] = []
    names = {module: name for name, module in model.named_modules()}
    hooks = []

    def record(module: nn.Module, _inputs: object, out: object) -> None:
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerRow(names.get(module, "?"), type(module).__name__, _shape(out), params))

    for module in model.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            model(torch.zeros(2, *spec.input_shape, device=device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return rows


def render(model: nn.Module, rows: list[LayerRow]) -> str:
    """The summary as a fixed-width table with total and trainable parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    table = [("Layer (type)", "Output Shape", "Param #")]
    table += [(f"{r.name} ({r.kind})", str(r.output_shape), f"{r.params:,}") for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [rule]
    for i, row in enumerate(table):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
        if i == 0:
            lines.append(rule.replace("-", "="))
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    return "\n".join(lines)
