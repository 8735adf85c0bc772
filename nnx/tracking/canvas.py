"""A blank figure to draw on: bare matplotlib, Agg canvas, fixed margins.

No pyplot, no display, no global backend state, so figures work on servers and inside
sweeps; fixed margins instead of a layout engine (constrained or tight measures every text
first and makes drawing a figure 3-6 times slower).
"""

from __future__ import annotations

from typing import Any

__all__ = ["blank"]


def blank(width: float, height: float, panels: int = 1, wspace: float = 0.3, left: float = 0.75,
          bottom: float = 0.6, top: float = 0.4) -> tuple[Any, list[Any]]:
    """A ``width`` x ``height`` inch figure with ``panels`` axes side by side (margins in
    inches: ``left`` and ``bottom`` hold the axis labels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = list(figure.subplots(1, panels, squeeze=False)[0])
    figure.subplots_adjust(left=left / width, right=1 - 0.2 / width, bottom=bottom / height,
                           top=1 - top / height, wspace=wspace)
    return figure, axes
