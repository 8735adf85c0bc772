"""`nnx-ui` stops its MLflow server's whole process tree on SIGTERM and on Ctrl-C, quietly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest
from mlflow import MlflowClient

from tests.servers import BIN, _wait_healthy, free_port

#: A stand-in server: two workers below it, every process waits to be stopped.
_TREE = textwrap.dedent("""
    import subprocess, sys, time
    workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)]
    print("ready", flush=True)
    time.sleep(600)
""")
_UI = "import sys; from nnx.cli.ui import _serve; sys.exit(_serve([sys.executable, '-c', sys.argv[1]], {}))"


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _alive(tree: list[psutil.Process]) -> list[int]:
    return [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


@pytest.mark.parametrize(("stop", "code"), [("SIGTERM", 143), ("ctrl-c", 130)])
def test_a_stop_ends_the_whole_tree_without_tracebacks(stop: str, code: int) -> None:
    ui = subprocess.Popen([sys.executable, "-c", _UI, _TREE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert ui.stdout.readline() == "ready\n"
    tree = _tree(ui.pid)
    assert len(tree) == 4  # nnx-ui, the server, its two workers
    if stop == "ctrl-c":  # a terminal sends SIGINT to its foreground process group
        os.killpg(ui.pid, signal.SIGINT)
    else:
        ui.send_signal(signal.SIGTERM)
    _, err = ui.communicate(timeout=60)
    assert ui.returncode == code
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert _alive(tree) == []


@pytest.mark.slow
def test_sigterm_stops_the_real_mlflow_server_and_all_its_processes(tmp_path: Path, new_store) -> None:
    uri = new_store(tmp_path / "mlflow.db")
    MlflowClient(tracking_uri=uri).create_experiment("nnx")
    port = free_port()
    ui = subprocess.Popen([str(BIN / "nnx-ui"), "--uri", uri, "--port", str(port)], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", ui)
        tree = _tree(ui.pid)
        assert len(tree) >= 3  # nnx-ui, mlflow ui, and the server's own processes
        ui.send_signal(signal.SIGTERM)
        out, err = ui.communicate(timeout=60)
    finally:
        if ui.poll() is None:
            os.killpg(ui.pid, signal.SIGKILL)
    assert ui.returncode == 143
    assert "Traceback" not in err and "Warning" not in err, err
    assert f"http://127.0.0.1:{port}/#/experiments/" in out
    assert _alive(tree) == []
