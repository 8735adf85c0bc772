"""Shared tracking for a team: `mlflow server` on PostgreSQL, a sweep logged into it over HTTP.

The test starts a throwaway PostgreSQL cluster (Debian's ``postgresql`` package; CI installs
it) on 127.0.0.1, then `mlflow server` on it, and stops both. PostgreSQL refuses to run as
root, so as root the cluster belongs to the ``postgres`` (or ``nobody``) user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.servers import free_port, mlflow_server, stop, sweep_over_http

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

BIN = Path(sys.executable).parent


def _pg_bin(name: str) -> str:
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = shutil.which(name) or (installed[-1] if installed else None)
    if found is None:
        pytest.fail(f"PostgreSQL's {name} not found: apt-get install postgresql (see .ci/run)")
    return found


def _as_owner(owner: str | None, command: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running PostgreSQL on a free port with an empty database ``mlflow``; yields its URI."""
    owner = None
    if os.geteuid() == 0:
        owner = next(u for u in ("postgres", "nobody") if _has_user(u))
    home = Path(tempfile.mkdtemp(prefix="nnx-pg-", dir="/tmp"))  # pytest's tmp is root-only
    if owner:
        shutil.chown(home, owner)
    data, port = home / "data", free_port()
    subprocess.run(_as_owner(owner, [_pg_bin("initdb"), "-D", str(data), "-U", "nnx",
                                     "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True, cwd=home)
    server = subprocess.Popen(
        _as_owner(owner, [_pg_bin("postgres"), "-D", str(data), "-h", "127.0.0.1",
                          "-p", str(port), "-k", str(home)]),
        stdout=subprocess.DEVNULL, stderr=(home / "postgres.log").open("w"), cwd=home,
        start_new_session=True,
    )
    try:
        _create_database(port)
        yield f"postgresql://nnx@127.0.0.1:{port}/mlflow"
    finally:
        stop(server)
        shutil.rmtree(home, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _create_database(port: int) -> None:
    import psycopg

    deadline = time.monotonic() + 60
    while True:
        try:
            connection = psycopg.connect(f"postgresql://nnx@127.0.0.1:{port}/postgres",
                                         autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with connection:
        connection.execute("CREATE DATABASE mlflow")


def test_a_sweep_logs_into_mlflow_server_on_postgresql(postgres: str, tmp_path: Path) -> None:
    with mlflow_server(postgres, tmp_path) as base:
        sweep = sweep_over_http(base, "team", tmp_path, "trainer.max_epochs=1")
        assert sweep.returncode == 0, sweep.stderr
        client = MlflowClient(base)
        runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED"
    assert sorted(c.data.params["model.hidden"] for c in children) == ["[16]", "[8]"]
    assert all(c.info.status == "FINISHED" and "test/acc" in c.data.metrics for c in children)
    # The runs live in PostgreSQL itself, not in a file next to the server.
    import psycopg

    with psycopg.connect(postgres) as connection:
        finished = connection.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'")
        assert finished.fetchone()[0] == 3


def test_a_search_keeps_its_study_in_postgresql(postgres: str, run_nnx, tmp_path: Path) -> None:
    import optuna
    import psycopg

    server = postgres.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE optuna")
    storage = f"{server}/optuna"
    args = ["hparams_search=mlp_optuna", "hydra.sweeper.study_name=pg", f"hydra.sweeper.storage={storage}",
            "data=iris", "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}"]
    first = run_nnx(*args, "hydra.sweeper.n_trials=1")
    assert first.returncode == 0, first.stderr
    again = run_nnx(*args, "hydra.sweeper.n_trials=2")  # resumes from PostgreSQL
    assert again.returncode == 0, again.stderr
    study = optuna.load_study(study_name="pg", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("nnx").experiment_id])
    parents = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    assert {p.data.tags["optuna.storage"] for p in parents} == {storage}
