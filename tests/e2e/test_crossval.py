"""A 5-fold cross-validation of the tutorial CNN on digits, tracked in MLflow."""

from __future__ import annotations

import pytest

from nnx.training.pipeline import main
from tests.cli_inprocess import write_inline


def _pairs(words: list[str]) -> dict[str, float]:
    return {k: float(v) for k, v in zip(words[::2], words[1::2], strict=True)}


def test_regression_folds_without_tracking_report_mae(make_cfg, capsys) -> None:
    cfg = make_cfg("data=timeseries", "data.length=600", "model=mlp", "model.hidden=[16]",
                   "eval.folds=2", "trainer.max_epochs=2", "optimized_metric=val/mae",
                   tracking=False)
    returned = main(cfg)
    out = capsys.readouterr().out
    assert "cross-validation: 2 folds" in out
    folds = [_pairs(line.split()[2:]) for line in out.splitlines() if line.lstrip().startswith("fold ")]
    maes = [fold["val/mae"] for fold in folds]
    assert len(maes) == 2 and maes[0] != maes[1]  # two models, each scored on its own fold
    mean, std = sum(maes) / 2, abs(maes[0] - maes[1]) / 2  # the population std of two values
    assert returned == pytest.approx(mean, abs=1e-4)  # what a sweep optimises: the folds' mean
    [summary] = [line.split() for line in out.splitlines() if line.lstrip().startswith("val/mae ")]
    assert summary[:3] == ["val/mae", f"{returned:.4f}", "±"], summary
    assert float(summary[3]) == pytest.approx(std, abs=2e-4)  # from the folds' rounded values


@pytest.mark.slow
def test_five_fold_cnn_on_digits_reports_mean_std_and_logs_child_runs(
    make_cfg, mlflow_uri, capsys, monkeypatch, request
) -> None:
    from mlflow import MlflowClient

    write_inline(monkeypatch, request)

    cfg = make_cfg("experiment=seed_cnn", "eval.folds=5", "trainer.max_epochs=1", "eval.report=false",
                   "optimized_metric=val/acc")
    returned = main(cfg)
    out = capsys.readouterr().out
    assert "cross-validation: 5 folds" in out
    assert sum(line.lstrip().startswith("fold ") for line in out.splitlines()) == 5
    assert "val/acc" in out and " ± " in out

    client = MlflowClient(mlflow_uri)
    experiment = client.get_experiment_by_name(cfg.tracking.experiment)
    runs = client.search_runs([experiment.experiment_id])
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 6 and len(children) == 5
    assert sorted(r.info.run_name for r in children) == [f"fold-{i}" for i in range(1, 6)]
    assert all(r.info.status == "FINISHED" for r in runs)
    fold_accs = [r.data.metrics["val/acc"] for r in children]
    mean = sum(fold_accs) / 5
    assert parent.data.metrics["val/acc"] == pytest.approx(mean)
    std = (sum((acc - mean) ** 2 for acc in fold_accs) / 5) ** 0.5  # population std
    assert parent.data.metrics["val/acc_std"] == pytest.approx(std)
    assert returned == pytest.approx(mean)  # what a sweep optimises
    assert mean >= 0.8
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"learning_curves.png", "crossval.txt", "config.yaml"} <= artifacts
