"""Every run's evaluation report (its numbers are the logged test metrics), the tuned binary
threshold (recorded, used by the metrics, the report and nnx-predict) and nnx-evaluate
(a run's own test rows give back its test metrics; bad input is one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sklearn.datasets
import torch
from hydra import compose, initialize_config_module
from mlflow import MlflowClient

from nnx.cli.evaluate import EVALUATED_TAG
from nnx.cli.evaluate import main as evaluate_main
from nnx.cli.predict import main as predict_main
from nnx.data import split_arrays
from nnx.training.pipeline import run
from nnx.training.resume import OUTPUT_DIR_TAG
from nnx.training.threshold import best_f1_threshold
from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.e2e

CLASSIFIER_FILES = {"metrics.json", "per_class.csv", "confusion_matrix.csv", "confusion_matrix.png",
                    "roc_pr_calibration.png"}


def _report(objects) -> tuple[Path, dict[str, float]]:
    folder = Path(objects["recipe"].run.output_dir) / "evaluation"
    return folder, json.loads((folder / "metrics.json").read_text())


def _assert_same(report: dict[str, float], logged: dict[str, float]) -> None:
    """Every test metric both hold is equal (to float32 rounding), and there is one at least."""
    shared = sorted(k for k in report if k in logged)
    assert shared, (report, logged)
    assert {k: report[k] for k in shared} == pytest.approx({k: logged[k] for k in shared}, abs=1e-6)


def _test_rows(loader: str, target_names: bool = True) -> pd.DataFrame:
    """The raw test rows of an sklearn table set, as its data plugin splits it, with the target."""
    bunch = getattr(sklearn.datasets, loader)()
    _, _, (x, y) = split_arrays(bunch.data.astype(np.float32), bunch.target, 0.15, 0.15, 0)
    frame = pd.DataFrame(x, columns=bunch.feature_names)
    frame["target"] = [bunch.target_names[i] for i in y] if target_names else y
    return frame


def test_a_multiclass_run_reports_and_nnx_evaluate_reproduces_it(
    make_cfg, mlflow_uri, tmp_path, capsys
) -> None:
    metrics, objects = run(make_cfg("data=iris", "trainer.max_epochs=3"))
    folder, report = _report(objects)
    assert CLASSIFIER_FILES <= {p.name for p in folder.iterdir()}
    assert (folder / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")
    run_id = objects["tracker"].run_id
    client = MlflowClient(mlflow_uri)
    assert CLASSIFIER_FILES <= {Path(a.path).name for a in client.list_artifacts(run_id, "evaluation")}
    logged = client.get_run(run_id).data.metrics
    _assert_same(report, logged)
    table = pd.read_csv(folder / "per_class.csv")
    assert table["class"].tolist() == ["setosa", "versicolor", "virginica"]
    assert table["support"].sum() == len(objects["splits"].test[1])
    counts = pd.read_csv(folder / "confusion_matrix.csv", index_col=0)
    assert list(counts.columns) == ["setosa", "versicolor", "virginica"]
    matrix = counts.to_numpy()
    assert np.trace(matrix) / matrix.sum() == pytest.approx(logged["test/acc"], abs=1e-6)

    rows = _test_rows("load_iris", target_names=False)  # class codes are accepted too
    rows.to_csv(tmp_path / "test_rows.csv", index=False)
    evaluate_main([str(folder.parent), "-i", str(tmp_path / "test_rows.csv"), "-o", str(tmp_path / "again")])
    assert "results  test/acc" in capsys.readouterr().out
    _assert_same(json.loads((tmp_path / "again" / "metrics.json").read_text()), logged)
    assert CLASSIFIER_FILES <= {p.name for p in (tmp_path / "again").iterdir()}


@pytest.fixture(scope="module")
def untracked_iris(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run dir of one quick untracked iris run, without a report (``eval.report=false``)."""
    folder = tmp_path_factory.mktemp("iris")
    with initialize_config_module("nnx_conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"output_dir={folder}", "trainer.progress=false",
                                          "trainer.accelerator=cpu", "tracking=none", "data=iris",
                                          "trainer.max_epochs=1", "eval.report=false"])
    run(cfg)
    assert not (folder / "evaluation").exists()
    return folder


