"""Moved to `nnx.data`; this path still works and warns (FutureWarning)."""

from nnx._moved import moved

__getattr__ = moved(__name__, {
    "DataConfig": "nnx.data",
    "SplitConfig": "nnx.data",
})
