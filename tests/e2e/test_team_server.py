"""An authenticated team server: `mlflow server --app-name basic-auth` on 127.0.0.1.

The session's server (its admin password comes from the environment, as docs/pages/team.md
sets it up) gets one sweep for the module: alice, a member with her credentials in the URI,
logs a sweep over HTTP whose trials are 2-fold cross-validated (sweep -> trials -> folds), its
tracking writer a process of its own that opens the store with them. The tests read it:
nesting and artifacts through MLflow's API, `nnx-compare` ranking it without torch, `nnx-ui`
showing it in headless Chromium (then SIGTERM stops its whole server tree), and her password
appearing nowhere: not in the server's stores, artifacts or log, not in anything the API
returns, not in the run folders, not on the console. No credentials, a wrong password and a
read-only member each fail in one line, exit 2, before any training. Every server is stopped afterwards.

Processes of their own: the server, the tracking writers of the sweep and of the run with
MLflow's variables, `nnx-compare`, `nnx-ui` and Chromium; the sweep, that run, the runs that
fail before training, the run that registers a model and `nnx-predict` run in this process
(no Python start, no Lightning import each).
"""

from __future__ import annotations

import base64
import csv
import io
import secrets
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from mlflow import MlflowClient

from nnx.cli.compare import leaderboard
from tests.cli_inprocess import Outcome
from tests.processes import alive, process_tree
from tests.servers import (
    BIN,
    clean_env,
    files_containing,
    free_port,
    nnx_in_process,
    serve,
    stop,
    sweep_args,
)
from tests.system_packages import require

pytestmark = pytest.mark.slow

SECRET = f"Alice-{secrets.token_hex(8)}"  # alice's password: the string that must never leak
FAST = ["data=logic_xor", "trainer.max_epochs=1", "trainer.progress=false", "trainer.accelerator=cpu",
        "eval.report=false"]  # the runs here are about the server, not a run's evaluation report
SOLO = "tracking.experiment=alice-solo"  # her single runs: the experiment `team` holds the sweep only


def _nnx_in_process(cwd: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture,
                    *args: str, writer: Literal["inline", "process"] = "inline", **env: str) -> Outcome:
    """`nnx *args` in this process, MLflow's credential variables only from ``env``;
    ``writer="process"``: its tracking writer a process of its own, as in a real `nnx`."""
    return nnx_in_process([*args, *FAST], cwd, monkeypatch, capfd, writer=writer, **env)


def _as(user: str, password: str, base: str) -> MlflowClient:
    import os

    os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"] = user, password
    return MlflowClient(base)


@pytest.fixture(scope="module")
def members(team_server: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The session's server and its users alice (member) and bob (reader)."""
    import os

    from mlflow.server import get_app_client

    base, host = team_server["base"], team_server["host"]
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    _as("admin", team_server["admin"], base)
    users = get_app_client("basic-auth", tracking_uri=base)
    users.create_user("alice", SECRET)
    users.create_user("bob", f"bob-{secrets.token_hex(8)}")
    try:
        yield {**team_server, "work": tmp_path_factory.mktemp("alice"), "users": users,
               "uri": f"http://alice:{SECRET}@{host}"}
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)


@pytest.fixture
def team(members: dict, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> dict:
    """``members`` with alice's sweep in the experiment ``team``: 2 trials of 2 folds, her
    credentials in the URI (MLflow's variables unset), its tracking writer a process of its own.
    The first test that reads it runs it, in this process; the module's other tests share it."""
    if "sweep" not in members:
        members["sweep"] = nnx_in_process(
            sweep_args(members["uri"], "team", "trainer.max_epochs=1", "eval.folds=2", "eval.report=false"),
            members["work"], monkeypatch, capfd, writer="process")
    return members


def _admin(team: dict) -> MlflowClient:
    return _as("admin", team["admin"], team["base"])


def _sweep_runs(client: MlflowClient) -> tuple[object, list, list]:
    """The sweep's parent run, its trials, and every run of the experiment ``team``."""
    runs = client.search_runs([client.get_experiment_by_name("team").experiment_id])
    [parent] = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    return parent, _children(parent, runs), runs


def _children(run, runs: list) -> list:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run.info.run_id]


