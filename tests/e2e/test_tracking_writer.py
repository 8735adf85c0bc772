"""The tracking writer process (`nnx.tracking.writer`): nothing a run records is lost, and a
sweep's trials share one writer and one store opening."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nnx.errors import TrackingError
from nnx.tracking import writer as writes
from nnx.tracking.mlflow_run import _terminate
from tests.cli_inprocess import run_cli

FAST = ["data=iris", "trainer.max_epochs=3", "trainer.progress=false", "trainer.accelerator=cpu"]
ARTIFACTS = {"config.yaml", "overrides.yaml", "model_summary.txt", "learning_curves.png", "evaluation"}


def _only_run(uri: str, experiment: str) -> object:
    client = MlflowClient(uri)
    [found] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return found


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_a_run_records_everything_before_the_command_returns(
    mode, monkeypatch, capsys, tmp_path: Path
) -> None:
    if mode == "inline":
        monkeypatch.setenv("NNX_TRACKING_WRITER", "inline")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = run_cli([*FAST, f"tracking.uri={uri}", "tracking.experiment=all", "hydra.run.dir=run"],
                     monkeypatch, capsys, tmp_path)
    assert result.code == 0, result.text
    run = _only_run(uri, "all")
    assert run.info.status == "FINISHED"
    assert run.data.params["optimizer.lr"] and run.data.params["model.hidden"]
    assert {"nnx.model", "nnx.data", "nnx.optimizer", "nnx.loss", "nnx.config_hash"} <= set(run.data.tags)
    client = MlflowClient(uri)
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val/acc")] == [0, 1, 2]
    assert {"test/acc", "test/loss", "train/loss", "val/loss"} <= set(run.data.metrics)
    stored = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert ARTIFACTS <= stored
    for name in ("learning_curves.png", "evaluation/confusion_matrix.png"):
        local = client.download_artifacts(run.info.run_id, name, str(tmp_path))
        assert Path(local).read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "run" / "learning_curves.png").read_bytes().startswith(b"\x89PNG")
    assert f"MLflow run {run.info.run_id}" in result.out


def test_a_sweeps_trials_share_one_writer_and_one_store_opening(
    monkeypatch, capsys, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    writes.close()  # whatever an earlier test left: this sweep starts its own
    started: list[int] = []
    real_init = writes.Writer.__init__

    def counting_init(self, inline: bool = False) -> None:
        real_init(self, inline)
        started.append(os.getpid())

    monkeypatch.setattr(writes.Writer, "__init__", counting_init)
    monkeypatch.setattr(writes, "close", writes.drain)  # keep it to ask it afterwards
    result = run_cli(["-m", *FAST, f"tracking.uri={uri}", "tracking.experiment=grid",
                      "optimizer.lr=0.01,0.02,0.03", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                     monkeypatch, capsys, tmp_path)
    try:
        assert result.code == 0, result.text
        assert started == [os.getpid()]  # one writer for the parent run and its 3 trials
        assert writes.writer().barrier(writes.opened) == {uri: 1}
    finally:
        writes.close()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("grid").experiment_id])
    parent = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parent) == 1 and len(children) == 3
    assert {r.info.status for r in runs} == {"FINISHED"}
    for child in children:  # the deferred writes of every trial arrived by the sweep's end
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(child.info.run_id)}
        history = client.get_metric_history(child.info.run_id, "val/loss")
        assert [m.step for m in history] == [0, 1, 2]
    assert parent[0].data.tags["nnx.best_run_id"] in {c.info.run_id for c in children}


def _not_an_op() -> None:
    """Not marked `nnx.tracking.writer.op`: no writer runs it."""


@pytest.mark.parametrize("inline", [False, True])
def test_writer_orders_work_and_reports_errors(inline, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    writer = writes.Writer(inline=inline)
    try:
        assert uri not in writer.now(writes.opened).result()
        writer.later(_terminate, uri, "no-such-run", "FINISHED", 0)
        assert writer.barrier(writes.opened)[uri] == 1  # the queued work ran first
        with pytest.raises(TrackingError, match="no-such-run"):
            writer.drain()  # its error is raised here
        writer.drain()  # and only once
        with pytest.raises(TrackingError, match="no-such-run"):
            writer.now(_terminate, uri, "no-such-run", "FINISHED", 0).result()
        with pytest.raises(TypeError, match="not marked"):
            writer.later(_not_an_op)
    finally:
        writer.close()


def test_a_writer_whose_caller_is_gone_still_stores_its_work_and_exits(tmp_path: Path) -> None:
    """kill -9 of a training process while its answer is on the way: the writer must not hang
    (it would keep the pipes it shares with the command's caller open for ever)."""
    from nnx.tracking.mlflow_run import _open_experiment

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "nnx.tracking.writer"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # nobody reads the answers any more
    frames = [[1, "now", writes._name_of(writes.opened), []],  # its answer hits a closed pipe
              [2, "later", writes._name_of(_open_experiment), [uri, "after the caller died"]]]
    proc.stdin.write(b"".join(writes._frame(frame) for frame in frames))
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    assert MlflowClient(uri).get_experiment_by_name("after the caller died") is not None
