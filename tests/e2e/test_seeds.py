"""`eval.seeds`: the same config trained once per seed, mean ± std, composed with folds and sweeps."""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from mlflow import MlflowClient

from nnx.training.pipeline import main
from tests.cli_inprocess import run_cli, write_inline

FAST = ["data=logic_xor", "model.hidden=[8]", "trainer.max_epochs=2", "optimizer.lr=0.05"]


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id])


def test_seeds_are_child_runs_and_the_parent_returns_their_mean(make_cfg, mlflow_uri, capsys, monkeypatch,
                                                                request) -> None:
    write_inline(monkeypatch, request)
    cfg = make_cfg(*FAST, "eval.seeds=3", "optimized_metric=val/loss")
    returned = main(cfg)
    out = capsys.readouterr().out
    assert "seeds: 3 (42, 43, 44)" in out
    assert "baseline test/baseline_acc 0.5000" in out  # xor: both classes equally frequent
    runs = _runs(mlflow_uri, cfg.tracking.experiment)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(r.info.run_name for r in children) == ["seed-42", "seed-43", "seed-44"]
    assert sorted(r.data.params["seed"] for r in children) == ["42", "43", "44"]
    losses = [r.data.metrics["val/loss"] for r in children]
    assert len(set(losses)) == 3  # each seed trains its own model
    assert returned == pytest.approx(statistics.mean(losses))
    assert parent.data.metrics["val/loss"] == pytest.approx(statistics.mean(losses))
    assert parent.data.metrics["val/loss_std"] == pytest.approx(statistics.pstdev(losses))
    assert parent.data.tags["nnx.seeds"] == "42 43 44"
    assert "seeds.txt" in {a.path for a in MlflowClient(mlflow_uri).list_artifacts(parent.info.run_id)}
    for logged in (parent, *children):  # the runs table's Dataset column: what each trained on
        inputs = logged.inputs.dataset_inputs
        assert [i.tags[0].value for i in inputs] == ["train,val,test"]  # xor: the same 4 rows
        assert {i.dataset.name for i in inputs} == {"logic_xor"}


def test_seed_list_composes_with_folds(make_cfg, capsys) -> None:
    cfg = make_cfg("data=iris", "model.hidden=[8]", "trainer.max_epochs=1", "eval.seeds=[5,7]",
                   "eval.folds=2", tracking=False)
    returned = main(cfg)
    out = capsys.readouterr().out
    assert out.count("cross-validation: 2 folds") == 2
    seeds = {m[1]: float(m[2]) for m in re.finditer(r"^  seed (\d+) .*val/loss ([\d.]+)", out, re.M)}
    assert set(seeds) == {"5", "7"}
    assert returned == pytest.approx(statistics.mean(seeds.values()), abs=1e-4)


@pytest.mark.slow
def test_sweep_trial_seed_nesting(monkeypatch, capsys, tmp_path: Path, new_store) -> None:
    uri = new_store(tmp_path / "mlflow.db")
    done = run_cli(["-m", *FAST, "trainer.progress=false", "trainer.accelerator=cpu", "eval.seeds=2",
                    f"tracking.uri={uri}", "tracking.experiment=sweep", "optimizer.lr=0.01,0.1"],
                   monkeypatch, capsys, tmp_path)
    assert done.code == 0, done.text
    runs = _runs(uri, "sweep")
    by_id = {r.info.run_id: r for r in runs}
    depth = {}
    for run in runs:
        level, parent = 0, run.data.tags.get("mlflow.parentRunId")
        while parent:
            level, parent = level + 1, by_id[parent].data.tags.get("mlflow.parentRunId")
        depth[run.info.run_id] = level
    assert sorted(depth.values()) == [0, 1, 1, 2, 2, 2, 2]  # sweep -> 2 trials -> 2 seeds each
    trials = [r for r in runs if depth[r.info.run_id] == 1]
    sweep = next(r for r in runs if depth[r.info.run_id] == 0)
    best = min(t.data.metrics["val/loss"] for t in trials)
    assert sweep.data.metrics["val/loss"] == pytest.approx(best)  # the seeds' mean goes up