def test_a_member_with_credentials_in_the_uri_logs_a_sweep(team: dict) -> None:
    assert team["sweep"].code == 0, team["sweep"].err
    client = _admin(team)
    experiment = client.get_experiment_by_name("team")
    parent, trials, _ = _sweep_runs(client)
    assert parent.info.status == "FINISHED"
    assert sorted(t.data.params["model.hidden"] for t in trials) == ["[16]", "[8]"]
    assert all(t.info.status == "FINISHED" and "test/acc" in t.data.metrics for t in trials), [
        (t.info.status, sorted(t.data.metrics), t.data.tags.get("nnx.error")) for t in trials]
    # The URI is recorded, credentials masked; the results block links without them.
    assert {t.data.params["tracking.uri"] for t in trials} == {f"http://alice:***@{team['host']}"}
    assert f"run:       {team['base']}/#/experiments/{experiment.experiment_id}/runs/" in team["sweep"].out


def test_a_sweep_over_http_nests_trials_and_stores_artifacts(team: dict, tmp_path: Path) -> None:
    assert team["sweep"].code == 0, team["sweep"].err
    client = _admin(team)
    parent, trials, runs = _sweep_runs(client)
    for trial in trials:  # three levels: each trial's folds are its children
        folds = _children(trial, runs)
        assert sorted(f.data.tags["nnx.fold"] for f in folds) == ["1", "2"]
        mean = sum(f.data.metrics["val/loss"] for f in folds) / 2
        assert trial.data.metrics["val/loss"] == pytest.approx(mean)
    best = min(trials, key=lambda t: t.data.metrics["val/loss"])
    assert parent.data.metrics["val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    fold = _children(trials[0], runs)[0].info.run_id
    assert {"config.yaml", "overrides.yaml", "model_summary.txt"} <= {
        a.path for a in client.list_artifacts(fold)}
    assert {"config.yaml", "learning_curves.png", "crossval.txt"} <= {
        a.path for a in client.list_artifacts(trials[0].info.run_id)}
    config = client.download_artifacts(trials[0].info.run_id, "config.yaml", str(tmp_path))
    assert "hidden:" in Path(config).read_text()
    login = base64.b64encode(f"admin:{team['admin']}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(  # the REST API, as a script sees it
        f"{team['base']}/api/2.0/mlflow/runs/get?run_id={parent.info.run_id}",
        headers={"Authorization": f"Basic {login}"},
    )) as answer:
        assert b"nnx.best_run_id" in answer.read()


def test_the_password_is_nowhere(team: dict) -> None:
    sweep = team["sweep"]
    assert sweep.code == 0, sweep.err
    assert SECRET not in sweep.text
    # The server's side: tracking and auth stores (bytes, WAL included), artifacts, its log.
    assert (team["folder"] / "artifacts").is_dir()
    assert files_containing(team["folder"], SECRET) == []
    # The member's side: every run folder, Hydra's saved files, job logs, sweep files.
    assert list(team["work"].rglob(".hydra/overrides.yaml")) and list(team["work"].rglob("*.log"))
    assert files_containing(team["work"], SECRET) == []
    # Everything the API answers with: experiments, runs, params, tags, artifacts.
    client = _admin(team)
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


