"""The figures of an evaluation report, drawn from its numbers (`nnx.training.report`).

Classification: the confusion matrix (counts and the share of each true class, class names
on the axes) and one figure of the reliability diagram, ROC curves and precision-recall
curves. Regression: predicted against actual (a forecast against the series over the test
range) beside the residuals' histogram. Panels share a figure and ticks are fixed: the
writer draws them as a run ends, where every figure's fixed cost is waited for. The
classifier's two figures also come in two steps: ``frame_*`` builds and draws everything that
does not depend on the test outputs while the run trains (half the cost: axes, ticks, labels),
and ``plot_*`` adds the numbers to that frame at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nnx.tracking.canvas import blank

__all__ = ["plot_confusion_matrix", "plot_classifier_curves", "plot_predictions", "frame_confusion_matrix",
           "frame_classifier_curves"]

_ANNOTATE = 12  # write counts and shares in the cells up to this many classes
_UNIT = ([0, 0.5, 1], ["0", ".5", "1"])  # few ticks: each one is several artists to draw


def frame_confusion_matrix(classes: Sequence[str]) -> tuple[Any, Any]:
    """The confusion matrix's figure and axes without its numbers: a blank image, the class
    names on the axes, the labels and the title."""
    n = len(classes)
    label = max(len(c) for c in classes)
    margin = min(0.35 + 0.065 * label, 2.0) + 0.35  # tick labels and the axis label
    side = min(2.2 + 0.35 * n, 8)
    figure, [ax] = blank(side + margin + 0.2, side + margin + 0.6, left=margin, bottom=margin,
                         top=0.6)
    ax.imshow([[0.0] * n] * n, cmap="Blues", vmin=0, vmax=1)
    ticks = range(n) if n <= 40 else range(0, n, n // 20)
    ax.set_xticks(ticks, [classes[i] for i in ticks], rotation=90 if label > 3 else 0, fontsize=7)
    ax.set_yticks(ticks, [classes[i] for i in ticks], fontsize=7)
    ax.set(xlabel="predicted class", ylabel="true class")
    _title(ax, "test confusion matrix\n(colour: share of the true class)", fontsize=9)
    return figure, ax


def plot_confusion_matrix(data: Mapping[str, Any], frame: tuple[Any, Any] | None = None) -> Any:
    """Test counts (rows: true classes), coloured by the share of the true class, drawn on
    ``frame`` (`frame_confusion_matrix` of the same classes) or a new one."""
    counts: Sequence[Sequence[int]] = data["counts"]
    figure, ax = frame or frame_confusion_matrix(data["classes"])
    shares = [[c / max(sum(row), 1) for c in row] for row in counts]
    ax.images[0].set_data(shares)
    if len(counts) <= _ANNOTATE:  # the cells that hold samples (an empty cell stays blank: faster, clearer)
        for r, row in enumerate(counts):
            for c, count in enumerate(row):
                if count:
                    ax.text(c, r, f"{count}\n{shares[r][c]:.0%}", ha="center", va="center", fontsize=7,
                            color="white" if shares[r][c] > 0.5 else "black")
    return figure


def frame_classifier_curves(labels: Sequence[str]) -> tuple[Any, list[Any]]:
    """The classifier curves' figure and axes without the curves: the reliability diagram's
    panel and, when any class has ``labels``: curves, the ROC and precision-recall panels
    with the legend of their classes right of them, outside the panels (the curves drawn at
    the end never cover it); diagonals, axes and labels."""
    legend = 0.5 + 0.065 * max(map(len, labels)) if labels else 0.0  # inches right of the panels
    figure, axes = blank(12.5 + legend, 3.9, 3 if labels else 1, wspace=0.25, right=0.2 + legend)
    for ax in axes[:2]:  # reliability; ROC
        ax.plot([0, 1], [0, 1], ":", color="grey", lw=1)
    _unit_square(axes[0], "predicted probability", "")
    if labels:
        from matplotlib.lines import Line2D

        _unit_square(axes[1], "false positive rate", "true positive rate")
        _unit_square(axes[2], "recall", "precision")
        figure.legend([Line2D([], [], lw=1.2, color=_colour(i)) for i in range(len(labels))], labels,
                      loc="center right", fontsize="x-small", title="class", title_fontsize="x-small")
    return figure, axes


def plot_classifier_curves(data: Mapping[str, Any], frame: tuple[Any, list[Any]] | None = None) -> Any:
    """The reliability diagram, and ROC and precision-recall curves (one-vs-rest per class,
    or the positive class), on the test split, drawn on ``frame`` (`frame_classifier_curves`
    of the curves' labels) or a new one."""
    roc, pr = data["roc"], data["pr"]
    figure, axes = frame or frame_classifier_curves([curve["label"] for curve in roc])
    calibration = data["calibration"]
    axes[0].plot(calibration["confidence"], calibration["observed"], "o-", ms=4, color="black")
    axes[0].set_ylabel(calibration["axis"])
    _title(axes[0], f"reliability (test, ECE {calibration['ece']:.3f})")
    if roc:
        for i, (r, p) in enumerate(zip(roc, pr, strict=True)):
            axes[1].plot(r["x"], r["y"], lw=1.2, color=_colour(i))
            axes[2].plot(p["x"], p["y"], lw=1.2, color=_colour(i), drawstyle="steps-post")
        if len(pr) == 1:  # the precision of always guessing positive
            axes[2].axhline(pr[0]["prevalence"], ls=":", color="grey", lw=1)
        mean = "" if len(roc) == 1 else "macro "  # per class: per_class.csv
        auc, ap = (sum(c["score"] for c in curves) / len(curves) for curves in (roc, pr))
        _title(axes[1], f"ROC (test, {mean}AUC {auc:.3f})")
        _title(axes[2], f"precision-recall (test, {mean}AP {ap:.3f})")
    return figure


def plot_predictions(data: Mapping[str, Any]) -> Any:
    """Predicted against actual (or a forecast against the series over the test range),
    and the histogram of the errors (prediction - target)."""
    figure, (ax, hist) = blank(11, 4.2, 2, wspace=0.25)
    actual, predicted = data["actual"], data["predicted"]
    if data.get("forecast"):
        steps = range(1, len(actual) + 1)
        ax.plot(steps, actual, "-", lw=1.2, color="black", label="actual")
        ax.plot(steps, predicted, "-", lw=1.2, color="C1", label="forecast (1 step ahead)")
        ax.set(xlabel="test window", ylabel="value")
        ax.legend(fontsize="x-small")
        _title(ax, "forecast vs actual (test)")
    else:
        low, high = min(min(actual), min(predicted)), max(max(actual), max(predicted))
        ax.plot([low, high], [low, high], ":", color="grey", lw=1)
        ax.plot(actual, predicted, ".", ms=3, alpha=0.6)
        ax.set(xlabel="actual", ylabel="predicted")
        _title(ax, f"predicted vs actual (test, R² {data['r2']:.3f})")
    hist.stairs(data["counts"], data["edges"], fill=True, alpha=0.7)
    hist.axvline(0, color="grey", ls=":", lw=1)
    hist.set(xlabel="residual (predicted - actual)", ylabel="count")
    _title(hist, f"residuals (test, MAE {data['mae']:.4g})")
    for axes in (ax, hist):
        axes.locator_params(nbins=4)  # few ticks: each one is several artists to draw
        axes.grid(alpha=0.3)
    return figure


def _colour(index: int) -> str:
    """The colour of the curves of the ``index``-th class (matplotlib's cycle)."""
    return f"C{index % 10}"


def _title(ax: Any, title: str, **style: Any) -> None:
    """A title at a fixed height: placing it clear of the ticks would measure them (slow)."""
    ax.set_title(title, y=1.01, **style)


def _unit_square(ax: Any, xlabel: str, ylabel: str) -> None:
    """Axes over [0, 1] x [0, 1] with fixed ticks (no tick search) and a grid."""
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel=xlabel, ylabel=ylabel)
    ax.set_xticks(*_UNIT)
    ax.set_yticks(*_UNIT)
    ax.grid(alpha=0.3)
