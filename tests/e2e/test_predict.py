"""Predict with and serve a trained run: raw rows in, class names and probabilities out."""

from __future__ import annotations

import json
import os
import urllib.request

import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from nnx.cli.predict import main as predict_main
from nnx.training.pipeline import run
from tests.servers import BIN, free_port, serve, stop

FAST = ("data=iris", "trainer.max_epochs=3", "model.hidden=[16]")


def _raw_test_rows(objects) -> tuple[pd.DataFrame, list[str]]:
    """The first raw test rows (as in the CSV) and the classes the model gives them."""
    example = objects["splits"].preprocessing["example"]
    rows = pd.DataFrame(example["data"], columns=example["columns"])
    with torch.no_grad():
        predicted = objects["model"].eval()(objects["splits"].test[0][: len(rows)].cpu()).argmax(1)
    classes = objects["splits"].preprocessing["classes"]
    return rows, [classes[i] for i in predicted.tolist()]


def test_nnx_predict_by_run_id_and_by_run_dir(make_cfg, mlflow_uri, tmp_path, capsys) -> None:
    _, objects = run(make_cfg(*FAST))
    rows, expected = _raw_test_rows(objects)
    rows.to_csv(tmp_path / "rows.csv", index=False)
    run_id = objects["tracker"].run_id
    inputs = MlflowClient(mlflow_uri).get_run(run_id).inputs.dataset_inputs  # the Dataset column
    by_context = {i.tags[0].value: i.dataset for i in inputs}
    assert set(by_context) == {"train", "val", "test"}
    test = by_context["test"]
    assert test.name == "iris" and "sklearn.datasets.load_iris" in test.source
    assert json.loads(test.profile)["num_rows"] == len(objects["splits"].test[1])
    assert len({d.digest for d in by_context.values()}) == 3
    predict_main([run_id, "--tracking-uri", mlflow_uri, "-i", str(tmp_path / "rows.csv"),
                  "-o", str(tmp_path / "by_id.csv")])
    by_id = pd.read_csv(tmp_path / "by_id.csv")
    assert by_id["prediction"].tolist() == expected
    assert list(by_id.columns) == ["prediction", "probability", "prob_setosa", "prob_versicolor",
                                   "prob_virginica"]
    capsys.readouterr()
    predict_main([objects["recipe"].run.output_dir, "-i", str(tmp_path / "rows.csv")])
    assert pd.read_csv(pd.io.common.StringIO(capsys.readouterr().out)).equals(by_id)

    rows.drop(columns=["petal width (cm)"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(SystemExit) as exit_:
        predict_main([run_id, "--tracking-uri", mlflow_uri, "-i", str(tmp_path / "bad.csv")])
    assert exit_.value.code == 2
    assert "has no column 'petal width (cm)'" in capsys.readouterr().err


@pytest.mark.slow
def test_mlflow_models_serve_answers_a_real_request(make_cfg, mlflow_uri, tmp_path, monkeypatch) -> None:
    _, objects = run(make_cfg(*FAST, "tracking.log_model=true"))
    rows, expected = _raw_test_rows(objects)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # where runs:/ is looked up
    monkeypatch.setenv("PATH", f"{BIN}:{os.environ['PATH']}")  # it starts `uvicorn` from the PATH
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve([str(BIN / "mlflow"), "models", "serve", "-m",
                    f"runs:/{objects['tracker'].run_id}/model", "--env-manager", "local",
                    "-h", "127.0.0.1", "-p", str(port)], base, tmp_path / "serve.log")
    try:
        body = json.dumps({"dataframe_split": rows.to_dict(orient="split")}).encode()
        request = urllib.request.Request(f"{base}/invocations", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            predictions = json.loads(answer.read())["predictions"]
    finally:
        stop(server)
    assert [p["prediction"] for p in predictions] == expected
    assert all(abs(sum(v for k, v in p.items() if k.startswith("prob_")) - 1) < 1e-6 for p in predictions)
