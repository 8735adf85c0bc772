"""Learning curves: train and val loss and score per epoch, one colour per run (or fold).

Drawn on a bare matplotlib ``Figure`` rendered by the Agg canvas: no pyplot, no display,
no global backend state, so it works on servers and inside sweeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_learning_curves", "CURVES_FILE"]

CURVES_FILE = "learning_curves.png"


def _score_name(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> str | None:
    keys = {key for rows in histories.values() for row in rows for key in row}
    return next((name for name in ("acc", "mae") if f"val/{name}" in keys), None)


def plot_learning_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> Any:
    """A figure of ``{label: per-epoch metric rows}``: train solid, val dashed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    score = _score_name(histories)
    panels = ["loss"] + ([score] if score else [])
    figure = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, metric in zip(axes, panels, strict=True):
        for index, (label, rows) in enumerate(histories.items()):
            colour = f"C{index % 10}"
            for split, style in (("train", "-"), ("val", "--")):
                points = [(epoch + 1, row[f"{split}/{metric}"])
                          for epoch, row in enumerate(rows) if f"{split}/{metric}" in row]
                if points:
                    epochs, values = zip(*points, strict=True)
                    ax.plot(epochs, values, style, color=colour, label=f"{label} {split}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} (train solid, val dashed)")
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize="small", ncols=2 if len(histories) > 3 else 1)
    return figure