@pytest.mark.parametrize(("rows", "message"), [
    (lambda f: f.drop(columns=["target"]), "has no target column 'target'"),
    (lambda f: f.assign(target="rose"), "hold the class 'rose', which the run never trained on"),
    (lambda f: f.drop(columns=["petal width (cm)"]), "has no column 'petal width (cm)'"),
    (lambda f: f.iloc[:, :2].to_numpy(), "has shape (23, 2); the model needs rows"),  # wrong shape
])
def test_nnx_evaluate_bad_input_is_one_line_exit_2(untracked_iris, tmp_path, capsys, rows, message) -> None:
    bad = rows(_test_rows("load_iris"))
    extra: list[str] = []
    if isinstance(bad, np.ndarray):
        np.save(tmp_path / "bad.npy", bad)
        np.save(tmp_path / "labels.npy", np.zeros(len(bad)))
        extra = ["--labels", str(tmp_path / "labels.npy")]
        target = tmp_path / "bad.npy"
    else:
        target = tmp_path / "bad.csv"
        bad.to_csv(target, index=False)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        evaluate_main([str(untracked_iris), "-i", str(target), *extra])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert message in err and err.startswith("nnx-evaluate: error:") and err.count("\n") == 1


def test_the_tuned_threshold_is_recorded_and_used_everywhere(make_cfg, mlflow_uri, tmp_path, capsys) -> None:
    metrics, objects = run(make_cfg("data=breast_cancer", "trainer.max_epochs=2", "eval.threshold=tuned"))
    threshold, splits, model = objects["task"].scores.threshold, objects["splits"], objects["model"].eval()
    with torch.no_grad():
        p_val = torch.sigmoid(model(splits.val[0]).view(-1)).numpy()
        p_test = torch.sigmoid(model(splits.test[0]).view(-1)).numpy()
    assert threshold == best_f1_threshold(splits.val[1].numpy(), p_val)  # chosen on the val split
    run_id = objects["tracker"].run_id
    client = MlflowClient(mlflow_uri)
    logged = client.get_run(run_id).data
    assert logged.params["eval.threshold"] == "tuned"
    assert logged.metrics["val/threshold"] == pytest.approx(threshold)
    folder, report = _report(objects)
    assert report["threshold"] == threshold
    run_dir = Path(objects["recipe"].run.output_dir)
    assert json.loads((run_dir / "predictor" / "predictor.json").read_text())["threshold"] == threshold
    y_test = splits.test[1].numpy()
    assert logged.metrics["test/acc"] == pytest.approx(((p_test > threshold) == y_test).mean(), abs=1e-6)
    _assert_same(report, logged.metrics)

    rows = _test_rows("load_breast_cancer")
    rows.drop(columns=["target"]).to_csv(tmp_path / "features.csv", index=False)
    predict_main([str(run_dir), "-i", str(tmp_path / "features.csv"), "-o", str(tmp_path / "pred.csv")])
    predicted = pd.read_csv(tmp_path / "pred.csv")
    assert predicted["prediction"].tolist() == ["benign" if p > threshold else "malignant" for p in p_test]

    rows.to_csv(tmp_path / "labelled.csv", index=False)
    evaluate_main([run_id, "--tracking-uri", mlflow_uri, "-i", str(tmp_path / "labelled.csv"), "--log"])
    out = capsys.readouterr().out
    [evaluation] = client.search_runs([client.get_run(run_id).info.experiment_id],
                                      filter_string=f"tags.`{EVALUATED_TAG}` = '{run_id}'")
    assert f"MLflow run {evaluation.info.run_id}" in out
    _assert_same(evaluation.data.metrics, logged.metrics)
    stored = {Path(a.path).name for a in client.list_artifacts(evaluation.info.run_id, "evaluation")}
    assert CLASSIFIER_FILES <= stored


