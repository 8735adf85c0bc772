"""Tracking: where runs are recorded. MLflow by default, nothing with ``tracking=none``.

An adapter at the edge: it knows configs and stores, never models or data. The names below
are loaded on first use, so importing the package does not import MLflow.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "Tracker": "tracker", "PARENT_TAG": "tracker",
    "MlflowTracker": "mlflow_run", "make_tracker": "mlflow_run",
    "MlflowStore": "mlflow_store", "EXPERIMENT_KIND_TAG": "mlflow_store", "Store": "store",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'nnx.tracking' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nnx.tracking.{_HOMES[name]}"), name)
