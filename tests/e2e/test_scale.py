"""Scale and faults across processes: concurrent runs on one SQLite store, DDP on 2 CPU
processes, a submitit sweep, and a trial killed with SIGKILL in a joblib sweep."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from tests.cli_inprocess import run_cli
from tests.processes import stop_joblib_workers

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


#: The processes of the store race, by name: three short runs and a DDP run (two ranks).
RACERS = {
    **{f"seed{seed}": [*SHORT, f"seed={seed}", "tracking.experiment=together"] for seed in range(3)},
    "ddp": ["trainer=ddp", "trainer.devices=2", *TINY, "tracking.experiment=ddp"],
}


@dataclass
class Finished:
    returncode: int
    out: str
    err: str


@pytest.fixture(scope="module")
def race(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Finished]]:
    """The `RACERS`, started at once on a store that does not exist yet (the migrations race),
    each in a working directory of its own: (that folder's parent, the store, how each ended).
    The DDP run is `test_ddp_on_two_cpu_processes_logs_one_run`'s: it races like the others
    instead of paying its start-up alone."""
    folder = tmp_path_factory.mktemp("race")
    uri = f"sqlite:///{folder / 'shared' / 'mlflow.db'}"
    procs = {}
    for name, args in RACERS.items():
        (folder / name).mkdir()
        procs[name] = subprocess.Popen([NNX, *args, f"tracking.uri={uri}"], cwd=folder / name,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ended = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        ended[name] = Finished(proc.returncode, out, err)
    return folder, uri, ended


def test_four_processes_share_a_new_sqlite_store(race) -> None:
    """All four start at once on a store that does not exist yet: the migrations race."""
    _, uri, ended = race
    for name, done in ended.items():
        assert done.returncode == 0, (name, done.err)
        assert "database is locked" not in done.out + done.err, name
    runs = {int(r.data.params["seed"]): r for r in _runs(uri, "together")}
    [ddp] = _runs(uri, "ddp")
    stored = {**{f"seed{seed}": run for seed, run in runs.items()}, "ddp": ddp}
    assert sorted(stored) == sorted(RACERS)
    assert {r.info.status for r in stored.values()} == {"FINISHED"}
    for name, done in ended.items():  # each run stored what its own process reported
        for key, value in _reported(done.out).items():
            assert stored[name].data.metrics[key] == pytest.approx(value, abs=5e-5), (name, key)
    assert len({r.data.metrics["test/loss"] for r in stored.values()}) == 4  # four runs, none overwritten


def test_ddp_on_two_cpu_processes_logs_one_run(race) -> None:
    folder, uri, ended = race
    done = ended["ddp"]
    assert done.returncode == 0, done.err
    assert done.out.count("results ") == 1  # rank 1 trains but does not report
    run_dirs = [p.parent for p in (folder / "ddp" / "outputs").rglob("nnx_run.yaml")]
    assert len(run_dirs) == 1, run_dirs  # one Hydra run dir for both ranks
    assert (run_dirs[0] / "train_ddp_process_1.log").is_file()  # rank 1 ran, in the same dir
    [run] = _runs(uri, "ddp")
    assert run.info.status == "FINISHED"
    assert run.data.params["trainer.strategy"] == "ddp"
    client = MlflowClient(uri)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")] == [0, 1]
    reported = _reported(done.out)
    assert {"test/acc", "test/f1", "test/auroc"} <= set(reported)  # gathered from both ranks
    for key, value in reported.items():  # rank 0 logged the metrics it printed
        assert run.data.metrics[key] == pytest.approx(value, abs=5e-5), key


def test_submitit_local_sweep_nests_trials_under_the_parent(tmp_path: Path, mlflow_uri: str, monkeypatch,
                                                            capsys) -> None:
    """`hydra/launcher=submitit_local`: each trial is a submitit job in its own process (the
    sweep that submits them runs in this one). One trial: it shows a job's run finding its
    parent, in a process of its own (each more would import Lightning again); several trials
    in worker processes under one parent: test_sweeps.py's joblib sweep."""
    done = run_cli(["-m", "hydra/launcher=submitit_local", "model.hidden=[8]", *SHORT,
                    f"tracking.uri={mlflow_uri}", "tracking.experiment=submitit",
                    f"hydra.sweep.dir={tmp_path / 'sweep'}"], monkeypatch, capsys, tmp_path)
    assert done.code == 0, done.text
    assert list((tmp_path / "sweep" / ".submitit").iterdir())  # submitit ran the jobs
    runs = _runs(mlflow_uri, "submitit")
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.tags["nnx.sweep.launcher"] == "LocalLauncher"
    assert [c.data.params["model.hidden"] for c in children] == ["[8]"]
    assert {c.info.status for c in children} == {"FINISHED"}


def _worker_running(job_dir: Path, timeout: float, done: threading.Event) -> psutil.Process:
    """The joblib worker process (a child of this one) that runs the job whose Hydra dir is
    ``job_dir``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done.is_set():
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(f.path.startswith(f"{job_dir}/") for f in child.open_files()):
                    return child
        time.sleep(0.5)
    raise AssertionError(f"no worker opened {job_dir}")


def _kill_9_once_two_trials_run(sweep_dir: Path, done: threading.Event, failed: list) -> None:
    """SIGKILL to trial 0's worker once trials 0 and 1 both opened their MLflow runs (a kill
    before trial 1 started would leave it to the fresh pool); what went wrong, in ``failed``."""
    try:
        victim = _worker_running(sweep_dir / "0", timeout=120, done=done)
        deadline = time.monotonic() + 120
        records = [sweep_dir / job / "nnx_run.yaml" for job in ("0", "1")]
        while not all(record.exists() for record in records) and time.monotonic() < deadline:
            time.sleep(0.2)  # a trial's MLflow run is open (RUNNING) once its record exists
        victim.kill()  # SIGKILL: no handler, no cleanup
    except Exception as error:  # noqa: BLE001  reported by the test
        failed.append(error)


def test_kill_9_of_a_trial_fails_it_and_the_sweep_goes_on(tmp_path: Path, new_store, monkeypatch,
                                                           capfd) -> None:
    """Trials 0 and 1 run in the pool's two workers; 2 waits. Killing 0's worker breaks the
    pool: 0 (and 1, stopped by joblib with it) end FAILED, 2 runs in a fresh pool (in one
    batch per epoch: all of digits' training split). 0 and 1 train in batches of 1 and 2,
    thousands of steps an epoch: on a busy machine too, both still train when 0 is killed.
    The sweep that launches the workers runs in this process (its output and exit code as
    `nnx` gives them, its workers' output captured with it); the kill comes from a thread."""
    uri = new_store(tmp_path / "mlflow.db")
    sweep_dir = tmp_path / "sweep"
    done, failed = threading.Event(), []
    killer = threading.Thread(target=_kill_9_once_two_trials_run, args=(sweep_dir, done, failed))
    killer.start()
    try:
        sweep = run_cli(["-m", "hydra/launcher=joblib_resilient", "hydra.launcher.n_jobs=2",
                         "data.batch_size=1,2,2048", "trainer.max_epochs=30", *SHORT[2:],
                         f"tracking.uri={uri}", "tracking.experiment=killed", f"hydra.sweep.dir={sweep_dir}"],
                        monkeypatch, capfd, tmp_path)
    finally:
        done.set()
        killer.join()
        stop_joblib_workers()
    assert not failed, failed
    out = sweep.text
    assert sweep.code == 1, out  # trials failed; the sweep finished the others
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
