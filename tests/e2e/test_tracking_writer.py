"""The tracking writer process (`nnx.tracking.writer`): nothing a run records is lost, a
sweep's trials share one writer and one store opening, and a writer ends with its caller."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from nnx.errors import TrackingError
from nnx.tracking import writer as writes
from nnx.tracking.mlflow_store import MlflowStore
from nnx.tracking.store import Store
from tests.cli_inprocess import run_cli

QUICK = ["data=iris", "trainer.progress=false", "trainer.accelerator=cpu"]
FAST = [*QUICK, "trainer.max_epochs=3"]
ARTIFACTS = {"config.yaml", "overrides.yaml", "model_summary.txt", "learning_curves.png", "evaluation"}


def _only_run(uri: str, experiment: str) -> object:
    client = MlflowClient(uri)
    [found] = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    return found


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_a_run_records_everything_before_the_command_returns(
    mode, monkeypatch, capsys, tmp_path: Path, mlflow_uri: str
) -> None:
    if mode == "inline":
        monkeypatch.setenv("NNX_TRACKING_WRITER", "inline")
    uri, experiment = mlflow_uri, f"writer-records-all-{mode}"  # the session's store: migrated once
    result = run_cli([*FAST, f"tracking.uri={uri}", f"tracking.experiment={experiment}",
                      "hydra.run.dir=run"], monkeypatch, capsys, tmp_path, writer="process")
    assert result.code == 0, result.text
    run = _only_run(uri, experiment)
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
    monkeypatch, capsys, tmp_path: Path, mlflow_uri: str
) -> None:
    uri, experiment = mlflow_uri, "writer-shared-by-a-grid"
    writes.close()  # whatever an earlier test left: this sweep starts its own
    started: list[int] = []
    real_init = writes.Writer.__init__

    def counting_init(self, store: Store, *args, **kwargs) -> None:
        real_init(self, store, *args, **kwargs)
        started.append(os.getpid())

    monkeypatch.setattr(writes.Writer, "__init__", counting_init)
    monkeypatch.setattr(writes, "close", writes.drain)  # keep it to ask it afterwards
    result = run_cli(["-m", *FAST, f"tracking.uri={uri}", f"tracking.experiment={experiment}",
                      "optimizer.lr=0.01,0.02", f"hydra.sweep.dir={tmp_path / 'sweep'}"],
                     monkeypatch, capsys, tmp_path, writer="process")
    try:
        assert result.code == 0, result.text
        assert started == [os.getpid()]  # one writer for the parent run and its 2 trials
        assert writes.writer(Store.of(uri)).barrier(MlflowStore.opened) == 1
        assert psutil.Process(writes.writer(Store.of(uri))._proc.pid).nice() == 10
    finally:
        writes.close()
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    parent = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parent) == 1 and len(children) == 2
    assert {r.info.status for r in runs} == {"FINISHED"}
    for child in children:  # the deferred writes of every trial arrived by the sweep's end
        assert ARTIFACTS <= {a.path for a in client.list_artifacts(child.info.run_id)}
        history = client.get_metric_history(child.info.run_id, "val/loss")
        assert [m.step for m in history] == [0, 1, 2]
    assert parent[0].data.tags["nnx.best_run_id"] in {c.info.run_id for c in children}


def _fails_with_a_password(store: MlflowStore) -> None:
    """Work that fails with the store's URI in its message (a library error might)."""
    raise RuntimeError(f"cannot talk to {store.store.uri}\nsecond line")


@pytest.mark.parametrize("inline", [False, True])
def test_writer_orders_work_and_reports_errors_redacted(inline, mlflow_uri: str) -> None:
    store = Store.of(mlflow_uri)
    writer = writes.Writer(store, inline=inline)
    try:
        assert writer.now(MlflowStore.opened).result() == 0
        writer.later(MlflowStore.terminate, "no-such-run", "FINISHED", 0)
        assert writer.barrier(MlflowStore.opened) == 1  # the queued work ran first
        with pytest.raises(TrackingError, match="no-such-run"):
            writer.drain()  # its error is raised here
        writer.drain()  # and only once
        with pytest.raises(TrackingError, match="no-such-run"):
            writer.now(MlflowStore.terminate, "no-such-run", "FINISHED", 0).result()
    finally:
        writer.close()
    secret = Store.of("postgresql://u:s3cret-Pw@127.0.0.1:1/db")
    writer = writes.Writer(secret, inline=inline)
    try:
        with pytest.raises(TrackingError) as caught:
            writer.now(_fails_with_a_password).result()
        assert str(caught.value) == "RuntimeError: cannot talk to postgresql://u:***@127.0.0.1:1/db"
    finally:
        writer.close()


