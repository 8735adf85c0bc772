"""Artifacts of a finished run: the test confusion matrix and the model itself.

Imported by `nnx.train` after training; matplotlib draws off-screen (Agg).
"""

from __future__ import annotations

from typing import Any

import torch

from nnx.data import DataSpec, Splits
from nnx.losses import predict
from nnx.tracking import Tracker

__all__ = ["confusion_matrix", "log_artifacts"]

_EXAMPLE_ROWS = 5


def confusion_matrix(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                     spec: DataSpec) -> torch.Tensor:
    """Counts of (true class, predicted class) over ``x``; rows are the true classes."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predicted = predict(model(x), spec).view(-1).cpu()
    model.train(was_training)
    classes = max(spec.num_classes, 2)
    flat = y.view(-1).long().cpu() * classes + predicted
    return torch.bincount(flat, minlength=classes * classes).view(classes, classes)


def _figure(matrix: torch.Tensor) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    classes = matrix.shape[0]
    size = min(3 + 0.4 * classes, 10)
    figure = Figure(figsize=(size, size))
    axes = figure.subplots()
    axes.imshow(matrix.numpy(), cmap="Blues")
    if classes <= 20:
        peak = int(matrix.max())
        for (row, col), count in zip(torch.cartesian_prod(torch.arange(classes),
                                                          torch.arange(classes)).tolist(),
                                     matrix.flatten().tolist(), strict=True):
            axes.text(col, row, str(count), ha="center", va="center",
                      color="white" if count > peak / 2 else "black", fontsize=8)
    axes.set(xlabel="predicted class", ylabel="true class", title="test confusion matrix",
             xticks=range(classes), yticks=range(classes))
    figure.tight_layout()
    return figure


def log_artifacts(tracker: Tracker, model: torch.nn.Module, splits: Splits,
                  log_model: bool) -> None:
    """Log the confusion matrix (classification) and, if asked, the model with an example."""
    x, y = splits.test
    if splits.spec.task == "classification":
        matrix = confusion_matrix(model, x, y, splits.spec)
        tracker.log_text("\n".join(" ".join(map(str, row)) for row in matrix.tolist()),
                         "confusion_matrix.txt")
        tracker.log_figure(_figure(matrix), "confusion_matrix.png")
    if log_model:
        tracker.log_model(model, x[:_EXAMPLE_ROWS])
