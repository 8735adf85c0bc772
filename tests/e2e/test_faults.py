"""Runtime faults lose nothing: NaN losses, Ctrl-C and resume, determinism, safe configs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

import nnx
from nnx.errors import ConfigKeyError, TrainingError
from nnx.training.pipeline import run
from nnx.training.resume import checkpoint_path
from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.e2e

# Diverges by epoch 3: squared error on one-hot targets with a too-large step.
DIVERGING = ["loss=mse", "optimizer=sgd", "optimizer.lr=5", "optimizer.momentum=0.9",
             "model.activation=tanh", "data.batch_size=512", "trainer.max_epochs=8"]


def test_nan_loss_fails_the_run_and_keeps_its_metrics(make_cfg, mlflow_uri) -> None:
    cfg = make_cfg(*DIVERGING)
    message = r"became (nan|inf) at epoch 3, step \d+\. Lower the learning rate"
    with pytest.raises(TrainingError, match=message) as err:
        run(cfg)
    client = MlflowClient(mlflow_uri)
    [found] = client.search_runs(
        [client.get_experiment_by_name(cfg.tracking.experiment).experiment_id]
    )
    assert found.info.status == "FAILED"
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert [m.step for m in history] == [0, 1, 2], err.value


def test_same_seed_gives_identical_metrics(make_cfg) -> None:
    overrides = ["trainer.max_epochs=2", "model.dropout=0.2", "data.batch_size=128"]
    first, objects = run(make_cfg(*overrides, tracking=False))
    second, again = run(make_cfg(*overrides, tracking=False))
    assert first == second
    assert objects["history"] == again["history"]
    different, _ = run(make_cfg(*overrides, "seed=7", tracking=False))
    assert different["test/loss"] != first["test/loss"]


def test_config_cannot_name_code_to_import(make_cfg) -> None:
    """`_target_` (Hydra's import-anything key) is not a field of any schema: rejected."""
    cfg = make_cfg("+model._target_=os.system", tracking=False)
    with pytest.raises(ConfigKeyError, match=r"model\._target_"):
        run(cfg)


def test_no_eval_and_checkpoints_load_weights_only() -> None:
    """Safety by construction: no eval/exec of config strings, no unrestricted unpickling."""
    root = Path(nnx.__file__).parent
    sources = {p: p.read_text() for p in [*root.rglob("*.py"), *root.parent.glob("plugins/**/*.py")]}
    for path, text in sources.items():
        assert not re.search(r"(?<![.\w])(eval|exec)\(", text), path
        assert not re.search(r"pickle\.loads?\(|torch\.load\(", text), path
    assert "weights_only=True" in sources[root / "training" / "phases.py"]


def _wait_for(proc: subprocess.Popen, needle: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline and proc.poll() is None:
        seen += proc.stdout.readline()
    assert needle in seen, seen
    return seen


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stop_signal_ends_the_epoch_cleanly_and_resume_continues(
    signum, exit_code, tmp_path, mlflow_uri, monkeypatch, capsys
) -> None:
    # Batches of 4 make each epoch last long enough (~0.5 s) to be interrupted mid-run.
    args = ["trainer.max_epochs=50", "data.batch_size=4", "trainer.accelerator=cpu",
            f"tracking.uri={mlflow_uri}", "tracking.experiment=interrupts",
            f"hydra.run.dir={tmp_path / 'run'}"]
    proc = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "nnx"), *args], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for(proc, "epoch 2/50", timeout=120)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == exit_code, err
    assert "Traceback" not in err and "nnx resume=" in err
    run_dir = tmp_path / "run"
    client = MlflowClient(mlflow_uri)
    run_id = (run_dir / "nnx_run.yaml").read_text().split("run_id:")[1].split()[0]
    assert client.get_run(run_id).info.status == "KILLED"
    logged = [m.step for m in client.get_metric_history(run_id, "val/loss")]
    stopped_at = len(logged)  # whole epochs: the one running when the signal came ends first
    assert logged == list(range(stopped_at)) and 2 <= stopped_at < 50
    checkpoint = torch.load(checkpoint_path(run_dir), weights_only=True)
    assert checkpoint["global_step"] == stopped_at * 315  # 1257 samples in batches of 4

    outcome = run_cli([f"resume={run_id}", f"tracking.uri={mlflow_uri}",
                       f"trainer.max_epochs={stopped_at + 2}"],
                      monkeypatch, capsys, tmp_path)
    assert outcome.code == 0, outcome.text
    assert client.get_run(run_id).info.status == "FINISHED"
    logged = [m.step for m in client.get_metric_history(run_id, "val/loss")]
    assert logged == list(range(stopped_at + 2))
    assert [m.step for m in client.get_metric_history(run_id, "test/acc")] == [stopped_at + 2]
