"""The record step of a finished run: learning curves, test confusion matrix, the model.

The numbers are computed here, on the training device; drawing and storing them is the
tracker's job (`nnx.tracking.figures`), so tracking never needs to know about models.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nnx.data.spec import DataSpec, Splits
from nnx.models.outputs import predict
from nnx.tracking.tracker import Tracker

__all__ = ["confusion_matrix", "log_artifacts", "log_curves"]

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


def log_artifacts(tracker: Tracker, model: torch.nn.Module, splits: Splits,
                  log_model: bool) -> None:
    """Log the confusion matrix (classification) and, if asked, the model with an example."""
    x, y = splits.test
    if splits.spec.task == "classification":
        matrix = confusion_matrix(model, x, y, splits.spec).tolist()
        tracker.log_text("\n".join(" ".join(map(str, row)) for row in matrix),
                         "confusion_matrix.txt")
        tracker.log_plot("confusion_matrix", matrix, "confusion_matrix.png")
    if log_model:
        tracker.log_model(model, x[:_EXAMPLE_ROWS])


def log_curves(tracker: Tracker, histories: dict[str, list[dict[str, float]]], output_dir: Path) -> None:
    """Plot the learning curves into the output folder and store them with the run."""
    from nnx.tracking.figures import CURVES_FILE

    tracker.log_plot("learning_curves", histories, CURVES_FILE, copy_to=output_dir / CURVES_FILE)
