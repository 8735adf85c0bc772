"""`nnx-ui` stops its MLflow server's whole process tree on SIGTERM and on Ctrl-C, quietly.

Here a stand-in server (a tree of sleeping processes); the real `nnx-ui` with its MLflow server,
rendered in a browser and then stopped with SIGTERM: tests/e2e/test_team_server.py
(`test_nnx_ui_shows_the_sweep_in_a_browser_and_sigterm_stops_its_server_tree`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.processes import alive, process_tree

#: A stand-in server: two workers below it, every process waits to be stopped.
_TREE = textwrap.dedent("""
    import subprocess, sys, time
    workers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"]) for _ in range(2)]
    print("ready", flush=True)
    time.sleep(600)
""")
_UI = "import sys; from nnx.cli.ui import _serve; sys.exit(_serve([sys.executable, '-c', sys.argv[1]], {}))"


@pytest.mark.parametrize(("stop", "code"), [("SIGTERM", 143), ("ctrl-c", 130)])
def test_a_stop_ends_the_whole_tree_without_tracebacks(stop: str, code: int) -> None:
    ui = subprocess.Popen([sys.executable, "-c", _UI, _TREE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert ui.stdout.readline() == "ready\n"
    tree = process_tree(ui.pid)
    assert len(tree) == 4  # nnx-ui, the server, its two workers
    if stop == "ctrl-c":  # a terminal sends SIGINT to its foreground process group
        os.killpg(ui.pid, signal.SIGINT)
    else:
        ui.send_signal(signal.SIGTERM)
    _, err = ui.communicate(timeout=60)
    assert ui.returncode == code
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert alive(tree) == []
