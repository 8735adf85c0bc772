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
    # its tracking written in the process itself: no writer process importing MLflow again
    trained = run_nnx(*FAST, "tracking.experiment=envteam", env={**env, "NNX_TRACKING_WRITER": "inline"})
    assert trained.returncode == 0, trained.stderr
    run_id = re.search(r"MLflow run (\w+)", trained.stdout).group(1)
    assert "--backend-store-uri sqlite:///team/mlflow.db" in trained.stdout  # the printed links follow
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

    own = new_store(tmp_path / "own.db")  # the variable's reach is shown above: this run is in-process
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    explicit = run_cli([*FAST, f"tracking.uri={own}", "tracking.experiment=envteam"],
                       monkeypatch, capfd, tmp_path)
    assert explicit.code == 0, explicit.err
    explicit_id = re.search(r"MLflow run (\w+)", explicit.out).group(1)
    assert MlflowClient(own).get_run(explicit_id).info.status == "FINISHED"
    runs = team_store.search_runs([team_store.get_experiment_by_name("envteam").experiment_id])
    assert [r.info.run_id for r in runs] == [run_id]  # the explicit URI's run went elsewhere