@pytest.mark.parametrize("kind", ["regression", "forecast"])
def test_regression_and_forecast_reports_match_the_logged_metrics(make_cfg, mlflow_uri, tmp_path,
                                                                   kind) -> None:
    if kind == "regression":
        rng = np.random.default_rng(0)
        a, b = rng.normal(size=150), rng.normal(size=150)
        pd.DataFrame({"a": a, "b": b, "y": 2 * a - b + rng.normal(0, 0.1, 150)}).to_csv(
            tmp_path / "r.csv", index=False)
        data = ["data=csv", f"data.path={tmp_path / 'r.csv'}", "data.target=y", "data.task=regression"]
    else:
        data = ["data=timeseries", "data.length=300", "model=mlp"]
    metrics, objects = run(make_cfg(*data, "trainer.max_epochs=2"))
    folder, report = _report(objects)
    figure = "forecast.png" if kind == "forecast" else "predicted_vs_actual.png"
    assert (folder / figure).read_bytes().startswith(b"\x89PNG")
    logged = MlflowClient(mlflow_uri).get_run(objects["tracker"].run_id).data.metrics
    assert {"test/mae", "test/rmse"} <= set(report) & set(logged)
    _assert_same(report, logged)


def test_every_fold_of_a_cross_validation_gets_a_report(make_cfg, mlflow_uri) -> None:
    _, objects = run(make_cfg("data=iris", "trainer.max_epochs=1", "eval.folds=2"))
    parent = objects["tracker"].run_id
    client = MlflowClient(mlflow_uri)
    children = client.search_runs([client.get_run(parent).info.experiment_id],
                                  filter_string=f"tags.`mlflow.parentRunId` = '{parent}'")
    assert len(children) == 2
    for child in children:
        stored = {Path(a.path).name for a in client.list_artifacts(child.info.run_id, "evaluation")}
        assert CLASSIFIER_FILES <= stored
        folder = Path(objects["recipe"].run.output_dir) / f"fold-{child.data.tags['nnx.fold']}"
        _assert_same(json.loads((folder / "evaluation" / "metrics.json").read_text()), child.data.metrics)


def test_every_trial_of_a_sweep_gets_a_report_and_the_best_its_figures(monkeypatch, capsys,
                                                                       tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli(["-m", "data=iris", "trainer.max_epochs=1", "trainer.progress=false",
                      "trainer.accelerator=cpu", f"tracking.uri={uri}", "tracking.experiment=grid",
                      "optimizer.lr=0.01,0.02", "hydra.sweep.dir=sweep"], monkeypatch, capsys, tmp_path)
    assert result.code == 0, result.text
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("grid").experiment_id])
    [parent] = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(trials) == 2
    figures = {n for n in CLASSIFIER_FILES if n.endswith(".png")}
    for trial in trials:
        stored = {Path(a.path).name for a in client.list_artifacts(trial.info.run_id, "evaluation")}
        folder = Path(trial.data.tags[OUTPUT_DIR_TAG]) / "evaluation"
        on_disk = {p.name for p in folder.iterdir()}
        if trial.info.run_id == parent.data.tags["nnx.best_run_id"]:  # drawn when the sweep ended
            assert CLASSIFIER_FILES <= stored and CLASSIFIER_FILES <= on_disk
        else:  # the tables only: a trial's figures would be most of its tracking work
            assert CLASSIFIER_FILES - figures <= stored and not figures & (stored | on_disk)
        assert "figures.json" not in on_disk or trial.info.run_id != parent.data.tags["nnx.best_run_id"]
        _assert_same(json.loads((folder / "metrics.json").read_text()), trial.data.metrics)
