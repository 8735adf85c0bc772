"""Whether a model fits in this machine's memory, known before any of its weights exist.

The model is built once on PyTorch's ``meta`` device (shapes, no storage: milliseconds even
for billions of parameters) to count its parameters; training keeps about four copies of
them (weights, gradients and two optimizer moments for Adam).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnx.errors import NnxError

__all__ = ["COPIES", "needed_bytes", "check_fits"]

#: Copies of the parameters training holds: weights, gradients, Adam's two moments.
COPIES = 4


def needed_bytes(build: Callable[[], Any]) -> tuple[int, int]:
    """The parameter count of ``build()``'s model and the bytes training it takes."""
    import torch

    with torch.device("meta"):
        model = build()
    params = list(model.parameters())
    return sum(p.numel() for p in params), COPIES * sum(p.numel() * p.element_size() for p in params)


def check_fits(build: Callable[[], Any], name: str, available: int | None = None) -> None:
    """Raise a one-line `NnxError` if training ``build()``'s model needs more memory than is
    available (``available`` bytes; default: what the machine has free now)."""
    import psutil

    try:
        count, need = needed_bytes(build)
    except Exception:  # noqa: BLE001  a builder that cannot run on 'meta': the real build reports
        return
    available = psutil.virtual_memory().available if available is None else available
    if need > available:
        raise NnxError(
            f"Model '{name}' is too large for this machine: its {count:,} parameters need about "
            f"{_gib(need)} to train (weights, gradients, optimizer state) and {_gib(available)} "
            f"is available. Make it smaller (e.g. fewer or narrower layers) or use a bigger machine."
        )


def _gib(size: int) -> str:
    return f"{size / 2**30:,.1f} GiB"
