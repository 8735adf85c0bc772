"""Real servers for e2e tests: free ports, `mlflow server` started and stopped on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests.cli_inprocess import Outcome, run_cli

BIN = Path(sys.executable).parent
_STARTUP_S = 120


def free_port() -> int:
    """A port nothing listens on (free now; closed unless someone binds it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + _STARTUP_S
    while time.monotonic() < deadline:
        assert server.poll() is None, "the server exited while starting"
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{base} did not answer /health within {_STARTUP_S} s")


def serve(command: list[str], base: str, log: Path, env: dict | None = None) -> subprocess.Popen:
    """Start ``command`` in its own process group and wait until ``base`` answers /health
    (without MLflow's job runner, a consumer of 10 processes for GenAI jobs no test uses)."""
    env = {**(os.environ if env is None else env), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT,
                              start_new_session=True, env=env)
    _wait_healthy(base, server)
    return server


def stop(server: subprocess.Popen) -> None:
    """Stop the server and the workers it started (its own process group)."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextlib.contextmanager
def mlflow_server(backend_uri: str, folder: Path) -> Iterator[str]:
    """A real `mlflow server` on ``backend_uri`` with artifacts in ``folder``; yields its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = serve([str(BIN / "mlflow"), "server", "--backend-store-uri", backend_uri,
                    "--default-artifact-root", str(folder / "artifacts"),
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                   base, folder / "server.log")
    try:
        yield base
    finally:
        stop(server)


#: MLflow's credential variables: a test sets them itself, or leaves them out on purpose.
CREDENTIAL_VARIABLES = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without MLflow credentials, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    return {**env, **extra}


@contextlib.contextmanager
def basic_auth_server(folder: Path, admin_password: str) -> Iterator[str]:
    """`mlflow server --app-name basic-auth` (SQLite stores, proxied artifacts in
    ``folder/artifacts``), its admin ``admin`` with ``admin_password`` given in the
    environment, as docs/pages/team.md sets it up; yields its URL (without credentials).

    As the page recommends, a login's password hash (scrypt, a quarter second on 2 busy cores)
    is checked once per ``auth_cache_ttl_seconds``, not on every request: a sweep makes
    hundreds. Wrong passwords are never cached, and a password changed through the API takes
    effect at once on the one worker."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = folder / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'auth.db'}\nadmin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "auth_cache_ttl_seconds = 60\n"
    )
    env = clean_env(MLFLOW_AUTH_CONFIG_PATH=str(config), MLFLOW_AUTH_ADMIN_PASSWORD=admin_password,
                    MLFLOW_FLASK_SERVER_SECRET_KEY=os.urandom(16).hex())
    server = serve([str(BIN / "mlflow"), "server", "--app-name", "basic-auth",
                    "--backend-store-uri", f"sqlite:///{folder / 'db.sqlite'}",
                    "--artifacts-destination", str(folder / "artifacts"),
                    "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
                   base, folder / "server.log", env=env)
    try:
        yield base
    finally:
        stop(server)


def files_containing(root: Path, secret: str) -> list[Path]:
    """Every file under ``root`` (binary ones too) whose bytes contain ``secret``."""
    needle = secret.encode()
    return [p for p in sorted(root.rglob("*")) if p.is_file() and needle in p.read_bytes()]


def sweep_args(base: str, experiment: str, *extra: str) -> list[str]:
    """The arguments of a 2-trial `nnx -m` sweep on iris logged to the server at ``base``."""
    return ["-m", "data=iris", "trainer.progress=false", "trainer.accelerator=cpu",
            f"tracking.uri={base}", f"tracking.experiment={experiment}", "model.hidden=[8],[16]",
            *extra]


def nnx_in_process(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch,
                   capfd: pytest.CaptureFixture, writer: Literal["inline", "process"] = "inline",
                   **env: str) -> Outcome:
    """`nnx *args` in this process (no Python start, no Lightning import) with the environment
    of ``clean_env(**env)``: MLflow's credential variables only from ``env``. Its output is read
    from the file descriptors, as a terminal shows it. ``writer``: as for `run_cli`."""
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return run_cli(args, monkeypatch, capfd, cwd, writer=writer)
