"""The record step of a finished run: curves, confusion matrix, datasets, the model.

The numbers are computed here, on the training device; drawing and storing them is the
tracker's job (`nnx.tracking.figures`), so tracking never needs to know about models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from nnx.config.recipe import Recipe
from nnx.data.spec import DataSpec, Splits
from nnx.data.streaming import is_stream, split_batches
from nnx.models.outputs import predict
from nnx.models.predictor import PREDICTOR_DIR, Predictor
from nnx.tracking.tracker import Tracker

__all__ = ["confusion_matrix", "log_artifacts", "log_curves", "save_predictor", "dataset_inputs"]

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


def save_predictor(recipe: Recipe, model: torch.nn.Module, splits: Splits, output_dir: Path) -> Predictor:
    """Save the model with its preprocessing in ``<output_dir>/predictor`` (what
    ``nnx-predict`` and the logged pyfunc use) and return it."""
    config = recipe.model.config
    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    predictor = Predictor(model, splits.spec, splits.preprocessing, recipe.model.plugin.name, config)
    predictor.save(Path(output_dir) / PREDICTOR_DIR)
    return predictor


def _digest(*tensors: torch.Tensor) -> str:
    sha = hashlib.sha256()
    for tensor in tensors:
        if is_stream(tensor):  # files: their names stand for their contents
            sha.update("\n".join(tensor.files).encode())
            continue
        sha.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return sha.hexdigest()[:10]


def _tensor_spec(tensor: torch.Tensor) -> str:
    shape = [-1, *tensor.shape[1:]]
    dtype = str(tensor.dtype).replace("torch.", "")
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": shape}}])


def dataset_inputs(recipe: Recipe, splits: Splits) -> list[dict[str, Any]]:
    """What the run trained, validated and tested on, as MLflow dataset inputs (one per
    split): the data plugin's name, a digest of the tensors, the source, the schema."""
    source = str(splits.preprocessing.get("source") or f"nnx data plugin '{recipe.data.plugin.name}'")
    is_file = Path(source).is_absolute() and Path(source).exists()
    inputs: list[dict[str, Any]] = []
    for context, (x, y) in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        digest = _digest(x, y)
        same = next((d for d in inputs if d["digest"] == digest), None)
        if same is not None:  # MLflow keeps one input per dataset: the contexts are joined
            same["context"] += f",{context}"
            continue
        inputs.append({
            "name": recipe.data.plugin.name, "digest": digest, "context": context,
            "source_type": "local" if is_file else "code",
            "source": json.dumps({"uri": Path(source).as_uri()} if is_file else {"tags": {"source": source}}),
            "schema": json.dumps({"mlflow_tensorspec": {"features": _tensor_spec(x),
                                                        "targets": _tensor_spec(y)}}),
            "profile": json.dumps({"num_rows": len(y), "features_shape": list(x.shape),
                                   "targets_shape": list(y.shape)}),
        })
    return inputs


def log_artifacts(tracker: Tracker, model: torch.nn.Module, splits: Splits,
                  log_model: bool, predictor: Predictor | None = None,
                  predictor_dir: Path | None = None) -> None:
    """Log the confusion matrix (classification) and, if asked, the model: an MLflow pyfunc
    of ``predictor`` (saved in ``predictor_dir``), raw inputs in, with a raw input example."""
    device = next(model.parameters()).device
    x, y = splits.test
    if is_stream(x):  # its first batch: enough for the input example
        x, y = next(split_batches(splits.test, device, _EXAMPLE_ROWS))
    if splits.spec.task == "classification":
        matrix = sum(confusion_matrix(model, xb, yb, splits.spec)  # a streamed split in batches
                     for xb, yb in split_batches(splits.test, device)).tolist()
        tracker.log_text("\n".join(" ".join(map(str, row)) for row in matrix),
                         "confusion_matrix.txt")
        tracker.log_plot("confusion_matrix", matrix, "confusion_matrix.png")
    if log_model and predictor is not None and predictor_dir is not None:
        code = Path(__file__).with_name("pyfunc_code.py")  # MLflow's models from code: no pickle
        example = predictor.raw_example(x[:_EXAMPLE_ROWS])
        tracker.log_model(str(code), {PREDICTOR_DIR: str(predictor_dir)}, example)


def log_curves(tracker: Tracker, histories: dict[str, list[dict[str, float]]], output_dir: Path) -> None:
    """Plot the learning curves into the output folder and store them with the run."""
    from nnx.tracking.figures import CURVES_FILE

    tracker.log_plot("learning_curves", histories, CURVES_FILE, copy_to=output_dir / CURVES_FILE)
