"""Truth tables of the logic gates AND, OR, NAND and XOR: the perceptron's classic tests.

A truth table has four rows, too few to split; train, val and test are all the whole
table, so the test accuracy says which gates a model can represent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.data import DataConfig
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["GateConfig", "TRUTH_TABLES", "logic_and", "logic_or", "logic_nand", "logic_xor"]

INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))
TRUTH_TABLES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "xor": (0, 1, 1, 0),
}


@dataclass
class GateConfig(DataConfig):
    batch_size: int = field(default=4, metadata={"help": "the whole table in one step"})


def _table(gate: str) -> Splits:
    import torch

    from nnx.data import DataSpec, Splits

    x = torch.tensor(INPUTS, dtype=torch.float32)
    y = torch.tensor(TRUTH_TABLES[gate])
    spec = DataSpec(input_shape=(2,), task="classification", num_classes=2)
    record = {"input": "array", "shape": [2], "classes": ["0", "1"], "source": f"logic gate {gate}"}
    return Splits((x, y), (x, y), (x, y), spec=spec, preprocessing=record)


@register_dataset(GateConfig)
def logic_and(cfg: GateConfig) -> Splits:
    """AND truth table (linearly separable)."""
    return _table("and")


@register_dataset(GateConfig)
def logic_or(cfg: GateConfig) -> Splits:
    """OR truth table (linearly separable)."""
    return _table("or")


@register_dataset(GateConfig)
def logic_nand(cfg: GateConfig) -> Splits:
    """NAND truth table (linearly separable)."""
    return _table("nand")


@register_dataset(GateConfig)
def logic_xor(cfg: GateConfig) -> Splits:
    """XOR truth table (not linearly separable: needs a hidden layer)."""
    return _table("xor")
