"""The `nnx` command end to end, writing to a real SQLite MLflow store.

The tests call the installed command's entry point in process (`tests.cli_inprocess`), which
saves a Python start and a Lightning import; tests/e2e/test_tracking_env.py runs a tracked `nnx`
as a process, tests/e2e/test_tracking_writer.py its writer process. Each test's store is a copy
of the session's migrated one (`new_store`): MLflow's migrations run once.
"""

from __future__ import annotations

from mlflow import MlflowClient

from tests.cli_inprocess import run_cli


def _store(new_store, tmp_path) -> tuple[str, MlflowClient]:
    uri = new_store(tmp_path / "mlflow.db")
    return uri, MlflowClient(tracking_uri=uri)


def test_run_records_params_metrics_and_artifacts(monkeypatch, capsys, tmp_path, new_store) -> None:
    uri, client = _store(new_store, tmp_path)
    args = ["trainer.max_epochs=3", f"tracking.uri={uri}", "tracking.experiment=cli",
            "callbacks=[lr_monitor]", "trainer.progress=false", "eval.report=false"]
    out = run_cli(args, monkeypatch, capsys, tmp_path)
    assert out.code == 0, out.text
    assert (
        "results  test/acc" in out.out
        and "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out.out
    )  # relative to cwd
    experiment = client.get_experiment_by_name("cli")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FINISHED" and run.info.run_id in out.out
    params = run.data.params
    assert params["model.hidden"] == "[100, 100]" and params["optimizer.lr"] == "0.001"
    assert params["callbacks.lr_monitor.log_momentum"] == "False"  # nested keys are flattened, not dropped
    assert run.data.tags["nnx.model"] == "mlp" and run.data.tags["nnx.data"] == "digits"
    history = client.get_metric_history(run.info.run_id, "val/loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert run.data.metrics["test/acc"] > 0.8
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "model_summary.txt"} <= artifacts


def test_diverging_run_is_failed(monkeypatch, capsys, tmp_path, new_store) -> None:
    uri, client = _store(new_store, tmp_path)
    args = ["optimizer=sgd", "optimizer.lr=1e30", "trainer.max_epochs=3", f"tracking.uri={uri}"]
    outcome = run_cli([*args, "tracking.experiment=nan"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 1
    assert "The training loss became" in outcome.err and "Traceback" not in outcome.text
    (run,) = client.search_runs([client.get_experiment_by_name("nan").experiment_id])
    assert run.info.status == "FAILED"


def test_two_job_multirun_logs_two_runs(monkeypatch, capsys, tmp_path, new_store) -> None:
    uri, client = _store(new_store, tmp_path)
    args = ["-m", "model.hidden=[8],[16]", "trainer.max_epochs=1", "eval.report=false", f"tracking.uri={uri}"]
    outcome = run_cli([*args, "tracking.experiment=grid"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 0, outcome.text
    runs = client.search_runs([client.get_experiment_by_name("grid").experiment_id])
    runs = [r for r in runs if "mlflow.parentRunId" in r.data.tags]  # the trials, not the sweep
    assert sorted(r.data.params["model.hidden"] for r in runs) == ["[16]", "[8]"]
    assert all(r.info.status == "FINISHED" for r in runs)
