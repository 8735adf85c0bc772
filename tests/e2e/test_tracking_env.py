"""``MLFLOW_TRACKING_URI`` is the default store of `nnx`, `nnx-predict`, `nnx-compare` and
`nnx-ui`; an explicit ``tracking.uri`` / ``--tracking-uri`` / ``--uri`` still wins."""

from __future__ import annotations

import re

import pytest
from mlflow import MlflowClient

from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.slow

#: The shortest tracked run: what is checked is where it lands, not what it reports.
FAST = ("data=iris", "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu",
        "eval.report=false")


def test_every_command_reads_the_variable_and_an_explicit_uri_wins(
        run_nnx, new_store, tmp_path, monkeypatch, capfd) -> None:
    team = tmp_path / "team" / "mlflow.db"
    env = {"MLFLOW_TRACKING_URI": new_store(team)}
    # `nnx` reads the variable when it composes its config (no import-time default): shown in
    # this process, which has imported Lightning already; the other commands, which read it
    # when they are imported, run as processes
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    trained = run_cli([*FAST, "tracking.experiment=envteam"], monkeypatch, capfd, tmp_path)
    assert trained.code == 0, trained.err
    run_id = re.search(r"MLflow run (\w+)", trained.out).group(1)
    assert "--backend-store-uri sqlite:///team/mlflow.db" in trained.out  # the printed links follow
    team_store = MlflowClient(f"sqlite:///{team}")
    assert team_store.get_run(run_id).info.status == "FINISHED"
    assert not (tmp_path / "outputs" / "mlflow.db").exists()

    rows = tmp_path / "rows.csv"
    rows.write_text("sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)\n"
                    "5.1,3.5,1.4,0.2\n")
    predicted = run_nnx(run_id, "--input", str(rows), script="nnx-predict", env=env)
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.startswith("prediction,probability")

    compared = run_nnx("--experiment", "envteam", script="nnx-compare", env=env)
    assert compared.returncode == 0, compared.stderr
    assert run_id[:8] in compared.stdout or "iris" in compared.stdout

    ui = run_nnx("--experiment", "nope", script="nnx-ui", env=env)  # fails before serving
    assert ui.returncode == 2 and "Known: " in ui.stderr and "envteam" in ui.stderr, ui.stderr

    own = new_store(tmp_path / "own.db")
    explicit = run_cli([*FAST, f"tracking.uri={own}", "tracking.experiment=envteam"],
                       monkeypatch, capfd, tmp_path)
    assert explicit.code == 0, explicit.err
    explicit_id = re.search(r"MLflow run (\w+)", explicit.out).group(1)
    assert MlflowClient(own).get_run(explicit_id).info.status == "FINISHED"
    runs = team_store.search_runs([team_store.get_experiment_by_name("envteam").experiment_id])
    assert [r.info.run_id for r in runs] == [run_id]  # the explicit URI's run went elsewhere
