"""An authenticated team server: `mlflow server --app-name basic-auth` on 127.0.0.1.

One server for the module (its admin password comes from the environment, as
docs/pages/team.md sets it up). A member with credentials in the URI logs a parallel sweep;
her password then appears nowhere: not in the server's stores, artifacts or log, not in
anything the API returns, not in the run folders, not on the console. No credentials, a
wrong password and a read-only member each fail in one line, exit 2, before any training.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.servers import BIN, clean_env, files_containing

pytestmark = pytest.mark.slow

SECRET = f"Alice-{secrets.token_hex(8)}"  # alice's password: the string that must never leak
FAST = ["data=logic_xor", "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu"]


def _nnx(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "nnx"), *args, *FAST], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=clean_env(**env))


def _as(user: str, password: str, base: str) -> MlflowClient:
    import os

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password
    return MlflowClient(base)


@pytest.fixture(scope="module")
def team(team_server: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The session's server, its users alice (member) and bob (reader), and alice's sweep
    logged with her credentials in the URI (joblib workers: other processes open the store too)."""
    import os

    from mlflow.server import get_app_client

    work, base, host = tmp_path_factory.mktemp("alice"), team_server["base"], team_server["host"]
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    _as("admin", team_server["admin"], base)
    users = get_app_client("basic-auth", tracking_uri=base)
    users.create_user("alice", SECRET)
    users.create_user("bob", f"bob-{secrets.token_hex(8)}")
    sweep = _nnx(work, "-m", f"tracking.uri=http://alice:{SECRET}@{host}",
                 "tracking.experiment=team", "model.hidden=[4],[8]",
                 "hydra/launcher=joblib", "hydra.launcher.n_jobs=2")
    try:
        yield {**team_server, "work": work, "sweep": sweep, "users": users}
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


