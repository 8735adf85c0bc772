"""`nnx-ui`: the MLflow dashboard on nnx's store, opened at the experiment's runs table.

MLflow 3's UI opens an experiment in a GenAI overview unless the link asks for the
model-training view (``?workflowType=machine_learning``); nnx prints that link, then runs
``mlflow ui`` until Ctrl-C or SIGTERM, which stop the server's whole process tree (its
workers and job runners) without a traceback.

The dashboard has no login: on an address beyond this machine (``--host 0.0.0.0``) anyone
who reaches it reads (and can change) every run in the store, so nnx says so and points to
the authenticated team server (``docs/pages/team.md``). The store's URI goes to MLflow in
its environment, not on the command line that every local user can list (``ps``).
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
from typing import Any

from nnx.cli.errors import fail
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact_uri
from nnx.errors import NnxError, UnknownNameError
from nnx.tracking.links import runs_link
from nnx.tracking.store import Store

__all__ = ["main"]

_DEFAULTS = TrackingConfig()
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
#: MLflow's server imports a module Starlette deprecates, and says so at every start.
_QUIET_WARNINGS = "ignore:starlette.middleware.wsgi is deprecated:UserWarning"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() in _LOOPBACK_NAMES


def exposure_warning(host: str, uri: str) -> str:
    """What serving on a non-loopback ``host`` means, and the safe alternative."""
    return (
        f"nnx-ui: warning: serving on {host}: this dashboard has no login, so anyone who can "
        f"reach this address can read (and edit or delete) every run in {redact_uri(uri)}. "
        "For a team, run an authenticated MLflow server instead (mlflow server --app-name "
        "basic-auth; see docs/pages/team.md), or keep --host 127.0.0.1 and use an SSH tunnel."
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-ui", description="Serve the MLflow dashboard on nnx's store and print its link.",
    )
    parser.add_argument("--uri", default=_DEFAULTS.uri, help="the store nnx logged to (default: "
                        "$MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db)")
    parser.add_argument("--experiment", default=_DEFAULTS.experiment, help="experiment to open")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes; one starts twice as fast and serves one person")
    return parser


def _experiment_id(store: Store, name: str) -> str:
    if not store.exists():
        raise NnxError(f"No MLflow store at '{store}' yet: run `nnx` first, or pass --uri.")
    with store.session(checked=False) as client:
        found = client.get_experiment_by_name(name)
        if found is None:
            names = [e.name for e in client.search_experiments()]
            raise UnknownNameError("experiment", name, names, fix="Pick one with --experiment.")
    return found.experiment_id


def main(argv: list[str] | None = None) -> None:
    """`nnx-ui [--experiment NAME] [--port 5000]`: print the runs link, then serve."""
    args = _parser().parse_args(argv)
    store = Store.of(args.uri)
    if not is_loopback(args.host):
        print(exposure_warning(args.host, store.shown), file=sys.stderr, flush=True)
    try:
        experiment_id = _experiment_id(store, args.experiment)
    except NnxError as error:
        fail("nnx-ui", error)
    print(f"MLflow UI for experiment '{args.experiment}' ({store}):", flush=True)
    print(runs_link(f"http://{args.host}:{args.port}", experiment_id), flush=True)
    command = [sys.executable, "-m", "mlflow", "ui",
               "--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
    # MLflow's job runner (a huey consumer with 10 workers, for GenAI jobs) serves nothing a
    # run dashboard shows: off unless the user's environment turns it on.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **os.environ,
           "MLFLOW_BACKEND_STORE_URI": store.uri, "PYTHONWARNINGS": _QUIET_WARNINGS}
    sys.exit(_serve(command, env))


class _Stopped(Exception):
    """nnx-ui got a stop signal (SIGTERM, SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


def _raise_stopped(signum: int, _frame: Any) -> None:
    raise _Stopped(signum)


def _serve(command: list[str], env: dict[str, str]) -> int:
    """Run the server until it ends, or until nnx-ui is stopped: then its whole tree stops.

    The server runs in its own session, so a terminal's Ctrl-C reaches nnx-ui alone (each of
    MLflow's workers would print its own KeyboardInterrupt traceback); nnx-ui then ends the
    tree itself.
    """
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_stopped)
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        return server.wait()
    except KeyboardInterrupt:
        code = 130
    except _Stopped as stopped:
        code = stopped.code
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second signal must not cut the cleanup short
    _stop_tree(server)
    print("nnx-ui: stopped the MLflow server", file=sys.stderr)
    return code


def _stop_tree(server: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM to the server and every process below it, SIGKILL to what outlives ``grace_s``."""
    import psutil

    try:
        root = psutil.Process(server.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(tree, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    server.wait()
