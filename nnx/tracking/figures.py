"""The figures a run stores: learning curves, one colour per run (or fold), and the
evaluation report's (`nnx.tracking.report_figures`), all found here by name (``plot_<name>``).

Drawn on bare matplotlib ``Figure``s (`nnx.tracking.canvas`). MLflow's tracker draws them
in its writer process (`nnx.tracking.writer`), from the numbers a run sends; `render` draws
one in this process (`nnx-evaluate`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnx.tracking.canvas import blank
from nnx.tracking.report_figures import plot_classifier_curves, plot_confusion_matrix, plot_predictions

__all__ = [
    "plot_learning_curves", "plot_confusion_matrix", "plot_classifier_curves", "plot_predictions",
    "render", "warm_up", "CURVES_FILE", "REPORT_DIR", "SAVED_FILE",
]

CURVES_FILE = "learning_curves.png"
REPORT_DIR = "evaluation"  # a run's evaluation report: its artifact folder and its run-dir folder
#: In a sweep trial's ``REPORT_DIR``: its report figures as numbers ``{file: [plot, data]}``,
#: drawn only if it is the sweep's best trial (`nnx.tracking.mlflow_store.MlflowStore.log_saved_plots`).
SAVED_FILE = "figures.json"


def _score_name(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> str | None:
    keys = {key for rows in histories.values() for row in rows for key in row}
    return next((name for name in ("acc", "mae") if f"val/{name}" in keys), None)


def plot_learning_curves(histories: Mapping[str, Sequence[Mapping[str, float]]]) -> Any:
    """A figure of ``{label: per-epoch metric rows}``: train solid, val dashed."""
    from matplotlib.ticker import MaxNLocator

    score = _score_name(histories)
    panels = ["loss"] + ([score] if score else [])
    figure, axes = blank(5.5 * len(panels), 4, len(panels))
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


def render(plot: str, data: Any, path: str | Path) -> None:
    """Draw ``plot_<plot>(data)`` into the PNG file ``path``."""
    globals()[f"plot_{plot}"](data).savefig(path, format="png", dpi=100)


def warm_up() -> None:
    """Draw one small figure of each kind to PNG and drop it: the imports, fonts and caches a
    process's first figure needs."""
    import io

    rows = [{"train/loss": 1.0, "val/loss": 1.0, "train/acc": 0.5, "val/acc": 0.5}]
    confusion = {"classes": ["a", "b"], "counts": [[1, 0], [0, 1]]}
    for figure in (plot_learning_curves({"warm-up": rows}), plot_confusion_matrix(confusion)):
        figure.savefig(io.BytesIO(), format="png")
