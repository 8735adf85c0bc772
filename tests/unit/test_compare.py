"""`nnx-compare`'s rendering and the rules that rank runs (no MLflow store needed)."""

from __future__ import annotations

import csv
import io

from omegaconf import OmegaConf

from nnx.cli.compare import Row, render
from nnx.config.identity import direction_of, is_location_key
from nnx.tracking.links import runs_link

ROWS = [
    Row("a" * 32, "#1 lr=0.1", "FINISHED", {"optimizer.lr": "0.1", "seed": "1"}, 0.25),
    Row("b" * 32, "#0 lr=0.01", "FINISHED", {"optimizer.lr": "0.01", "seed": "1"}, 0.5),
    Row("c" * 32, "#2 lr=1e30", "FAILED", {"optimizer.lr": "1e+30", "seed": "1"}, None),
]


def test_csv_has_full_ids_one_row_per_run_and_marks_only_the_best() -> None:
    rows = list(csv.DictReader(io.StringIO(render(ROWS, ["optimizer.lr"], "val/loss", "csv"))))
    assert [r["best"] for r in rows] == ["*", "", ""]
    assert rows[0]["run_id"] == "a" * 32 and rows[2]["val/loss"] == ""
    assert list(rows[0]) == ["best", "run", "run_id", "status", "optimizer.lr", "val/loss"]


def test_markdown_and_table_show_short_ids_and_the_varying_params_only() -> None:
    markdown = render(ROWS, ["optimizer.lr"], "val/acc", "markdown").splitlines()
    assert markdown[0] == "| best | run | run_id | status | optimizer.lr | val/acc |"
    assert markdown[1] == "| --- | --- | --- | --- | --- | --- |"
    assert markdown[2] == "| * | #1 lr=0.1 | aaaaaaaa | FINISHED | 0.1 | 0.25 |"
    table = render(ROWS, ["optimizer.lr"], "val/loss", "table").splitlines()
    assert table[1].split() == ["*", "#1", "lr=0.1", "aaaaaaaa", "FINISHED", "0.1", "0.25"]
    assert "seed" not in table[0]


def test_no_best_mark_when_no_run_has_the_metric() -> None:
    table = render(ROWS[2:], [], "val/loss", "table").splitlines()
    assert not table[1].startswith("*")


def test_direction_comes_from_the_sweeper_or_the_metric_name() -> None:
    assert direction_of(None, "val/loss") == "minimize"
    assert direction_of(None, "test/mse") == "minimize"
    assert direction_of(None, "val/acc") == "maximize"
    optuna = OmegaConf.create({"direction": "maximize"})
    assert direction_of(optuna, "val/loss") == "maximize"
    assert direction_of(OmegaConf.create({"direction": ["minimize", "maximize"]}),
                        "val/acc") == "minimize"
    assert direction_of(OmegaConf.create({"max_batch_size": None}), "val/acc") == "maximize"


def test_location_keys_are_not_compared_and_the_ui_link_opens_the_runs_table() -> None:
    assert is_location_key("output_dir") and is_location_key("tracking.uri")
    assert not is_location_key("optimizer.lr")
    assert runs_link("http://127.0.0.1:5000/", "7") == (
        "http://127.0.0.1:5000/#/experiments/7/runs?workflowType=machine_learning")


class _Client:
    """The three MLflow client calls `leaderboard` makes, over runs given as plain data."""

    def __init__(self, runs: list[tuple[str, dict[str, str], dict[str, float]]]) -> None:
        from types import SimpleNamespace as NS

        self.runs = [NS(info=NS(run_id=rid * 32, run_name=rid, status="FINISHED"),
                        data=NS(params=params, metrics=metrics, tags={})) for rid, params, metrics in runs]

    def get_experiment_by_name(self, name: str) -> object:
        from types import SimpleNamespace

        return SimpleNamespace(experiment_id="1", name=name)

    def search_runs(self, ids: list[str], *args: object, **kwargs: object) -> list:
        return self.runs


def test_an_experiment_ranks_by_the_metrics_own_direction_with_readable_columns() -> None:
    from nnx.cli.compare import leaderboard

    mlp = {"model.name": "mlp", "model.hidden": "[8]", "optimizer.lr": "0.1", "seed": "1"}
    cnn = {"model.name": "cnn", "model.channels": "[4]", "model.kernel_size": "[3]",
           "optimizer.lr": "0.01", "seed": "1"}
    client = _Client([("a", mlp, {"val/f1": 0.5, "test/f1": 0.4, "test/baseline_f1": 0.1}),
                      ("b", cnn, {"val/f1": 0.9, "test/f1": 0.8, "test/baseline_f1": 0.1})])
    rows, varying, metric, direction = leaderboard(client, "x", None, "val/f1", "auto")
    assert direction == "maximize" and [r.name for r in rows] == ["b", "a"]
    assert varying == ["model.name", "optimizer.lr"]  # not each model's own fields
    head = render(rows, varying, metric, "csv").splitlines()[0]
    assert head == "best,run,run_id,status,model.name,optimizer.lr,val/f1,test/f1,test/baseline_f1"
    _, every, _, _ = leaderboard(client, "x", None, "val/f1", "auto", all_params=True)
    assert "model.channels" in every and "model.hidden" in every
