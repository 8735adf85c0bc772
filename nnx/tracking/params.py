"""A nested config as MLflow params: one flat ``dotted.key -> text`` per leaf."""

from __future__ import annotations

from typing import Any

__all__ = ["flatten"]


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"model": {"hidden": [64]}}`` -> ``{"model.hidden": "[64]"}``: MLflow params."""
    if isinstance(tree, dict):
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: str(tree)}
