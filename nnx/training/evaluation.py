"""The record step of a finished run: curves, the evaluation report, datasets, the model.

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
from nnx.data.augmented import AugmentedImages
from nnx.data.spec import Splits
from nnx.data.streaming import is_stream, split_batches
from nnx.models.predictor import PREDICTOR_DIR, Predictor
from nnx.tracking.figures import SAVED_FILE
from nnx.tracking.tracker import Tracker
from nnx.training.report import REPORT_DIR, Report, build_report

__all__ = ["outputs_of", "split_outputs", "report_test", "log_report", "save_report", "log_model",
           "log_curves", "save_predictor", "dataset_inputs"]

_EXAMPLE_ROWS = 5
_CHUNK = 4096  # samples per forward pass when a whole split is predicted at once


def outputs_of(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's raw outputs for ``x`` (eval mode, no gradients, in chunks)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(part) for part in x.split(_CHUNK)]) if len(x) else model(x)
    model.train(was_training)
    return out


def split_outputs(model: torch.nn.Module,
                  split: tuple[Any, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(raw outputs, targets)`` of a whole split, in memory or streamed from files."""
    device = next(model.parameters()).device
    parts = [(outputs_of(model, x.to(device)), y) for x, y in split_batches(split, device)]
    return torch.cat([out for out, _ in parts]), torch.cat([y for _, y in parts])


def report_test(tracker: Tracker, model: torch.nn.Module, splits: Splits, threshold: float,
                output_dir: Path, draw: bool = True) -> Report | None:
    """The report of ``model`` on the test split, logged and written (`log_report`); None
    when the test split is empty."""
    if len(splits.test[1]) == 0:
        return None
    outputs, y = split_outputs(model, splits.test)
    report = build_report(outputs, y, splits.spec, splits.preprocessing, threshold)
    log_report(tracker, report, Path(output_dir) / REPORT_DIR, draw)
    return report


def log_report(tracker: Tracker, report: Report, folder: Path, draw: bool = True) -> None:
    """Write the report's tables into ``folder`` and, for a tracked run, store them under
    ``evaluation/`` with its figures, which the tracker draws (and copies into ``folder``).

    ``draw=False`` (a sweep's trial) keeps the figures' numbers in ``folder/figures.json``
    instead: drawing them was most of a trial's tracking work, and the sweep draws its best
    trial's when it ends (`nnx.sweeps.parent`)."""
    for name, text in _write_tables(report, folder).items():
        if tracker.run_id:
            tracker.log_text(text, f"{REPORT_DIR}/{name}")
    if tracker.run_id and not draw:
        (folder / SAVED_FILE).write_text(json.dumps(report.plots))
    elif tracker.run_id:
        for name, (plot, data) in report.plots.items():
            tracker.log_plot(plot, data, f"{REPORT_DIR}/{name}", copy_to=folder / name)


def save_report(report: Report, folder: Path) -> None:
    """Write the whole report into ``folder``, its figures drawn in this process."""
    from nnx.tracking.figures import render

    _write_tables(report, folder)
    for name, (plot, data) in report.plots.items():
        render(plot, data, folder / name)


def _write_tables(report: Report, folder: Path) -> dict[str, str]:
    """The report's CSV tables and ``metrics.json`` written into ``folder``; returned by name."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = {**report.tables, "metrics.json": report.summary_json()}
    for name, text in tables.items():
        (folder / name).write_text(text)
    return tables


def save_predictor(recipe: Recipe, model: torch.nn.Module, splits: Splits, output_dir: Path,
                   threshold: float = 0.5) -> Predictor:
    """Save the model with its preprocessing and decision ``threshold`` in
    ``<output_dir>/predictor`` (what ``nnx-predict`` and the logged pyfunc use); return it."""
    config = recipe.model.config
    config = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    predictor = Predictor(model, splits.spec, splits.preprocessing, recipe.model.plugin.name, config,
                          threshold)
    predictor.save(Path(output_dir) / PREDICTOR_DIR)
    return predictor


def _digest(*tensors: torch.Tensor) -> str:
    sha = hashlib.sha256()
    for tensor in tensors:
        if is_stream(tensor):  # files: their names stand for their contents
            sha.update("\n".join(tensor.files).encode())
            continue
        if isinstance(tensor, AugmentedImages):  # its decoded pixels, before any random draw
            tensor = tensor.images
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


def log_model(tracker: Tracker, splits: Splits, predictor: Predictor, predictor_dir: Path) -> None:
    """Log the model: an MLflow pyfunc of ``predictor`` (saved in ``predictor_dir``), raw
    inputs in, with a raw input example (``tracking.log_model``)."""
    x = splits.test[0]
    if is_stream(x):  # its first batch: enough for the input example
        device = next(predictor.model.parameters()).device
        x, _ = next(split_batches(splits.test, device, _EXAMPLE_ROWS))
    code = Path(__file__).with_name("pyfunc_code.py")  # MLflow's models from code: no pickle
    example = predictor.raw_example(x[:_EXAMPLE_ROWS])
    tracker.log_model(str(code), {PREDICTOR_DIR: str(predictor_dir)}, example)


def log_curves(tracker: Tracker, histories: dict[str, list[dict[str, float]]], output_dir: Path) -> None:
    """Plot the learning curves into the output folder and store them with the run."""
    from nnx.tracking.figures import CURVES_FILE, CURVES_PLOT

    tracker.log_plot(CURVES_PLOT, histories, CURVES_FILE, copy_to=output_dir / CURVES_FILE)
