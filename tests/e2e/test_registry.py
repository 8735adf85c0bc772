"""``tracking.register=NAME``: a run's model as a registered version; a sweep registers only
its best trial's, and the alias moves only to a better model (SQLite store; the basic-auth
server: tests/e2e/test_team_server.py)."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

import nnx
from nnx.cli import predict as predict_cli
from nnx.training.pipeline import run
from nnx.training.registration import RESULT_TAG

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Registration compares validation losses: no run here draws an evaluation report.
IRIS = ("data=iris", "trainer.progress=false", "trainer.accelerator=cpu", "model.hidden=[8]",
        "eval.report=false")


def test_a_run_registers_its_model_and_takes_the_alias(make_cfg, mlflow_uri) -> None:
    _, objects = run(make_cfg(*IRIS, "trainer.max_epochs=1", "tracking.register=iris_one"))
    done = objects["registration"]
    assert (done.name, done.version, done.alias, done.moved) == ("iris_one", "1", "champion", True)
    client = MlflowClient(mlflow_uri)
    assert client.get_model_version_by_alias("iris_one", "champion").run_id == objects["tracker"].run_id
    tags = client.get_run(objects["tracker"].run_id).data.tags
    assert tags[RESULT_TAG] == done.line and "-> version 1 (the first)" in done.line


def test_sweeps_register_their_best_trial_gated_by_the_champion(tmp_path, monkeypatch, mlflow_uri,
                                                                 capsys) -> None:
    monkeypatch.chdir(tmp_path)
    store = (f"tracking.uri={mlflow_uri}", "tracking.experiment=registry", "tracking.register=iris")
    client = MlflowClient(mlflow_uri)

    def sweep(*overrides: str) -> tuple[nnx.Sweep, str]:
        capsys.readouterr()
        done = nnx.sweep(*IRIS, *store, *overrides)
        return done, capsys.readouterr().out

    first, out = sweep("trainer.max_epochs=1", "optimizer.lr=0.0001,0.0002")
    assert "registry registered iris version 1" in out and "@champion -> version 1 (the first)" in out
    logged = {r: any(a.path == "model" for a in client.list_artifacts(r)) for r in first.trials["run_id"]}
    assert logged == {r: r == first.best.run_id for r in first.trials["run_id"]}  # the best trial's only
    assert client.get_run(first.parent_run_id).data.tags[RESULT_TAG].startswith("registered iris version 1")

    worse, out = sweep("trainer.max_epochs=1", "optimizer.lr=0.00001,0.00002")
    assert worse.best.metrics["val/loss"] > first.best.metrics["val/loss"]
    assert "registered iris version 2" in out and "@champion stays at version 1" in out
    assert str(client.get_model_version_by_alias("iris", "champion").version) == "1"

    better, out = sweep("trainer.max_epochs=3", "optimizer.lr=0.01,0.03")
    assert better.best.metrics["val/loss"] < first.best.metrics["val/loss"]
    assert "@champion -> version 3 (lower than" in out
    champion = client.get_model_version_by_alias("iris", "champion")
    assert (str(champion.version), champion.run_id) == ("3", better.best.run_id)

    rows = tmp_path / "rows.csv"
    rows.write_text("sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
                    "5.1,3.5,1.4,0.2\n")
    capsys.readouterr()
    predict_cli.main(["models:/iris@champion", "--input", str(rows), "--tracking-uri", mlflow_uri])
    out = capsys.readouterr().out
    expected = better.best.predictor.predict([[5.1, 3.5, 1.4, 0.2]])
    assert out.splitlines()[1].startswith(f"{expected['prediction'][0]},")
    by_alias = nnx.load("models:/iris@champion", tracking_uri=mlflow_uri)
    assert by_alias.predict([[5.1, 3.5, 1.4, 0.2]]).equals(expected)
