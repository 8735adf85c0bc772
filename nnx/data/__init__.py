"""Data: what a data plugin returns, how it is split, and how it is batched.

The names below are loaded on first use, so ``from nnx.data import DataConfig`` (a plugin's
schema, checked before any data exists) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "DataSpec": "spec", "Splits": "spec",
    "split_arrays": "splits", "standardize": "splits", "fold_splits": "splits",
    "Chunk": "batches", "IndexBatches": "batches",
    "DataConfig": "schemas", "SplitConfig": "schemas",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nnx.data' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nnx.data.{_HOMES[name]}"), name)
