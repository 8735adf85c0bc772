"""A sweep against a real `mlflow server` (the session's, with a login), compared with
`nnx-compare`, shown by `nnx-ui` in headless Chromium. Both servers run on 127.0.0.1 on free
ports and are stopped afterwards."""

from __future__ import annotations

import base64
import csv
import io
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nnx.cli.compare import leaderboard
from tests.servers import BIN, clean_env, free_port, serve, stop, sweep_over_http
from tests.system_packages import require

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def sweep_on_server(team_server: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 2-trial sweep of 2-fold trials logged over HTTP to the session's `mlflow server`
    (SQLite backend, proxied artifacts) as its admin: sweep -> trials -> folds."""
    tmp = tmp_path_factory.mktemp("server")
    uri = f"http://admin:{team_server['admin']}@{team_server['host']}"
    sweep = sweep_over_http(uri, "served", tmp, "trainer.max_epochs=2", "eval.folds=2")
    return {**team_server, "uri": uri, "tmp": tmp, "sweep": sweep}


@pytest.fixture(autouse=True)
def _as_admin(team_server: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own MLflow client logs in as the server's admin."""
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", team_server["admin"])


def test_a_sweep_over_http_nests_trials_and_stores_artifacts(sweep_on_server: dict) -> None:
    assert sweep_on_server["sweep"].returncode == 0, sweep_on_server["sweep"].stderr
    client = MlflowClient(sweep_on_server["base"])
    experiment = client.get_experiment_by_name("served")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("nnx.sweep") == "parent"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"

    def children_of(run) -> list:
        return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == run.info.run_id]

    trials = children_of(parents[0])
    assert sorted(t.data.params["model.hidden"] for t in trials) == ["[16]", "[8]"]
    for trial in trials:  # three levels: each trial's folds are its children
        folds = children_of(trial)
        assert sorted(f.data.tags["nnx.fold"] for f in folds) == ["1", "2"]
        mean = sum(f.data.metrics["val/loss"] for f in folds) / 2
        assert trial.data.metrics["val/loss"] == pytest.approx(mean)
    best = min(trials, key=lambda t: t.data.metrics["val/loss"])
    assert parents[0].data.metrics["val/loss"] == pytest.approx(best.data.metrics["val/loss"])
    fold = children_of(trials[0])[0].info.run_id
    assert {"config.yaml", "overrides.yaml", "model_summary.txt"} <= {
        a.path for a in client.list_artifacts(fold)}
    assert {"config.yaml", "learning_curves.png", "crossval.txt"} <= {
        a.path for a in client.list_artifacts(trials[0].info.run_id)}
    config = client.download_artifacts(trials[0].info.run_id, "config.yaml",
                                       str(sweep_on_server["tmp"]))
    assert "hidden:" in Path(config).read_text()
    login = base64.b64encode(f"admin:{sweep_on_server['admin']}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(  # the REST API, as a script sees it
        f"{sweep_on_server['base']}/api/2.0/mlflow/runs/get?run_id={parents[0].info.run_id}",
        headers={"Authorization": f"Basic {login}"},
    )) as answer:
        assert b"nnx.best_run_id" in answer.read()


def test_nnx_compare_ranks_the_sweep_without_torch(sweep_on_server: dict) -> None:
    code = (  # the credentials in the URI only
        "import sys; from nnx.cli.compare import main; "
        f"main(['--uri', '{sweep_on_server['uri']}', '--experiment', 'served', "
        "'--sweep', 'latest', '--format', 'csv']); "
        "assert 'torch' not in sys.modules and 'pytorch_lightning' not in sys.modules"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env=clean_env())
    assert out.returncode == 0, out.stderr
    assert sweep_on_server["admin"] not in out.stdout + out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["best"] for r in rows] == ["*", ""]
    assert float(rows[0]["val/loss"]) <= float(rows[1]["val/loss"])
    assert {r["model.hidden"] for r in rows} == {"[8]", "[16]"}
    client = MlflowClient(sweep_on_server["base"])
    best = client.get_run(rows[0]["run_id"])
    parent = client.get_run(best.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["nnx.best_run_id"] == rows[0]["run_id"]
    # the whole experiment: the same two trials, without the sweep parent or the folds
    everything, varying, metric, _ = leaderboard(client, "served", None, None, "auto")
    assert [r.run_id for r in everything] == [r["run_id"] for r in rows]
    assert varying == ["model.hidden"] and metric == "val/loss"


def test_nnx_ui_shows_the_sweep_in_a_browser(sweep_on_server: dict, tmp_path: Path) -> None:
    chromium = require("chromium", "chromium")  # headless, renders the UI's JavaScript
    port = free_port()
    log = tmp_path / "ui.log"
    ui = serve([str(BIN / "nnx-ui"), "--uri", f"sqlite:///{sweep_on_server['db']}",
                 "--experiment", "served", "--port", str(port)], f"http://127.0.0.1:{port}", log)
    try:
        link = next(line for line in log.read_text().splitlines() if line.startswith("http"))
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
    finally:
        stop(ui)
    assert "sweep model.hidden" in dom  # the parent run's name, rendered by the UI
