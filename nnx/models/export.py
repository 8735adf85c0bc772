"""A trained model as one self-contained graph: its preprocessing where a graph can express it,
the network, and the output activation (class probabilities, or values in the data's units).

`graph_module` wraps a `Predictor`'s network; `contract` says what the graph's input is (the
feature order, which steps happen in the graph and which before it); `export` writes the
graph as ONNX, a ``torch.export`` program or TorchScript with a dynamic batch axis. A layer
that cannot be exported fails as one line naming it. Torch only: no Lightning, no MLflow.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from nnx.errors import NnxError

__all__ = ["FORMATS", "GraphModule", "graph_module", "contract", "graph_inputs", "export", "run_exported",
           "max_abs_diff"]

#: ``--format`` choices and the file each writes.
FORMATS = {"onnx": ".onnx", "torch_export": ".pt2", "torchscript": ".pt"}


class GraphModule(nn.Module):
    """Raw-ish inputs (see `contract`) -> the preprocessing a graph can do -> the network ->
    probabilities (classes) or values (un-scaled for a series)."""

    def __init__(self, model: nn.Module, spec: Any, record: dict[str, Any]) -> None:
        super().__init__()
        self.model, self.kind = model, record.get("input", "array")
        self.classify, self.one_output = spec.task == "classification", spec.num_outputs == 1
        self.one_hot: list[int] = []  # per categorical column: its number of categories (0: a code)
        shape = tuple(record.get("shape", spec.input_shape))
        mean, std, fill, scale = 0.0, 1.0, None, 1.0
        if self.kind == "table":
            numeric = record["numeric"]
            if record["standardize"]:
                mean = torch.tensor([record["mean"][c] for c in numeric])
                std = torch.tensor([record["std"][c] for c in numeric])
            fill = torch.tensor([float(record["fill"][c]) for c in numeric])
            self.numeric = len(numeric)
            codes = record["encoding"] == "codes"
            self.one_hot = [0 if codes else len(v) for v in record["categories"].values()]
        elif self.kind == "series":
            mean, std = float(record.get("mean", 0.0)), float(record.get("std", 1.0) or 1.0)
        else:
            from nnx.data.transforms import stats_like

            scale = float(record.get("scale") or 1.0)
            if record.get("mean") is not None:
                mean = torch.from_numpy(stats_like(record["mean"], shape))
                std = torch.from_numpy(stats_like(record["std"], shape))
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.register_buffer("fill", torch.as_tensor(fill if fill is not None else 0.0, dtype=torch.float32))
        self.scale = scale

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "series":
            return ((x - self.mean) / self.std).unsqueeze(-1)
        if self.kind != "table":
            return (x * self.scale - self.mean) / self.std
        numbers = x[:, : self.numeric]
        numbers = torch.where(torch.isnan(numbers), self.fill, numbers)
        blocks = [(numbers - self.mean) / self.std]
        for i, size in enumerate(self.one_hot):
            code = x[:, self.numeric + i : self.numeric + i + 1]
            blocks.append(code if size == 0 else (code == torch.arange(size, dtype=x.dtype)).to(x.dtype))
        return torch.cat(blocks, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(self._encode(x))
        if self.classify:
            if self.one_output:
                p1 = torch.sigmoid(out.reshape(-1, 1))
                return torch.cat([1 - p1, p1], dim=1)
            return torch.softmax(out, dim=-1)
        out = out.reshape(out.shape[0], -1)
        return out * self.std + self.mean if self.kind == "series" else out


def graph_module(predictor: Any) -> GraphModule:
    """The predictor's network inside its graph (evaluation mode)."""
    return GraphModule(predictor.model, predictor.spec, predictor.preprocessing).eval()


def contract(predictor: Any, fmt: str) -> dict[str, Any]:
    """The graph's input and output, plain data: what a caller must send and gets back."""
    record, spec = predictor.preprocessing, predictor.spec
    kind = record.get("input", "array")
    in_graph: list[str] = []
    before: list[str] = []
    features: list[dict[str, Any]] = []
    if kind == "table":
        for column in record["numeric"]:
            features.append({"name": column, "kind": "numeric", "mean": record["mean"][column],
                             "std": record["std"][column], "fill": record["fill"][column]})
        for column, categories in record["categories"].items():
            features.append({"name": column, "kind": "categorical", "categories": categories,
                             "value": "the index of the category in categories (0-based), as a float"})
        in_graph += ["missing numbers (NaN) filled with the training fill values"]
        if record["standardize"]:
            in_graph.append("numeric columns standardised by the training mean and std")
        if record["categories"]:
            in_graph.append("categories one-hot encoded" if record["encoding"] != "codes" else
                            "category codes passed on")
            before.append("each categorical column's text replaced by its index in categories")
        shape: list[Any] = [None, len(features)]
    elif kind == "series":
        shape = [None, int(record["window"])]
        in_graph += ["the window scaled by the training mean and std", "forecasts scaled back"]
        features = [{"name": record.get("column") or "value", "kind": "window",
                     "mean": record.get("mean", 0.0), "std": record.get("std", 1.0)}]
    else:
        shape = [None, *record.get("shape", spec.input_shape)]
        if record.get("scale"):
            in_graph.append(f"values multiplied by {record['scale']}")
        if record.get("mean") is not None:
            in_graph.append("values standardised by the training mean and std")
    if spec.task == "classification":
        output = {"name": "output", "kind": "probabilities", "shape": [None, len(predictor.classes)],
                  "classes": predictor.classes}
    else:
        output = {"name": "output", "kind": "values", "shape": [None, spec.num_outputs]}
    return {"format": fmt, "model": predictor.model_name,
            "input": {"name": "input", "dtype": "float32", "shape": shape, "kind": kind,
                      "features": features},
            "preprocessing_in_graph": in_graph, "preprocessing_before_graph": before,
            "output": output}