def test_nnx_compare_ranks_the_sweep_without_torch(team: dict) -> None:
    code = (  # the credentials in the URI only
        "import sys; from nnx.cli.compare import main; "
        f"main(['--uri', '{team['uri']}', '--experiment', 'team', "
        "'--sweep', 'latest', '--format', 'csv']); "
        "assert 'torch' not in sys.modules and 'pytorch_lightning' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=clean_env())
    assert out.returncode == 0, out.stderr
    assert SECRET not in out.stdout + out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["best"] for r in rows] == ["*", ""]
    assert float(rows[0]["val/loss"]) <= float(rows[1]["val/loss"])
    assert {r["model.hidden"] for r in rows} == {"[8]", "[16]"}
    client = _admin(team)
    best = client.get_run(rows[0]["run_id"])
    parent = client.get_run(best.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["nnx.best_run_id"] == rows[0]["run_id"]
    # the whole experiment: the same two trials, without the sweep parent or the folds
    everything, varying, metric, _ = leaderboard(client, "team", None, None, "auto")
    assert [r.run_id for r in everything] == [r["run_id"] for r in rows]
    assert varying == ["model.hidden"] and metric == "val/loss"


def test_nnx_ui_shows_the_sweep_in_a_browser_and_sigterm_stops_its_server_tree(
        team: dict, tmp_path: Path) -> None:
    """One real `nnx-ui` (its MLflow server a process tree of its own, on the team server's
    store): headless Chromium renders the sweep, then SIGTERM ends nnx-ui (exit 143) and every
    process below it, without a traceback or a warning."""
    chromium = require("chromium", "chromium")  # headless, renders the UI's JavaScript
    port = free_port()
    log = tmp_path / "ui.log"
    ui = serve([str(BIN / "nnx-ui"), "--uri", f"sqlite:///{team['db']}",
                "--experiment", "team", "--port", str(port)], f"http://127.0.0.1:{port}", log)
    try:
        tree = process_tree(ui.pid)
        assert len(tree) >= 3  # nnx-ui, mlflow ui, and the server's own processes
        link = next(line for line in log.read_text().splitlines() if line.startswith("http"))
        assert link.startswith(f"http://127.0.0.1:{port}/#/experiments/")
        assert link.endswith("/runs?workflowType=machine_learning")
        for attempt in range(2):  # on a busy machine the first load may not finish rendering
            dom = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--virtual-time-budget=15000",
                 f"--user-data-dir={tmp_path / f'chromium{attempt}'}", "--dump-dom", link],
                capture_output=True, text=True, timeout=120,
            ).stdout
            if "sweep model.hidden" in dom:
                break
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=60)
    finally:
        stop(ui)  # whatever is left of it, if the test failed before
    assert "sweep model.hidden" in dom  # the parent run's name, rendered by the UI
    assert ui.returncode == 143
    said = log.read_text()  # its output and its server's, as a terminal shows them
    assert "Traceback" not in said and "Warning" not in said, said
    assert alive(tree) == []


