"""Scale and faults across processes: concurrent runs on one SQLite store, DDP on 2 CPU
processes, a submitit sweep, and a trial killed with SIGKILL in a joblib sweep."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.slow

NNX = str(Path(sys.executable).parent / "nnx")
TINY = ["data=iris", "trainer.max_epochs=2", "trainer.accelerator=cpu", "trainer.progress=false"]
#: For runs whose subject is not the run's content (a store race, a killed worker): one epoch,
#: no evaluation report (its figures cost each process about 2.5 s of CPU).
SHORT = ["data=iris", "trainer.max_epochs=1", "trainer.accelerator=cpu", "trainer.progress=false",
         "eval.report=false"]


def _reported(out: str) -> dict[str, float]:
    """The metrics of the ``results`` line that a run prints."""
    [line] = [line for line in out.splitlines() if line.startswith("results")]
    values = line.split()[1:]
    return {k: float(v) for k, v in zip(values[::2], values[1::2], strict=True)}


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_four_processes_share_a_new_sqlite_store(tmp_path: Path) -> None:
    """All four start at once on a store that does not exist yet: the migrations race."""
    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    procs = [
        subprocess.Popen(
            [NNX, *SHORT, f"seed={seed}", f"tracking.uri={uri}", "tracking.experiment=together",
             f"hydra.run.dir={tmp_path / f'run{seed}'}"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for seed in range(4)
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    for proc, out in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, out
        assert "database is locked" not in out
    runs = _runs(uri, "together")
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 4
    by_seed = {int(r.data.params["seed"]): r.data.metrics for r in runs}
    for seed, out in enumerate(outputs):  # each run stored what its own process reported
        for key, value in _reported(out).items():
            assert by_seed[seed][key] == pytest.approx(value, abs=5e-5), (seed, key)
    assert len({m["test/loss"] for m in by_seed.values()}) == 4  # four runs, none overwritten


def test_ddp_on_two_cpu_processes_logs_one_run(tmp_path: Path, mlflow_uri: str) -> None:
    done = subprocess.run(
        [NNX, "trainer=ddp", "trainer.devices=2", *TINY, f"tracking.uri={mlflow_uri}",
         "tracking.experiment=ddp"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("results ") == 1  # rank 1 trains but does not report
    run_dirs = [p.parent for p in (tmp_path / "outputs").rglob("nnx_run.yaml")]
    assert len(run_dirs) == 1, run_dirs  # one Hydra run dir for both ranks
    assert (run_dirs[0] / "train_ddp_process_1.log").is_file()  # rank 1 ran, in the same dir
    [run] = _runs(mlflow_uri, "ddp")
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.strategy"] == "ddp"
    client = MlflowClient(mlflow_uri)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")] == [0, 1]
    reported = _reported(done.stdout)
    assert {"test/acc", "test/f1", "test/auroc"} <= set(reported)  # gathered from both ranks
    for key, value in reported.items():  # rank 0 logged the metrics it printed
        assert run.data.metrics[key] == pytest.approx(value, abs=5e-5), key


def test_submitit_local_sweep_nests_trials_under_the_parent(tmp_path: Path, mlflow_uri: str, monkeypatch,
                                                            capsys) -> None:
    """`hydra/launcher=submitit_local`: each trial is a submitit job in its own process (the
    sweep that submits them runs in this one)."""
    done = run_cli(["-m", "hydra/launcher=submitit_local", "model.hidden=[8],[16]", *SHORT,
                    f"tracking.uri={mlflow_uri}", "tracking.experiment=submitit",
                    f"hydra.sweep.dir={tmp_path / 'sweep'}"], monkeypatch, capsys, tmp_path)
    assert done.code == 0, done.text
    assert list((tmp_path / "sweep" / ".submitit").iterdir())  # submitit ran the jobs
    runs = _runs(mlflow_uri, "submitit")
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.tags["nnx.sweep.launcher"] == "LocalLauncher"
    assert sorted(c.data.params["model.hidden"] for c in children) == ["[16]", "[8]"]
    assert {c.info.status for c in children} == {"FINISHED"}


def _worker_running(sweep: subprocess.Popen, job_dir: Path, timeout: float) -> psutil.Process:
    """The joblib worker process that runs the job whose Hydra dir is ``job_dir``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sweep.poll() is None:
        for child in psutil.Process(sweep.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(f.path.startswith(f"{job_dir}/") for f in child.open_files()):
                    return child
        time.sleep(0.5)
    raise AssertionError(f"no worker opened {job_dir}")


def test_kill_9_of_a_trial_fails_it_and_the_sweep_goes_on(tmp_path: Path, new_store) -> None:
    """Trials 0 and 1 run in the pool's two workers; 2 waits. Killing 0's worker breaks the
    pool: 0 (and 1, stopped by joblib with it) end FAILED, 2 runs in a fresh pool (in one
    batch per epoch: all of digits' training split). 0 and 1 train in batches of 1 and 2,
    thousands of steps an epoch: on a busy machine too, both still train when 0 is killed."""
    uri = new_store(tmp_path / "mlflow.db")
    sweep_dir = tmp_path / "sweep"
    sweep = subprocess.Popen(
        [NNX, "-m", "hydra/launcher=joblib_resilient", "hydra.launcher.n_jobs=2",
         "data.batch_size=1,2,2048", "trainer.max_epochs=30", *SHORT[2:], f"tracking.uri={uri}",
         "tracking.experiment=killed", f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    victim = _worker_running(sweep, sweep_dir / "0", timeout=120)
    deadline = time.monotonic() + 120
    records = [sweep_dir / job / "nnx_run.yaml" for job in ("0", "1")]
    while not all(record.exists() for record in records) and time.monotonic() < deadline:
        time.sleep(0.2)  # a trial's MLflow run is open (RUNNING) once its record exists
    # both trials opened their runs: a kill before trial 1 started would leave it to the fresh pool
    victim.kill()  # SIGKILL: no handler, no cleanup
    out = sweep.communicate(timeout=300)[0]
    assert sweep.returncode == 1, out  # trials failed; the sweep finished the others
    assert "Traceback" not in out
    assert "3 trials, 1 finished" in out, out
    assert "WorkerDied" in out, out
    runs = _runs(uri, "killed")
    status = {
        "parent" if r.data.tags.get("nnx.sweep") == "parent" else r.data.params["data.batch_size"]:
        r.info.status for r in runs
    }
    assert status == {"1": "FAILED", "2": "FAILED", "2048": "FINISHED", "parent": "FINISHED"}
    with contextlib.closing(sqlite3.connect(tmp_path / "mlflow.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
