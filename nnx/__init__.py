"""nnx: declarative, plugin-based neural-network experiments.

Importing this package is cheap on purpose: the heavy parts (torch, Lightning, MLflow)
are imported by the modules that need them, when they need them. The Python API
(`nnx.run`, `nnx.sweep`, `nnx.search`, `nnx.load`, `nnx.Run`, `nnx.Sweep`) is loaded on
first use, so `import nnx` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = ("run", "sweep", "search", "load", "Run", "Sweep")
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("nnx.api"), name)
    raise AttributeError(f"module 'nnx' has no attribute {name!r}")