def test_mlflow_variables_work_and_are_not_echoed(
        members: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    """The variables reach the tracking writer, a process of its own, and the server accepts
    them; the run's console and files show the password nowhere."""
    out = _nnx_in_process(tmp_path, monkeypatch, capfd, f"tracking.uri={members['base']}", SOLO,
                          writer="process", MLFLOW_TRACKING_USERNAME="alice",
                          MLFLOW_TRACKING_PASSWORD=SECRET)
    assert out.code == 0, out.err
    assert "results" in out.out and SECRET not in out.text
    assert files_containing(tmp_path, SECRET) == []


def _one_line_before_training(out: Outcome, tmp_path: Path) -> str:
    assert out.code == 2, out.err
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnx: error: "), out.err
    assert "Traceback" not in out.err and "training for" not in out.out
    assert not list(tmp_path.rglob("nnx_run.yaml")) and not list(tmp_path.rglob("*.ckpt"))
    return lines[0]


def test_no_credentials_fail_in_one_line_before_training(
        members: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    out = _nnx_in_process(tmp_path, monkeypatch, capfd, f"tracking.uri={members['base']}",
                          "tracking.experiment=team")
    line = _one_line_before_training(out, tmp_path)
    assert "refused no credentials (401)" in line
    assert "MLFLOW_TRACKING_USERNAME" in line and "MLFLOW_TRACKING_PASSWORD" in line


def test_a_wrong_password_fails_in_one_line_and_is_not_echoed(
        members: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    wrong = f"Wrong-{secrets.token_hex(8)}"
    out = _nnx_in_process(tmp_path, monkeypatch, capfd, "-m",
                          f"tracking.uri=http://alice:{wrong}@{members['host']}",
                          "tracking.experiment=team", "model.hidden=[4],[8]")
    line = _one_line_before_training(out, tmp_path)
    assert f"tracking.uri=http://alice:***@{members['host']} refused the password of user 'alice'" in line
    assert "MLFLOW_TRACKING_USERNAME" in line and "MLFLOW_TRACKING_PASSWORD" in line
    assert wrong not in out.text and files_containing(tmp_path, wrong) == []


def test_a_reader_cannot_write_to_the_experiment(
        team: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    client = _admin(team)
    experiment_id = client.get_experiment_by_name("team").experiment_id
    password = f"bob-{secrets.token_hex(8)}"
    team["users"].update_user_password("bob", password)
    team["users"].grant_user_permission("bob", "experiment", experiment_id, "READ")
    before = len(client.search_runs([experiment_id]))
    out = _nnx_in_process(tmp_path, monkeypatch, capfd, "-m", f"tracking.uri={team['base']}",
                          "tracking.experiment=team", "model.hidden=[4],[8]",
                          MLFLOW_TRACKING_USERNAME="bob", MLFLOW_TRACKING_PASSWORD=password)
    line = _one_line_before_training(out, tmp_path)
    assert "User 'bob' may not write to experiment 'team'" in line and "403" in line
    assert len(client.search_runs([experiment_id])) == before


def test_a_dead_workers_run_is_failed_with_the_sweeps_credentials(
        members: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's own record holds the store masked (`alice:***`); the search's driver marks
    the run of a worker killed with kill -9 FAILED through the sweep's URI."""
    import optuna

    from nnx.sweeps.workers import fail_stale
    from nnx.training.resume import write_record

    alice = _as("alice", SECRET, members["base"])
    run_id = alice.create_run(alice.create_experiment("alice-stale")).info.run_id
    masked = f"http://alice:***@{members['host']}"
    write_record(tmp_path, run_id, {"tracking": {"backend": "mlflow", "uri": masked}})
    study = optuna.create_study()
    trial = study.ask()
    trial.set_user_attr("nnx.job_dir", str(tmp_path))
    trial.set_user_attr("nnx.pid", 4242)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")  # only the URI carries the credentials
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    assert fail_stale(study, 4242, "worker 4242 died", members["uri"]) == [trial.number]
    run = _as("alice", SECRET, members["base"]).get_run(run_id)
    assert run.info.status == "FAILED" and "died" in run.data.tags["nnx.error"]


def test_a_member_registers_a_model_and_predicts_with_the_champion(
        members: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    """tracking.register on the basic-auth server (credentials in the URI), then nnx-predict
    models:/NAME@champion from the same server (MLflow's variables unset: the URI's credentials
    only); the password is echoed nowhere."""
    import numpy as np

    from nnx.cli.predict import main as predict

    uri = members["uri"]
    out = _nnx_in_process(tmp_path, monkeypatch, capfd, f"tracking.uri={uri}", SOLO,
                          "tracking.register=xor")
    assert out.code == 0, out.text
    assert "registry registered xor version 1" in out.out and "@champion -> version 1" in out.out
    np.save(tmp_path / "gates.npy", np.array([[0.0, 1.0], [1.0, 1.0]]))
    predict(["models:/xor@champion", "--input", str(tmp_path / "gates.npy"), "--tracking-uri", uri])
    predicted = capfd.readouterr()
    assert predicted.out.splitlines()[0].startswith("prediction,probability") and len(
        predicted.out.splitlines()) == 3, predicted.err
    assert SECRET not in out.text + predicted.out + predicted.err
    champion = _as("alice", SECRET, members["base"]).get_model_version_by_alias("xor", "champion")
    assert str(champion.version) == "1"