def test_a_member_with_credentials_in_the_uri_logs_a_sweep(team: dict) -> None:
    assert team["sweep"].returncode == 0, team["sweep"].stderr
    client = _as("admin", team["admin"], team["base"])
    experiment = client.get_experiment_by_name("team")
    runs = client.search_runs([experiment.experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert parent.info.status == "FINISHED"
    assert sorted(c.data.params["model.hidden"] for c in children) == ["[4]", "[8]"]
    assert all(c.info.status == "FINISHED" and "test/acc" in c.data.metrics for c in children), [
        (c.info.status, sorted(c.data.metrics), c.data.tags.get("nnx.error")) for c in children]
    # The URI is recorded, credentials masked; the results block links without them.
    assert {c.data.params["tracking.uri"] for c in children} == {f"http://alice:***@{team['host']}"}
    assert f"run:       {team['base']}/#/experiments/{experiment.experiment_id}/runs/" in team["sweep"].stdout


def test_the_password_is_nowhere(team: dict) -> None:
    sweep = team["sweep"]
    assert sweep.returncode == 0, sweep.stderr
    assert SECRET not in sweep.stdout + sweep.stderr
    # The server's side: tracking and auth stores (bytes, WAL included), artifacts, its log.
    assert (team["folder"] / "artifacts").is_dir()
    assert files_containing(team["folder"], SECRET) == []
    # The member's side: every run folder, Hydra's saved files, job logs, sweep files.
    assert list(team["work"].rglob(".hydra/overrides.yaml")) and list(team["work"].rglob("*.log"))
    assert files_containing(team["work"], SECRET) == []
    # Everything the API answers with: experiments, runs, params, tags, artifacts.
    client = _as("admin", team["admin"], team["base"])
    experiments = client.search_experiments()
    seen = [str(e) for e in experiments]
    for run in client.search_runs([e.experiment_id for e in experiments], run_view_type=3):
        seen += [str(run.info), str(run.data.params), str(run.data.tags), str(run.data.metrics)]
        for artifact in client.list_artifacts(run.info.run_id):  # the text ones; all bytes: above
            if artifact.path.endswith((".yaml", ".txt", ".json")):
                seen.append(Path(client.download_artifacts(
                    run.info.run_id, artifact.path, str(team["folder"].parent))).read_bytes().decode(
                    errors="replace"))
    assert len(seen) > 10 and not [text for text in seen if SECRET in text]


def test_mlflow_variables_work_and_are_not_echoed(team: dict, tmp_path: Path) -> None:
    out = _nnx(tmp_path, f"tracking.uri={team['base']}", "tracking.experiment=team",
               MLFLOW_TRACKING_USERNAME="alice", MLFLOW_TRACKING_PASSWORD=SECRET)
    assert out.returncode == 0, out.stderr
    assert "results" in out.stdout and SECRET not in out.stdout + out.stderr
    assert files_containing(tmp_path, SECRET) == []


def _one_line_before_training(out: subprocess.CompletedProcess, tmp_path: Path) -> str:
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnx: error: "), out.stderr
    assert "Traceback" not in out.stderr and "training for" not in out.stdout
    assert not list(tmp_path.rglob("nnx_run.yaml")) and not list(tmp_path.rglob("*.ckpt"))
    return lines[0]


def test_no_credentials_fail_in_one_line_before_training(team: dict, tmp_path: Path) -> None:
    line = _one_line_before_training(
        _nnx(tmp_path, f"tracking.uri={team['base']}", "tracking.experiment=team"), tmp_path)
    assert "refused no credentials (401)" in line
    assert "MLFLOW_TRACKING_USERNAME" in line and "MLFLOW_TRACKING_PASSWORD" in line


def test_a_wrong_password_fails_in_one_line_and_is_not_echoed(team: dict, tmp_path: Path) -> None:
    wrong = f"Wrong-{secrets.token_hex(8)}"
    out = _nnx(tmp_path, "-m", f"tracking.uri=http://alice:{wrong}@{team['host']}",
               "tracking.experiment=team", "model.hidden=[4],[8]")
    line = _one_line_before_training(out, tmp_path)
    assert f"tracking.uri=http://alice:***@{team['host']} refused the password of user 'alice'" in line
    assert "MLFLOW_TRACKING_USERNAME" in line and "MLFLOW_TRACKING_PASSWORD" in line
    assert wrong not in out.stdout + out.stderr and files_containing(tmp_path, wrong) == []


def test_a_reader_cannot_write_to_the_experiment(team: dict, tmp_path: Path) -> None:
    client = _as("admin", team["admin"], team["base"])
    experiment_id = client.get_experiment_by_name("team").experiment_id
    password = f"bob-{secrets.token_hex(8)}"
    team["users"].update_user_password("bob", password)
    team["users"].grant_user_permission("bob", "experiment", experiment_id, "READ")
    before = len(client.search_runs([experiment_id]))
    out = _nnx(tmp_path, "-m", f"tracking.uri={team['base']}", "tracking.experiment=team",
               "model.hidden=[4],[8]", MLFLOW_TRACKING_USERNAME="bob", MLFLOW_TRACKING_PASSWORD=password)
    line = _one_line_before_training(out, tmp_path)
    assert "User 'bob' may not write to experiment 'team'" in line and "403" in line
    assert len(client.search_runs([experiment_id])) == before


def test_a_dead_workers_run_is_failed_with_the_sweeps_credentials(
        team: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's own record holds the store masked (`alice:***`); the search's driver marks
    the run of a worker killed with kill -9 FAILED through the sweep's URI."""
    import optuna

    from nnx.sweeps.workers import fail_stale
    from nnx.training.resume import write_record

    alice = _as("alice", SECRET, team["base"])
    run_id = alice.create_run(alice.get_experiment_by_name("team").experiment_id).info.run_id
    masked = f"http://alice:***@{team['host']}"
    write_record(tmp_path, run_id, {"tracking": {"backend": "mlflow", "uri": masked}})
    study = optuna.create_study()
    trial = study.ask()
    trial.set_user_attr("nnx.job_dir", str(tmp_path))
    trial.set_user_attr("nnx.pid", 4242)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")  # only the URI carries the credentials
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    uri = f"http://alice:{SECRET}@{team['host']}"
    assert fail_stale(study, 4242, "worker 4242 died", uri) == [trial.number]
    run = _as("alice", SECRET, team["base"]).get_run(run_id)
    assert run.info.status == "FAILED" and "died" in run.data.tags["nnx.error"]


def test_a_member_registers_a_model_and_predicts_with_the_champion(team: dict, tmp_path: Path) -> None:
    """tracking.register on the basic-auth server (credentials in the URI), then nnx-predict
    models:/NAME@champion from the same server; the password is echoed nowhere."""
    import numpy as np

    uri = f"http://alice:{SECRET}@{team['host']}"
    out = _nnx(tmp_path, f"tracking.uri={uri}", "tracking.experiment=team", "tracking.register=xor")
    assert out.returncode == 0, out.stderr
    assert "registry registered xor version 1" in out.stdout and "@champion -> version 1" in out.stdout
    np.save(tmp_path / "gates.npy", np.array([[0.0, 1.0], [1.0, 1.0]]))
    predicted = subprocess.run(
        [str(BIN / "nnx-predict"), "models:/xor@champion", "--input", str(tmp_path / "gates.npy"),
         "--tracking-uri", uri], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=clean_env())
    assert predicted.returncode == 0, predicted.stderr
    assert predicted.stdout.splitlines()[0].startswith("prediction,probability") and len(
        predicted.stdout.splitlines()) == 3
    assert SECRET not in out.stdout + out.stderr + predicted.stdout + predicted.stderr
    champion = _as("alice", SECRET, team["base"]).get_model_version_by_alias("xor", "champion")
    assert str(champion.version) == "1"
