"""Shared tracking for a team: `mlflow server` on PostgreSQL, a sweep logged into it over HTTP,
and a sweep logged into PostgreSQL directly with the password in the URI, which it then
holds nowhere.

The test starts a throwaway PostgreSQL cluster (Debian's ``postgresql`` package; CI installs
it, elsewhere the tests skip without it) on 127.0.0.1 that asks TCP clients for a password,
then `mlflow server` on it, and stops
both. PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres``
(or ``nobody``) user.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nnx.config.secrets import redact_uri
from tests.cli_inprocess import run_cli
from tests.servers import files_containing, free_port, mlflow_server, nnx_in_process, stop, sweep_args
from tests.system_packages import require

pytestmark = pytest.mark.slow

PASSWORD = f"Pg-{secrets.token_hex(8)}"  # the database password: it must land nowhere
#: The runs here are about where they are stored, not their content: no evaluation report,
#: no Optuna plots (their figures cost seconds of CPU per run; checked elsewhere).
NO_FIGURES = ("eval.report=false", "hydra.sweeper.plots=false")


def _pg_bin(name: str) -> str:
    """PostgreSQL's ``name`` (Debian keeps it off PATH); missing, the tests skip (see .ci/run)."""
    return require(name, "postgresql", also=(f"/usr/lib/postgresql/*/bin/{name}",))


def _as_owner(owner: str | None, command: list[str]) -> list[str]:
    return ["runuser", "-u", owner, "--", *command] if owner else command


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running PostgreSQL on a free port with empty databases ``mlflow`` and ``direct``, user
    ``nnx`` with `PASSWORD` (asked over TCP); yields the URI of ``mlflow``, password included."""
    owner = None
    if os.geteuid() == 0:
        owner = next(u for u in ("postgres", "nobody") if _has_user(u))
    home = Path(tempfile.mkdtemp(prefix="nnx-pg-", dir="/tmp"))  # pytest's tmp is root-only
    if owner:
        shutil.chown(home, owner)
    data, port = home / "data", free_port()
    (home / "pwfile").write_text(PASSWORD)
    if owner:
        shutil.chown(home / "pwfile", owner)
    subprocess.run(_as_owner(owner, [_pg_bin("initdb"), "-D", str(data), "-U", "nnx",
                                     "--auth-local=trust", "--auth-host=scram-sha-256",
                                     f"--pwfile={home / 'pwfile'}", "-E", "UTF8"]),
                   check=True, capture_output=True, cwd=home)
    (home / "pwfile").unlink()
    server = subprocess.Popen(
        _as_owner(owner, [_pg_bin("postgres"), "-D", str(data), "-h", "127.0.0.1",
                          "-p", str(port), "-k", str(home)]),
        stdout=subprocess.DEVNULL, stderr=(home / "postgres.log").open("w"), cwd=home,
        start_new_session=True,
    )
    try:
        _create_database(port)
        yield f"postgresql://nnx:{PASSWORD}@127.0.0.1:{port}/mlflow"
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
            connection = psycopg.connect(f"postgresql://nnx:{PASSWORD}@127.0.0.1:{port}/postgres",
                                         autocommit=True)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    with connection:
        connection.execute("CREATE DATABASE mlflow")
        connection.execute("CREATE DATABASE direct")


def test_a_sweep_logs_into_mlflow_server_on_postgresql(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    with mlflow_server(postgres, tmp_path) as base:  # the server is a real process, the sweep not
        sweep = nnx_in_process(sweep_args(base, "team", "trainer.max_epochs=1", NO_FIGURES[0]), tmp_path,
                               monkeypatch, capfd)
        assert sweep.code == 0, sweep.text
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


def _rows_as_text(uri: str) -> list[str]:
    """Every row of every table of the database, as PostgreSQL prints it."""
    import psycopg

    with psycopg.connect(uri) as connection:
        tables = [name for (name,) in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return [text for table in tables
                for (text,) in connection.execute(f'SELECT CAST(t AS text) FROM "{table}" t')]


def test_a_sweep_logs_straight_into_postgresql_and_the_password_stays_out(
    postgres: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture
) -> None:
    uri = postgres.rsplit("/", 1)[0] + "/direct"  # postgresql://nnx:<password>@host:port/direct
    sweep = nnx_in_process(
        ["-m", "data=logic_xor", "trainer.max_epochs=1", "trainer.progress=false",
         "trainer.accelerator=cpu", f"tracking.uri={uri}", "tracking.experiment=direct",
         "model.hidden=[4],[8]", NO_FIGURES[0]], tmp_path, monkeypatch, capfd)
    assert sweep.code == 0, sweep.text
    rows = _rows_as_text(uri)
    assert sum("'nnx.sweep', 'parent'" in r or "nnx.sweep,parent" in r for r in rows) == 1
    assert sum(",FINISHED," in r for r in rows) == 3, "parent and two trials"
    assert [r for r in rows if "tracking.uri" in r and "nnx:***@127.0.0.1" in r]
    assert [r for r in rows if PASSWORD in r] == []  # params, tags, names, experiments, ...
    assert PASSWORD not in sweep.text
    assert list(tmp_path.rglob("config.yaml")) and files_containing(tmp_path, PASSWORD) == []


def test_a_search_keeps_its_study_in_postgresql(
    postgres: str, mlflow_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture,
) -> None:
    """Two searches in this process (their output read from the file descriptors, as a terminal
    shows it, the tracking writer's included); the second resumes the first's study."""
    import optuna
    import psycopg

    server = postgres.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute("CREATE DATABASE optuna")
    storage = f"{server}/optuna"
    args = ["hparams_search=mlp_optuna", "hydra.sweeper.study_name=pg",
            f"hydra.sweeper.storage={storage}", "data=iris", "trainer.max_epochs=1",
            "trainer.progress=false", "trainer.accelerator=cpu", f"tracking.uri={mlflow_uri}",
            "tracking.experiment=pg-search", *NO_FIGURES]
    first = run_cli([*args, "hydra.sweeper.n_trials=1"], monkeypatch, capfd, tmp_path)
    assert first.code == 0, first.text
    again = run_cli([*args, "hydra.sweeper.n_trials=2"], monkeypatch, capfd, tmp_path)  # resumes
    assert again.code == 0, again.text
    study = optuna.load_study(study_name="pg", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name("pg-search").experiment_id])
    parents = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    assert {p.data.tags["optuna.storage"] for p in parents} == {redact_uri(storage)}  # no password
    assert PASSWORD not in first.text + again.text
