"""`nnx rerun=<run id>`: train a logged run again from its config and compare the metrics."""

from __future__ import annotations

from mlflow import MlflowClient

from nnx.training.pipeline import run
from nnx.training.rerun import RERUN_TAG, Rerun, compare
from tests.cli_inprocess import run_cli


def test_rerun_matches_and_an_override_changes_it(
    make_cfg, mlflow_uri, monkeypatch, capsys, tmp_path
) -> None:
    cfg = make_cfg("data=logic_xor", "model.hidden=[8]", "trainer.max_epochs=3", "deterministic=true")
    metrics, objects = run(cfg)
    run_id = objects["tracker"].run_id
    store = [f"tracking.uri={mlflow_uri}", f"tracking.experiment={cfg.tracking.experiment}",
             "trainer.progress=false", f"hydra.run.dir={tmp_path / 'again'}"]
    again = run_cli([f"rerun={run_id}", *store], monkeypatch, capsys, tmp_path)
    assert again.code == 0, again.text
    line = next(x for x in again.out.splitlines() if x.startswith("rerun "))
    assert line.endswith(f"metrics match run {run_id}") and "warning" not in again.out
    client = MlflowClient(mlflow_uri)
    runs = client.search_runs([client.get_experiment_by_name(cfg.tracking.experiment).experiment_id],
                              filter_string=f"tags.`{RERUN_TAG}` = '{run_id}'")
    assert len(runs) == 1 and runs[0].data.params["model.hidden"] == "[8]"

    other = run_cli([f"rerun={run_id}", *store[:-1], f"hydra.run.dir={tmp_path / 'other'}",
                     "optimizer.lr=0.5"], monkeypatch, capsys, tmp_path)
    assert other.code == 0, other.text
    assert f"metrics differ from run {run_id}: " in other.out

    refused = run_cli([f"rerun={run_id}", *store[:2], "model=cnn"], monkeypatch, capsys, tmp_path)
    assert refused.code == 2 and "only key=value overrides" in refused.err


def test_compare_warns_about_commit_and_versions() -> None:
    old = Rerun("abc", {"val/loss": 0.5, "test/acc": 0.9, "system/cpu": 3.0},
                {"mlflow.source.git.commit": "1111111111aa", "nnx.versions": "torch=0.0.1 numpy=0.1"})
    lines = compare(old, {"val/loss": 0.5, "test/acc": 0.8, "system/cpu": 9.0}, "2222222222bb")
    assert lines[0] == "warning: run abc was trained at git commit 1111111111, this one at 2222222222"
    assert lines[1].startswith("warning: package versions differ: torch 0.0.1 -> ")
    assert lines[2] == "1 of 2 metrics differ from run abc: test/acc 0.9 -> 0.8"
