"""Runtime faults lose nothing: NaN losses, Ctrl-C and resume, determinism, safe configs."""

from __future__ import annotations

import math
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from nnx.config import to_dataclass
from nnx.errors import ConfigKeyError, TrainingError
from nnx.registry import get_plugin
from nnx.training.pipeline import run
from nnx.training.resume import checkpoint_path
from tests.cli_inprocess import run_cli

# Diverges by epoch 3: squared error on one-hot targets with a too-large step.
DIVERGING = ["loss=mse", "optimizer=sgd", "optimizer.lr=5", "optimizer.momentum=0.9",
             "model.activation=tanh", "data.batch_size=512", "trainer.max_epochs=8"]


def test_nan_loss_fails_the_run_and_keeps_its_metrics(make_cfg, mlflow_uri) -> None:
    cfg = make_cfg(*DIVERGING, writer_process=True)  # stored by the process that outlives the failure
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


class _Payload:
    """Unpickled without restriction, this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def test_resume_refuses_a_checkpoint_with_a_pickle_payload(make_cfg, tmp_path, monkeypatch,
                                                              capsys) -> None:
    """A real run's last.ckpt, rewritten to carry code: `nnx resume=` refuses it, nothing runs."""
    run_dir = tmp_path / "run"
    run(make_cfg("data=iris", "trainer.max_epochs=1", f"output_dir={run_dir}", tracking=False))
    ckpt = checkpoint_path(run_dir)
    assert (run_dir / "nnx_run.yaml").is_file()
    marker = tmp_path / "payload-ran"
    crafted = torch.load(ckpt, weights_only=True)
    crafted["payload"] = _Payload(marker)
    torch.save(crafted, ckpt)
    torch.load(ckpt, weights_only=False)  # the payload is live: unrestricted loading runs it
    assert marker.exists()
    marker.unlink()
    capsys.readouterr()  # the first run's output: not the refusal's

    done = run_cli([f"resume={run_dir}", "trainer.max_epochs=2", "trainer.progress=false"],
                   monkeypatch, capsys, tmp_path)
    assert done.code != 0, done.out
    assert "Traceback" not in done.text
    [line] = done.err.strip().splitlines()
    assert f"Refused to load checkpoint {ckpt}" in line and "posix.system" in line, line
    assert not marker.exists()

    ckpt.write_bytes(ckpt.read_bytes()[:100])  # a damaged file: one line too, exit 2
    damaged = run_cli([f"resume={run_dir}", "trainer.progress=false"], monkeypatch, capsys, tmp_path)
    assert damaged.code == 2 and "Traceback" not in damaged.err
    [line] = damaged.err.strip().splitlines()
    assert f"Cannot read checkpoint {ckpt}" in line, line


def _training(tmp_path: Path, mlflow_uri: str, batch_size: int, *extra: str) -> subprocess.Popen:
    """A real 50-epoch `nnx` training in the background; small batches make each epoch last
    long enough to be interrupted in the middle. Without the evaluation report (nothing here
    reads it; its writer would warm up the figures' libraries): a resumed run keeps that too."""
    args = ["trainer.max_epochs=50", f"data.batch_size={batch_size}", "trainer.accelerator=cpu",
            f"tracking.uri={mlflow_uri}", f"tracking.experiment=interrupts-{batch_size}",
            "eval.report=false", f"hydra.run.dir={tmp_path / 'run'}", *extra]
    return subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "nnx"), *args], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


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
    proc = _training(tmp_path, mlflow_uri, batch_size=4)  # an epoch lasts ~0.5 s
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
    digits = get_plugin("data", "digits")
    train_size = len(digits(to_dataclass({}, digits.config, "data")).train[1])
    assert checkpoint["global_step"] == stopped_at * math.ceil(train_size / 4)  # batches of 4

    outcome = run_cli([f"resume={run_id}", f"tracking.uri={mlflow_uri}",
                       f"trainer.max_epochs={stopped_at + 2}"],
                      monkeypatch, capsys, tmp_path)
    assert outcome.code == 0, outcome.text
    assert client.get_run(run_id).info.status == "FINISHED"
    logged = [m.step for m in client.get_metric_history(run_id, "val/loss")]
    assert logged == list(range(stopped_at + 2))
    assert [m.step for m in client.get_metric_history(run_id, "test/acc")] == [stopped_at + 2]


@pytest.mark.slow
def test_a_second_sigint_stops_mid_epoch_unsaved(tmp_path, mlflow_uri) -> None:
    """The second Ctrl-C stops after the current batch: KILLED, exit 130, no traceback."""
    # One optimizer step per Lightning step: a batch boundary (where the second signal is
    # acted on) every few milliseconds, not once per fused epoch; an epoch lasts seconds.
    proc = _training(tmp_path, mlflow_uri, 1, "trainer.fused_steps=1")  # an epoch: 1,000+ steps
    _wait_for(proc, "epoch 1/50", timeout=120)
    time.sleep(0.3)  # well inside epoch 2, not at the end of epoch 1 (where one signal suffices)
    proc.send_signal(signal.SIGINT)
    first = proc.stderr.readline()  # printed at the next batch boundary
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = first + err

    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "SIGINT received: stopping after this epoch (again: stop at once)" in err
    assert "SIGINT received again: stopping now" in err
    assert "SIGINT twice: stopped during epoch 2, unsaved" in err and "nnx resume=" in err
    run_id = (tmp_path / "run" / "nnx_run.yaml").read_text().split("run_id:")[1].split()[0]
    client = MlflowClient(mlflow_uri)
    assert client.get_run(run_id).info.status == "KILLED"
    assert [m.step for m in client.get_metric_history(run_id, "val/loss")] == [0]
