"""`nnx-ui`: the MLflow dashboard on nnx's store, opened at the experiment's runs table.

MLflow 3's UI opens an experiment in a GenAI overview unless the link asks for the
model-training view (``?workflowType=machine_learning``); nnx prints that link, then runs
``mlflow ui`` in the foreground until Ctrl-C.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from nnx.cli.errors import fail
from nnx.config.schemas import TrackingConfig
from nnx.errors import NnxError, UnknownNameError
from nnx.tracking.links import runs_link

__all__ = ["main"]

_DEFAULTS = TrackingConfig()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-ui", description="Serve the MLflow dashboard on nnx's store and print its link.",
    )
    parser.add_argument("--uri", default=_DEFAULTS.uri, help="the store nnx logged to (%(default)s)")
    parser.add_argument("--experiment", default=_DEFAULTS.experiment, help="experiment to open")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1,
                        help="server processes; one starts twice as fast and serves one person")
    return parser


def _experiment_id(uri: str, name: str) -> str:
    from mlflow import MlflowClient

    from nnx.tracking.store import missing_sqlite_store

    if missing_sqlite_store(uri):
        raise NnxError(f"No MLflow store at '{uri}' yet: run `nnx` first, or pass --uri.")
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(name)
    if found is None:
        names = [e.name for e in client.search_experiments()]
        raise UnknownNameError("experiment", name, names, fix="Pick one with --experiment.")
    return found.experiment_id


def main(argv: list[str] | None = None) -> None:
    """`nnx-ui [--experiment NAME] [--port 5000]`: print the runs link, then serve."""
    from nnx.tracking.store import resolve_uri

    args = _parser().parse_args(argv)
    uri = resolve_uri(args.uri)
    try:
        experiment_id = _experiment_id(uri, args.experiment)
    except NnxError as error:
        fail("nnx-ui", error)
    print(f"MLflow UI for experiment '{args.experiment}' ({uri}):", flush=True)
    print(runs_link(f"http://{args.host}:{args.port}", experiment_id), flush=True)
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
               "--host", args.host, "--port", str(args.port), "--workers", str(args.workers)]
    try:
        sys.exit(subprocess.call(command))
    except KeyboardInterrupt:
        sys.exit(130)