def graph_inputs(predictor: Any, x: torch.Tensor) -> np.ndarray:
    """The graph's input for model inputs ``x`` (encoded test samples): the encoding undone."""
    record = predictor.preprocessing
    kind = record.get("input", "array")
    values = x.detach().cpu().double().numpy()
    if kind == "series":
        return (values[..., 0] * (record.get("std", 1.0) or 1.0) + record.get("mean", 0.0)).astype(np.float32)
    if kind != "table":
        return np.asarray(predictor.raw_example(x), dtype=np.float32)
    numeric = record["numeric"]
    numbers = values[:, : len(numeric)]
    if record["standardize"]:
        numbers = numbers * [record["std"][c] for c in numeric] + [record["mean"][c] for c in numeric]
    columns, at = [numbers], len(numeric)
    for categories in record["categories"].values():
        width = 1 if record["encoding"] == "codes" else len(categories)
        block = values[:, at : at + width]
        columns.append(block if width == 1 and record["encoding"] == "codes" else block.argmax(1)[:, None])
        at += width
    return np.concatenate(columns, axis=1).astype(np.float32)


def _layer_inputs(model: nn.Module, graph: nn.Module, example: torch.Tensor) -> list[tuple[str, Any]]:
    """Each leaf layer (``name (Type)``) with the input it gets from ``example``, in the order they run."""
    seen: list[tuple[str, nn.Module, Any]] = []
    handles = [module.register_forward_pre_hook(
        lambda module, args, name=name: seen.append((name, module, args)) if args else None)
        for name, module in model.named_modules() if name and not list(module.children())]
    try:
        with torch.no_grad():
            graph(example)
    finally:
        for handle in handles:
            handle.remove()
    first: dict[str, tuple[nn.Module, Any]] = {}
    for name, module, args in seen:
        first.setdefault(f"{name} ({type(module).__name__})", (module, args))
    return list(first.items())


def _culprit(predictor: Any, graph: nn.Module, example: torch.Tensor, fmt: str, scratch: Path) -> str:
    """The first layer that cannot be exported alone (the model's name when each can)."""
    for label, (module, args) in _layer_inputs(predictor.model, graph, example):
        try:
            _write(module, args, fmt, scratch / f"layer{FORMATS[fmt]}")
        except Exception:  # noqa: BLE001  this is the layer the exporter fails on
            return label
    return f"the model '{predictor.model_name}'"


def _reason(error: BaseException) -> str:
    """The root cause's first line, without terminal colours."""
    import re

    from nnx.errors import first_line

    while error.__cause__ is not None:
        error = error.__cause__
    return re.sub(r"\x1b\[[0-9;]*m", "", first_line(error))[:200]


def _write(module: nn.Module, args: tuple[Any, ...], fmt: str, output: Path) -> None:
    batch = torch.export.Dim("batch", min=1)
    shapes = tuple({0: batch} if isinstance(a, torch.Tensor) and a.dim() else None for a in args)
    if fmt == "torchscript":
        torch.jit.save(torch.jit.trace(module, args), str(output))
    elif fmt == "torch_export":
        torch.export.save(torch.export.export(module, args, dynamic_shapes=shapes), str(output))
    else:
        program = torch.onnx.export(module, args, input_names=["input"], output_names=["output"],
                                    dynamic_shapes=shapes, dynamo=True, optimize=True)
        program.save(str(output), external_data=False)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters' progress lines and deprecation warnings stay out of nnx's output."""
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def export(predictor: Any, fmt: str, output: Path, example: torch.Tensor) -> Path:
    """Write the predictor's graph in ``fmt`` to ``output``; ``example`` (graph inputs, two or
    more samples) traces it. A layer that cannot be exported is a one-line `NnxError`."""
    import tempfile

    graph = graph_module(predictor)
    output.parent.mkdir(parents=True, exist_ok=True)
    if len(example) < 2:  # a batch of one would fix the batch axis
        example = example.repeat(2, *([1] * (example.dim() - 1)))
    with _quiet():
        try:
            _write(graph, (example,), fmt, output)
        except Exception as error:  # noqa: BLE001  any exporter failure is reported as one line
            with tempfile.TemporaryDirectory() as scratch:
                layer = _culprit(predictor, graph, example, fmt, Path(scratch))
            raise NnxError(f"Cannot export layer {layer} to {fmt}: {_reason(error)}") from None
    return output


def run_exported(path: Path, fmt: str, x: np.ndarray) -> np.ndarray:
    """The exported graph's output for ``x``: onnxruntime for ONNX, torch for the others."""
    if fmt == "onnx":
        import onnx
        import onnxruntime

        onnx.checker.check_model(str(path), full_check=True)  # a valid graph, shapes inferred
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    with _quiet():
        loaded = torch.jit.load(str(path)) if fmt == "torchscript" else torch.export.load(str(path)).module()
    with torch.no_grad():
        return loaded(torch.from_numpy(x)).numpy()


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    """The parity check's number: the largest absolute difference between two outputs."""
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0

