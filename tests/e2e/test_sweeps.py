"""Real multiruns through the `nnx` CLI: parent and child runs, launchers, failures.

A sweep about the command's own process (DDP ranks, Ctrl-C) runs as a real `nnx` process;
the others run the same command in this process (`tests.cli_inprocess`), a joblib sweep's
workers still real processes. The parent run of
an Optuna search: tests/e2e/test_search.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.cli_inprocess import run_cli
from tests.processes import interrupt_after, start_nnx, stop_joblib_workers

pytestmark = pytest.mark.slow

FAST = ["data=iris", "trainer.max_epochs=2", "trainer.progress=false", "trainer.accelerator=cpu"]
#: The evaluation report costs each process about 2.5 s of CPU (and a sweep's parent draws its
#: best trial's): off where the sweep, not a run's content, is the subject (each trial's
#: report: test_evaluation.py, test_scale.py).
NO_REPORT = "eval.report=false"


def _store(tmp_path: Path, experiment: str) -> list[str]:
    return [f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", f"tracking.experiment={experiment}"]


def _runs(tmp_path: Path, experiment: str) -> tuple[MlflowClient, list, list]:
    """(client, parent runs, child runs) of one experiment, oldest first."""
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    runs = client.search_runs([found.experiment_id], order_by=["attributes.start_time ASC"])
    parents = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    return client, parents, children


def _children_of(parent, children) -> list:
    return [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]


def test_basic_sweep_is_a_parent_with_children_and_resumes(
        monkeypatch, capsys, tmp_path: Path, new_store) -> None:
    new_store(tmp_path / "mlflow.db")
    args = ["-m", *FAST, NO_REPORT, *_store(tmp_path, "grid"), "model.hidden=[8],[16]",
            "optimizer.lr=0.01,0.03"]
    first = run_cli(args, monkeypatch, capsys, tmp_path)
    assert first.code == 0, first.text
    client, parents, children = _runs(tmp_path, "grid")
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert {c.info.status for c in children} == {"FINISHED"}
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["nnx.sweep.launcher"] == "BasicLauncher"
    assert "model.hidden=[8],[16]" in parent.data.tags["nnx.sweep.overrides"]
    # every epoch of every trial arrived
    for child in children:
        history = client.get_metric_history(child.info.run_id, "val/loss")
        assert [m.step for m in history] == [0, 1]
    best = min(children, key=lambda c: c.data.metrics["val/loss"])
    assert parent.data.metrics["val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    assert parent.data.tags["nnx.best_run_id"] == best.info.run_id
    assert parent.data.params == best.data.params
    assert len({c.data.tags["nnx.config_hash"] for c in children}) == 4
    assert f"best val/loss {best.data.metrics['val/loss']:.4g}" in first.out

    again = run_cli([*args, "sweep.skip_finished=true"], monkeypatch, capsys, tmp_path)
    assert again.code == 0, again.text
    assert again.out.count("already FINISHED as run") == 4
    assert "4 skipped" in again.out
    client, parents, children = _runs(tmp_path, "grid")
    assert len(parents) == 2 and len(children) == 4  # no trial trained twice
    assert parents[1].data.metrics["val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    assert parents[1].data.tags["nnx.sweep.skipped"] == "4"


def test_joblib_sweep_survives_a_poisoned_trial(monkeypatch, capfd, tmp_path: Path, new_store) -> None:
    """Trials in 2 worker processes writing to one SQLite store; one trial diverges. The sweep
    that launches them runs in this process (its workers' output is captured with its own)."""
    new_store(tmp_path / "mlflow.db")
    try:
        result = run_cli(["-m", *FAST, *_store(tmp_path, "joblib"), "hydra/launcher=joblib",
                          "hydra.launcher.n_jobs=2", "optimizer.lr=0.01,0.03,1e30", NO_REPORT],
                         monkeypatch, capfd, tmp_path)
    finally:
        stop_joblib_workers()
    assert result.code == 1, result.text  # a trial failed; the others finished
    assert "database is locked" not in result.text
    client, parents, runs = _runs(tmp_path, "joblib")
    assert len(parents) == 1
    trials = _children_of(parents[0], runs)
    assert len(trials) == 3 and parents[0].data.tags["nnx.sweep.launcher"] == "JoblibLauncher"
    failed = [t for t in trials if t.info.status == "FAILED"]
    assert len(failed) == 1 and failed[0].data.params["optimizer.lr"] == "1e+30"
    assert "TrainingError" in failed[0].data.tags["nnx.error"]
    error_text = client.download_artifacts(failed[0].info.run_id, "error.txt", str(tmp_path))
    assert "loss became nan" in Path(error_text).read_text()
    finished = [t for t in trials if t.info.status == "FINISHED"]
    assert len(finished) == 2
    for trial in finished:  # every epoch of every trial arrived
        assert len(client.get_metric_history(trial.info.run_id, "val/loss")) == 2
    best = min(finished, key=lambda t: t.data.metrics["val/loss"])
    assert parents[0].data.metrics["val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    assert "1 failed" in result.out and "failed trial #2 optimizer.lr=1e+30" in result.out
    assert parents[0].data.tags["nnx.sweep.failed"] == "1"


def test_a_bad_grid_value_fails_before_any_trial(monkeypatch, capsys, tmp_path: Path) -> None:
    result = run_cli(["-m", *FAST, *_store(tmp_path, "bad"), "optimizer.lr=0.01,-1", "hydra.sweep.dir=sweep"],
                     monkeypatch, capsys, tmp_path)
    assert result.code == 2, result.out
    assert result.err.strip() == ("nnx: error: trial #1 (optimizer.lr=-1): Bad value for 'optimizer.lr': "
                                  "-1.0; expected a number > 0.")
    assert "training for" not in result.out  # nothing trained, no run opened
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "sweep" / "0").exists()


def test_failed_trials_are_allowed_with_sweep_allow_failures(monkeypatch, capsys, tmp_path: Path) -> None:
    result = run_cli(["-m", "data=iris", "trainer.max_epochs=1", "trainer.progress=false",
                      "trainer.accelerator=cpu", "tracking=none", "optimizer.lr=1e30,0.01",
                      "sweep.allow_failures=true"], monkeypatch, capsys, tmp_path)
    assert result.code == 0, result.text
    assert "sweep: 2 trials, 1 finished" in result.out and "1 failed" in result.out
    assert "failed trial #0 optimizer.lr=1e+30: TrainingError" in result.out  # the second ran after it


def test_a_ddp_sweep_is_one_parent_with_its_trials(run_nnx, tmp_path: Path, new_store) -> None:
    """Lightning's DDP re-runs the command for rank 1: each trial's rank 1 runs that trial alone."""
    new_store(tmp_path / "mlflow.db")
    result = run_nnx("-m", "trainer=ddp", "trainer.devices=2", *FAST, *_store(tmp_path, "ddp"),
                     "optimizer.lr=0.001,0.002", "hydra.sweep.dir=sweep", "trainer.max_epochs=1", NO_REPORT)
    assert result.returncode == 0, result.stderr
    _, parents, children = _runs(tmp_path, "ddp")
    assert len(parents) == 1 and len(_children_of(parents[0], children)) == 2
    assert {c.info.status for c in children} == {"FINISHED"}
    assert sorted(c.data.params["optimizer.lr"] for c in children) == ["0.001", "0.002"]
    for job in ("0", "1"):  # rank 1 ran in its trial's folder
        assert (tmp_path / "sweep" / job / "train_ddp_process_1.log").is_file()
    assert not (tmp_path / "outputs").exists()


def test_ctrl_c_stops_the_whole_sweep_and_kills_its_parent(tmp_path: Path, new_store) -> None:
    """Hydra's launcher would record an interrupted job and start the next one; nnx stops."""
    new_store(tmp_path / "mlflow.db")
    sweep = start_nnx(["-m", "data=iris", "trainer.max_epochs=100000", "trainer.accelerator=cpu", NO_REPORT,
                       *_store(tmp_path, "stopped"), "optimizer.lr=0.01,0.02"], tmp_path)
    out = interrupt_after(sweep, "epoch 2/")  # the first trial is training
    assert sweep.returncode == 130, out
    _, parents, children = _runs(tmp_path, "stopped")
    assert parents[0].info.status == "KILLED"
    assert [c.info.status for c in children] == ["KILLED"]  # the second trial never started
