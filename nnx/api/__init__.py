"""nnx from Python: `run`, `sweep`, `search` and `load`, the commands as calls (docs/pages/api.md).

The top layer: it drives the `nnx` command's Hydra app (`nnx.cli`) in the caller's process.
"""

from nnx.api.calls import run, search, sweep
from nnx.api.loading import load
from nnx.api.results import Run, Sweep

__all__ = ["run", "sweep", "search", "load", "Run", "Sweep"]
