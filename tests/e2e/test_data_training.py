"""Real in-process trainings on the data plugins: forecasting, CSV tables, image files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnx.data.files import write_mnist
from nnx.training.pipeline import run
from nnx_plugins.datasets.series import naive_forecast


def _naive_mae(splits) -> float:
    x, y = splits.test
    return float((naive_forecast(x, y.shape[1]) - y).abs().mean())


@pytest.mark.slow
def test_rnn_forecast_beats_the_last_value_and_logs_mae_rmse(make_cfg, mlflow_uri) -> None:
    from mlflow import MlflowClient

    metrics, objects = run(make_cfg("experiment=forecast_rnn"))
    assert objects["recipe"].model.plugin.name == "rnn"
    assert metrics["test/mae"] < 0.85 * _naive_mae(objects["splits"])
    assert metrics["test/rmse"] >= metrics["test/mae"]
    logged = MlflowClient(mlflow_uri).get_run(objects["tracker"].run_id).data.metrics
    assert {"val/mae", "val/rmse", "train/mae", "test/mae", "test/rmse"} <= set(logged)
    assert "val/acc" not in logged
    artifacts = {a.path for a in MlflowClient(mlflow_uri).list_artifacts(objects["tracker"].run_id)}
    assert "learning_curves.png" in artifacts
    assert (Path(objects["recipe"].run.output_dir) / "learning_curves.png").is_file()


def test_mnist_files_train_a_model(make_cfg, tmp_path) -> None:
    write_mnist(tmp_path / "data", n_train=300, n_test=100)
    root = tmp_path / "data"
    cfg = make_cfg("data=mnist", f"data.root={root}", "data.batch_size=32", "trainer.max_epochs=5",
                   tracking=False)
    metrics, objects = run(cfg)
    # A bright band's position encodes the label in the generated images: easy to learn.
    assert metrics["test/acc"] >= 0.5
    assert objects["splits"].spec.input_shape == (1, 28, 28)
