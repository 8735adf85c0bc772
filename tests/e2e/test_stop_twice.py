"""A second Ctrl-C stops at once, at a batch boundary: the run ends KILLED, exit 130, no traceback.

(The first signal's behaviour, ending the epoch and saving last.ckpt, is in test_faults.py.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from mlflow import MlflowClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_second_sigint_stops_mid_epoch(tmp_path, mlflow_uri) -> None:
    # Batches of 2: an epoch takes seconds, so the second signal lands inside it.
    args = ["trainer.max_epochs=50", "data.batch_size=2", "trainer.accelerator=cpu",
            f"tracking.uri={mlflow_uri}", "tracking.experiment=stop-twice",
            f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "nnx"), *args], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen = ""
    while "epoch 1/50" not in seen and proc.poll() is None:
        seen += proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)  # two signals at once would reach Python's handler as one
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "SIGINT received: stopping after this epoch (again: stop at once)" in err
    assert "SIGINT received again: stopping now" in err
    assert "SIGINT twice: stopped during epoch 2, unsaved" in err and "nnx resume=" in err
    run_id = (tmp_path / "run" / "nnx_run.yaml").read_text().split("run_id:")[1].split()[0]
    client = MlflowClient(mlflow_uri)
    assert client.get_run(run_id).info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(run_id, "val/loss")] == [0]
