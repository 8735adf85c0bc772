"""Environment variables set for the length of a block only, then restored as they were.

Libraries nnx drives (Hydra, MLflow) read some settings from the environment; nnx changes
them only where it needs them, never at import and never for the rest of the process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["scoped_env"]


@contextlib.contextmanager
def scoped_env(values: dict[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` within the block; each variable is restored (or
    removed, if it was unset) afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
