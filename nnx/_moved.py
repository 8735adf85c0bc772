"""Old import paths keep working for a while, with a warning that names the new one."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["moved"]


def moved(old: str, homes: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old`` that finds each name in its new module ``homes[name]``."""

    def __getattr__(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {old!r} has no attribute {name!r}")
        warnings.warn(f"{old}.{name} moved to {homes[name]}.{name}; import it from there "
                      f"({old} will be removed)", FutureWarning, stacklevel=2)
        return getattr(importlib.import_module(homes[name]), name)

    return __getattr__
