"""Scale by config: concurrent runs on one SQLite store, DDP on 2 CPU processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NNX = str(Path(sys.executable).parent / "nnx")
TINY = ["data=iris", "trainer.max_epochs=2", "trainer.accelerator=cpu", "trainer.progress=false"]


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


def test_four_processes_share_a_new_sqlite_store(tmp_path: Path) -> None:
    """All four start at once on a store that does not exist yet: the migrations race."""
    uri = f"sqlite:///{tmp_path / 'shared' / 'mlflow.db'}"
    procs = [
        subprocess.Popen(
            [NNX, *TINY, f"seed={seed}", f"tracking.uri={uri}", "tracking.experiment=together",
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
    assert all(r.data.metrics["test/acc"] > 0 for r in runs)


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
    assert 0 <= run.data.metrics["test/acc"] <= 1


def test_submitit_local_sweep_nests_trials_under_the_parent(tmp_path: Path, mlflow_uri: str) -> None:
    """`hydra/launcher=submitit_local`: each trial is a submitit job in its own process."""
    done = subprocess.run(
        [NNX, "-m", "hydra/launcher=submitit_local", "model.hidden=[8],[16]", *TINY,
         f"tracking.uri={mlflow_uri}", "tracking.experiment=submitit",
         f"hydra.sweep.dir={tmp_path / 'sweep'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=400,
    )
    assert done.returncode == 0, done.stderr
    assert list((tmp_path / "sweep" / ".submitit").iterdir())  # submitit ran the jobs
    runs = _runs(mlflow_uri, "submitit")
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.data.tags["nnx.sweep.launcher"] == "LocalLauncher"
    assert sorted(c.data.params["model.hidden"] for c in children) == ["[16]", "[8]"]
    assert {c.info.status for c in children} == {"FINISHED"}
