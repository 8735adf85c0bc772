"""`nnx-export`: the graph with its preprocessing and output activation, its contract, and the
parity check on the run's own test inputs (onnxruntime against torch)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nnx.cli.export import export_run
from nnx.errors import NnxError
from nnx.training.pipeline import run

ROOT = Path(__file__).resolve().parents[2]
ONE_EPOCH = ("trainer.max_epochs=1",)


def _export(make_cfg, tmp_path, *overrides: str, fmt: str = "onnx", tracking: bool = False):
    metrics, objects = run(make_cfg(*ONE_EPOCH, *overrides, tracking=tracking))
    output = tmp_path / "export" / f"model.{fmt}"
    lines = export_run(str(objects["recipe"].run.output_dir), fmt, output, objects["recipe"].tracking.uri)
    contract = json.loads(output.with_name(output.name + ".json").read_text())
    parity = json.loads(output.with_name(output.name + ".parity.json").read_text())
    return objects, lines, output, contract, parity


@pytest.mark.e2e
@pytest.mark.slow
def test_csv_with_categoricals_exports_preprocessing_in_the_graph(make_cfg, tmp_path, mlflow_uri) -> None:
    csv = ROOT / "examples" / "data" / "churn.csv"
    objects, lines, output, contract, parity = _export(
        make_cfg, tmp_path, "experiment=churn_mlp", f"data.path={csv}", tracking=True)
    assert parity["engine"] == "onnxruntime" and parity["passed"] and parity["max_abs_diff"] <= 1e-5
    assert parity["samples"] == len(objects["splits"].test[1])
    kinds = {f["name"]: f["kind"] for f in contract["input"]["features"]}
    assert "categorical" in kinds.values() and "numeric" in kinds.values()
    assert "categories one-hot encoded" in contract["preprocessing_in_graph"]
    assert contract["output"] == {"name": "output", "kind": "probabilities", "shape": [None, 2],
                                  "classes": ["no", "yes"]}
    assert any("parity   onnxruntime vs torch" in line and line.endswith("ok") for line in lines)

    # The graph on raw rows (categories as their index) answers as nnx-predict does.
    import onnxruntime
    import pandas as pd

    from nnx.models.predictor import Predictor

    rows = pd.read_csv(csv).drop(columns=["churned"]).head(8).dropna()
    predictor = Predictor.load(Path(objects["recipe"].run.output_dir) / "predictor")
    features = contract["input"]["features"]
    x = np.array([[f["categories"].index(str(row[f["name"]])) if f["kind"] == "categorical"
                   else float(row[f["name"]]) for f in features] for _, row in rows.iterrows()], np.float32)
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    probabilities = session.run(None, {"input": x})[0]
    expected = predictor.predict_proba(rows).to_numpy()
    assert np.abs(probabilities - expected).max() <= 1e-5

    # The exported file, the contract and the parity result are the run's artifacts.
    from nnx.tracking.store import Store

    with Store.of(mlflow_uri).session() as client:
        logged = {a.path for a in client.list_artifacts(objects["tracker"].run_id, "export")}
    assert logged == {"export/model.onnx", "export/model.onnx.json", "export/model.onnx.parity.json"}


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(("model", "data", "shape"), [("cnn", "mnist1d", [None, 1, 40]),
                                                      ("gru", "digits", [None, 1, 8, 8])])
def test_cnn_and_gru_export_with_parity(make_cfg, tmp_path, model, data, shape) -> None:
    """A signal (MNIST-1D) through a CNN, an image (digits, 8 steps of 8 values) through a
    GRU: a GRU's export takes longer the longer its sequence (2-3 s for 8 steps, 6-8 s for 40)."""
    small = "model.hidden=16" if model == "gru" else "model.dense=[32]"
    objects, lines, output, contract, parity = _export(make_cfg, tmp_path, f"model={model}",
                                                       f"data={data}", small)
    assert parity["passed"] and parity["samples"] == len(objects["splits"].test[1]), lines
    assert contract["input"]["shape"] == shape
    assert contract["output"]["kind"] == "probabilities" and len(contract["output"]["classes"]) == 10
    import onnxruntime

    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    for batch in (1, 7):  # the batch axis is dynamic
        shape = [batch, *contract["input"]["shape"][1:]]
        out = session.run(None, {"input": np.random.default_rng(0).normal(size=shape).astype(np.float32)})[0]
        assert out.shape == (batch, 10) and np.allclose(out.sum(1), 1, atol=1e-5)


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torch_export", "torchscript"])
def test_torch_formats_pass_parity(make_cfg, tmp_path, fmt) -> None:
    _, lines, output, _, parity = _export(make_cfg, tmp_path, "data=iris", fmt=fmt)
    assert output.is_file() and parity["passed"], lines
    assert "not logged: the run is not tracked" in lines


class _Orthogonal(torch.nn.Module):
    """A layer ONNX has no operator for (a QR decomposition)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.qr(x.unsqueeze(-1))[0].squeeze(-1)


def test_an_unexportable_layer_is_named_in_one_line(tmp_path) -> None:
    from nnx.data.spec import DataSpec
    from nnx.models import export as graphs
    from nnx.models.predictor import Predictor

    spec = DataSpec(kind="table", input_shape=(4,), num_classes=3, task="classification")
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), _Orthogonal(), torch.nn.Linear(8, 3))
    predictor = Predictor(model.eval(), spec, {"input": "array", "shape": [4]}, "custom")
    with pytest.raises(NnxError, match=r"^Cannot export layer 1 \(_Orthogonal\) to onnx: ") as error:
        graphs.export(predictor, "onnx", tmp_path / "m.onnx", torch.zeros(2, 4))
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value) and error.value.exit_code == 2
