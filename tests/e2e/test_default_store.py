"""No nnx command writes MLflow's own default store (./mlflow.db, ./mlruns) where it runs.

MLflow falls back to a store in the working directory for any call made without a tracking
URI (`mlflow.flush_async_logging()` once made the repository's stray mlflow.db). nnx names
its URI in every call; here the commands run as a user runs them, without the test session's
guard variable, so such a call would leave the default store behind.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import DEFAULT_STORES

BIN = Path(sys.executable).parent


def _run(*args: str, cwd: Path, script: str = "nnx") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # MLflow's default
    return subprocess.run([str(BIN / script), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_runs_sweeps_and_compare_leave_no_default_store(tmp_path: Path) -> None:
    # The default tracking.uri (sqlite:///outputs/mlflow.db), every MLflow feature nnx uses:
    # a sweep's parent and its trial, the logged model, system metrics, then the leaderboard.
    # As processes: what they leave includes what runs when they exit (MLflow's atexit hooks).
    sweep = _run("-m", "data=iris", "trainer.max_epochs=1", "optimizer.lr=0.01",
                 "trainer.progress=false", "tracking.log_model=true",
                 "tracking.system_metrics=true", cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr
    compare = _run(script="nnx-compare", cwd=tmp_path)
    assert compare.returncode == 0, compare.stderr

    assert (tmp_path / "outputs" / "mlflow.db").is_file()  # the runs were tracked, there
    left = [name for name in DEFAULT_STORES if (tmp_path / name).exists()]
    assert not left, f"MLflow's default store written in the working directory: {left}"
