"""The figures a run stores: learning curves, one colour per run (or fold), and the
test confusion matrix.

Drawn on bare matplotlib ``Figure``s rendered by the Agg canvas: no pyplot, no display,
no global backend state, so they work on servers and inside sweeps. MLflow's tracker draws
them in its writer process (`nnx.tracking.writer`), from the numbers a run sends.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_learning_curves", "plot_confusion_matrix", "warm_up", "CURVES_FILE"]

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
    width, height = 5.5 * len(panels), 4
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    _margins(figure, width, height, wspace=0.3)
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


def plot_confusion_matrix(matrix: Sequence[Sequence[int]]) -> Any:
    """A figure of test counts: rows are the true classes, columns the predicted ones."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    classes = len(matrix)
    size = min(3 + 0.4 * classes, 10)
    figure = Figure(figsize=(size, size))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    _margins(figure, size, size)
    axes.imshow(matrix, cmap="Blues")
    if classes <= 20:
        peak = max(max(row) for row in matrix)
        for row, counts in enumerate(matrix):
            for col, count in enumerate(counts):
                axes.text(col, row, str(count), ha="center", va="center",
                          color="white" if count > peak / 2 else "black", fontsize=8)
    axes.set(xlabel="predicted class", ylabel="true class", title="test confusion matrix",
             xticks=range(classes), yticks=range(classes))
    return figure


def _margins(figure: Any, width: float, height: float, wspace: float = 0.2) -> None:
    """Fixed margins (inches) for the axis labels and titles: a layout engine (constrained
    or tight) measures every text first and makes drawing a figure 3-6 times slower."""
    figure.subplots_adjust(left=0.75 / width, right=1 - 0.2 / width, bottom=0.6 / height,
                           top=1 - 0.4 / height, wspace=wspace)


def warm_up() -> None:
    """Draw one small figure of each kind to PNG and drop it: the imports, fonts and caches a
    process's first figure needs."""
    import io

    rows = [{"train/loss": 1.0, "val/loss": 1.0, "train/acc": 0.5, "val/acc": 0.5}]
    for figure in (plot_learning_curves({"warm-up": rows}), plot_confusion_matrix([[1, 0], [0, 1]])):
        figure.savefig(io.BytesIO(), format="png")