_ORPHAN = """
import os, signal, sys
from nnx.tracking import writer
from nnx.tracking.mlflow_store import MlflowStore
from nnx.tracking.store import Store
w = writer.Writer(Store.of(sys.argv[1]))
w.now(MlflowStore.opened)  # its answer finds the caller gone
w.later(MlflowStore.open_experiment, "after the caller died")
print(w._proc.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_whose_caller_is_killed_still_stores_its_work_and_exits(mlflow_uri: str) -> None:
    """kill -9 of a training process while its answer is on the way: the writer must not hang
    (it would keep the pipes it shares with the command's caller open for ever)."""
    uri = mlflow_uri
    caller = subprocess.run([sys.executable, "-c", _ORPHAN, uri], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).parents[2])
    assert caller.returncode == -9, caller.stderr
    with contextlib.suppress(psutil.NoSuchProcess):  # gone already, or ends within a minute
        psutil.Process(int(caller.stdout)).wait(timeout=60)
    assert MlflowClient(uri).get_experiment_by_name("after the caller died") is not None


def _child_sends(handed: list, index: int, die: bool) -> None:
    """A forked child's work through its handed connection; ``die``: then kill -9 itself."""
    writes.adopt(handed, index)
    writes.writer(handed[index].store).later(MlflowStore.open_experiment, f"sent by child {index}")
    if die:
        os.kill(os.getpid(), signal.SIGKILL)


def test_forked_children_share_their_parents_writer_and_a_killed_one_loses_nothing(mlflow_uri: str) -> None:
    """A search's local workers: one writer process serves the parent and its forked children
    (`hand_over`); a child killed after sending still gets its work stored, and the parent
    waits for the children's work (`join_handed`) while the writer goes on serving it."""
    import multiprocessing

    store = Store.of(mlflow_uri)
    writes.close()
    try:
        owner = writes.writer(store, spare=2)
        assert owner.barrier(MlflowStore.open_experiment, "opened by the parent")
        handed = writes.hand_over(store, 2)
        assert [each._proc for each in handed] == [None, None]  # no writer of their own
        fork = multiprocessing.get_context("fork")
        children = [fork.Process(target=_child_sends, args=(handed, i, i == 1)) for i in range(2)]
        for child in children:
            child.start()
        writes.let_go(handed)
        for child in children:
            child.join(60)
        assert [child.exitcode for child in children] == [0, -signal.SIGKILL]
        writes.join_handed(handed)
        assert owner.now(MlflowStore.opened).result() == 1  # one store opening for all three
        writers = [p for p in psutil.Process().children() if p.name() == "nnx-writer"]
        assert [p.pid for p in writers] == [owner._proc.pid]
        assert writers[0].nice() == psutil.Process().nice()  # not starved by the children it serves
    finally:
        writes.close()
    client = MlflowClient(mlflow_uri)
    assert all(client.get_experiment_by_name(f"sent by child {i}") for i in range(2))


def test_a_script_without_a_main_guard_runs_tracked(tmp_path: Path, mlflow_uri: str) -> None:
    """The writer is spawned without the caller's ``__main__``: a plain script calling
    ``nnx.run`` at top level (no ``if __name__ == "__main__":``) is not run again there."""
    script = tmp_path / "plain.py"
    script.write_text(
        "import nnx\n"
        f"run = nnx.run({', '.join(map(repr, [*QUICK, 'trainer.max_epochs=1', 'eval.report=false']))})\n"
        "print('stored', run.run_id)\n"
    )
    uri = mlflow_uri
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MLFLOW_TRACKING_URI": uri})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("stored ") == 1 and "bootstrapping" not in done.stderr
    run_id = done.stdout.split("stored ")[1].split()[0]
    assert MlflowClient(uri).get_run(run_id).info.status == "FINISHED"
