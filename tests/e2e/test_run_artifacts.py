"""What one run leaves in MLflow: artifacts, a registrable model, the error of a failed run."""

from __future__ import annotations

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
import torch
from mlflow import MlflowClient

from nnx.config.identity import config_hash
from nnx.errors import TrainingError
from nnx.training.pipeline import run

FAST = ("data=iris", "trainer.max_epochs=2")


def test_run_logs_artifacts_and_a_model_that_loads_back(make_cfg, mlflow_uri, tmp_path) -> None:
    cfg = make_cfg(*FAST, "tracking.log_model=true", "tracking.system_metrics=true")
    _, objects = run(cfg)
    client = MlflowClient(mlflow_uri)
    run_id = objects["tracker"].run_id
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.yaml", "overrides.yaml", "model_summary.txt", "evaluation", "model",
            "predictor"} <= names
    logged = client.get_run(run_id)
    assert logged.data.tags["nnx.config_hash"] == config_hash(cfg)
    assert "mlflow.parentRunId" not in logged.data.tags  # a single run stays top-level
    assert any(k.startswith("system/") for k in logged.data.metrics)

    mlflow.set_tracking_uri(mlflow_uri)
    version = mlflow.register_model(f"runs:/{run_id}/model", "nnx-test-iris")
    loaded = mlflow.pyfunc.load_model(f"models:/nnx-test-iris/{version.version}")
    example = objects["splits"].preprocessing["example"]  # raw test rows, as in the CSV
    raw = pd.DataFrame(example["data"], columns=example["columns"])
    predicted = loaded.predict(raw)
    model = objects["model"].eval()
    with torch.no_grad():  # the pyfunc applies the run's standardisation: same as the model
        expected = model(objects["splits"].test[0][: len(raw)]).argmax(1)
    classes = objects["splits"].preprocessing["classes"]
    assert predicted["prediction"].tolist() == [classes[i] for i in expected.tolist()]
    signature = mlflow.models.get_model_info(f"runs:/{run_id}/model").signature
    assert signature.inputs.input_names() == ["sepal length (cm)", "sepal width (cm)",
                                              "petal length (cm)", "petal width (cm)"]


def test_a_failed_run_carries_its_error(make_cfg, mlflow_uri, tmp_path) -> None:
    with pytest.raises(TrainingError) as caught:
        run(make_cfg(*FAST, "optimizer.lr=1e30"))
    client = MlflowClient(mlflow_uri)
    failed = client.get_run(caught.value.nnx_run_id)
    assert failed.info.status == "FAILED"
    assert failed.data.tags["nnx.error"].startswith("TrainingError: The training loss became nan")
    text = open(client.download_artifacts(failed.info.run_id, "error.txt", str(tmp_path))).read()
    assert "Traceback" in text and "TrainingError" in text


def test_config_hash_follows_what_is_trained_not_where_it_is_logged(make_cfg) -> None:
    base = config_hash(make_cfg(*FAST))
    assert config_hash(make_cfg(*FAST, "tracking.experiment=elsewhere")) == base
    assert config_hash(make_cfg(*FAST, tracking=False)) == base
    assert config_hash(make_cfg(*FAST, "seed=7")) != base
    assert config_hash(make_cfg(*FAST, "optimizer.lr=0.5")) != base
