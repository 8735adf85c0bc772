"""A Keras-style model summary: each layer's name, type, output shape and parameters.

Shapes are PyTorch's, channels first: a Keras ``(None, 26, 26, 32)`` is ``(None, 32, 26, 26)``
here. A sub-network that is a model plugin of its own (a module of `modular`) gets a row
with its plugin name and total parameters, and its layers are indented below it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from nnx.data.spec import DataSpec

__all__ = ["LayerRow", "summarize", "render", "PLUGIN_ATTRIBUTE"]

#: Set on a sub-network built by a model plugin (its name), so the summary groups its layers.
PLUGIN_ATTRIBUTE = "nnx_plugin"


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...] | str
    params: int
    depth: int = 0  # how many sub-networks contain this row


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
    groups = [name for module, name in names.items() if name and hasattr(module, PLUGIN_ATTRIBUTE)]
    open_rows: dict[nn.Module, list[LayerRow]] = {}

    def depth(name: str) -> int:
        return sum(name.startswith(group + ".") for group in groups)

    def open_group(module: nn.Module, _inputs: object) -> None:
        name = names[module]
        total = sum(p.numel() for p in module.parameters())
        kind = f"{getattr(module, PLUGIN_ATTRIBUTE)}: {type(module).__name__}"
        rows.append(LayerRow(name, kind, "?", total, depth(name)))
        open_rows.setdefault(module, []).append(rows[-1])

    def close_group(module: nn.Module, _inputs: object, out: object) -> None:
        open_rows[module].pop().output_shape = _shape(out)

    def record(module: nn.Module, _inputs: object, out: object) -> None:
        name = names.get(module, "?")
        params = sum(p.numel() for p in module.parameters(recurse=False))
        rows.append(LayerRow(name, type(module).__name__, _shape(out), params, depth(name)))

    hooks = []
    for module, name in names.items():
        if name in groups:
            hooks += [module.register_forward_pre_hook(open_group),
                      module.register_forward_hook(close_group)]
        elif not list(module.children()):
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
    table += [(f"{'  ' * r.depth}{r.name} ({r.kind})", str(r.output_shape), f"{r.params:,}")
              for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [rule]
    for i, row in enumerate(table):
        lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}")
        if i == 0:
            lines.append(rule.replace("-", "="))
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {total - trainable:,}", rule]
    if any(r.depth for r in rows):
        lines.append("A sub-network's row counts all its parameters; its layers are indented.")
    return "\n".join(lines)
