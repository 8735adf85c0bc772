"""Which way is better for a metric key (``val/acc`` up, ``val/loss`` down).

Everything that compares runs or epochs (a search's direction, early stopping and the best
checkpoint's ``mode``, `nnx-compare`'s order) asks `direction` instead of being told.
"""

from __future__ import annotations

__all__ = ["direction"]

#: Metric names whose larger values are better; every other name (losses, errors) is minimised.
_MAXIMISED = frozenset({"acc", "f1", "precision", "recall", "auroc", "average_precision", "r2"})


def direction(key: str) -> str:
    """``"max"`` or ``"min"`` for a metric key ``split/name`` (a baseline reads as its metric)."""
    name = key.rpartition("/")[2].removeprefix("baseline_")
    return "max" if name in _MAXIMISED else "min"
