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

from nnx.tracking.canvas import blank, finish, keep_pixels
from nnx.tracking.report_figures import (
    frame_classifier_curves,
    frame_confusion_matrix,
    plot_classifier_curves,
    plot_confusion_matrix,
    plot_predictions,
)

__all__ = [
    "plot_learning_curves", "plot_confusion_matrix", "plot_classifier_curves", "plot_predictions",
    "frame_confusion_matrix", "frame_classifier_curves",
    "render", "draw_frame", "frame_key", "warm_up", "PLOTS", "REPORT_PLOTS", "CURVES_PLOT", "CURVES_FILE",
    "REPORT_DIR", "SAVED_FILE",
]

CURVES_PLOT = "learning_curves"  # every tracked run draws it (`plot_learning_curves`)
CURVES_FILE = f"{CURVES_PLOT}.png"
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
        # y given: matplotlib would otherwise measure the tick labels to place the title (a
        # fifth of the figure's drawing time); the same pixels, as no ticks are on top
        ax.set_title(f"{metric} (train solid, val dashed)", y=1.0)
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize="small", ncols=2 if len(histories) > 3 else 1)
    return figure


#: The plots drawn in two steps, and what their frame depends on: the frame is built from it
#: (`draw_frame`) while a run trains, and a plot's data gives its key at the end.
_FRAME_KEYS = {
    "confusion_matrix": lambda data: (tuple(data["classes"]),),
    "classifier_curves": lambda data: (tuple(curve["label"] for curve in data["roc"]),),
}


def frame_key(plot: str, data: Any) -> tuple | None:
    """The key of the frame ``plot_<plot>(data)`` is drawn on; None if it has none."""
    key = _FRAME_KEYS.get(plot)
    return None if key is None else key(data)


def draw_frame(plot: str, key: tuple) -> Any:
    """``frame_<plot>(*key)`` drawn, its pixels kept (`nnx.tracking.canvas.keep_pixels`), for
    ``render`` to finish."""
    built = globals()[f"frame_{plot}"](*key)
    return built, keep_pixels(built[0])


def render(plot: str, data: Any, path: str | Path, frame: Any = None) -> None:
    """Draw ``plot_<plot>(data)`` into the PNG file ``path``: on ``frame`` (`draw_frame`'s)
    only what the data adds, or whole. Light compression: a run's end waits for its
    figures, and zlib's default level is a tenth of their drawing time."""
    png = {"dpi": 100, "pil_kwargs": {"compress_level": 1}}
    if frame is None:
        globals()[f"plot_{plot}"](data).savefig(path, format="png", **png)
        return
    built, kept = frame
    finish(globals()[f"plot_{plot}"](data, built), kept, path, **png)


#: A small figure of each kind (`warm_up`): the numbers ``plot_<kind>`` draws.
_CURVE = {"x": [0, 1], "y": [0, 1], "label": "a", "score": 0.5, "prevalence": 0.5}
_SAMPLES: dict[str, Any] = {
    "learning_curves": {"warm-up": [{"train/loss": 1.0, "val/loss": 1.0, "train/acc": 0.5, "val/acc": 0.5}]},
    "confusion_matrix": {"classes": ["a", "b"], "counts": [[1, 0], [0, 1]]},
    "classifier_curves": {"roc": [_CURVE], "pr": [_CURVE], "calibration": {
        "confidence": [0.5], "observed": [0.5], "axis": "observed", "ece": 0.0}},
    "predictions": {"actual": [0.0, 1.0], "predicted": [0.0, 1.0], "r2": 1.0, "mae": 0.0, "counts": [1],
                    "edges": [-1.0, 1.0]},
}
PLOTS = tuple(_SAMPLES)  # every kind of figure a run can store
REPORT_PLOTS = tuple(plot for plot in PLOTS if plot != CURVES_PLOT)  # an evaluation report's


def warm_up(kinds: Sequence[str] = PLOTS) -> None:
    """Draw one small figure of each of ``kinds`` to PNG and drop it: the imports, fonts and
    caches a process's first figure of that kind needs (most of its drawing time), paid
    ahead. A kind costs about 0.2 s of CPU the first time (the first of all about 0.6 s): a
    process warms only the kinds it may draw (`nnx.tracking.tracker.Tracker.connect`)."""
    import io

    for kind in kinds:
        globals()[f"plot_{kind}"](_SAMPLES[kind]).savefig(io.BytesIO(), format="png")
