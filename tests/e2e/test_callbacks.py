"""Callbacks as plugins, best means best, last.ckpt, and Lightning's callback contract (in process)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from mlflow import MlflowClient

from nnx import registry
from nnx.models.outputs import predict
from nnx.models.predictor import Predictor
from nnx.training.pipeline import run
from tests.cli_inprocess import run_cli

pytestmark = pytest.mark.e2e

#: iris: 104 training rows, so batches of 16 make 7 optimizer steps an epoch.
IRIS = ("data=iris", "data.batch_size=16")
PATIENCE = 2


class Counter(pl.Callback):
    """Counts the per-step and per-batch hooks Lightning documents."""

    def __init__(self) -> None:
        self.steps = self.batches = self.eval_batches = 0
        self.batch_types: set[str] = set()

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.steps += 1

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.batches += 1
        self.batch_types.add(type(batch).__name__)


class EpochsOnly(pl.Callback):
    def __init__(self) -> None:
        self.epochs = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs += 1


def _ckpt_model_state(path: str) -> dict[str, torch.Tensor]:
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    return {k.removeprefix("model."): v for k, v in state.items()}


def test_early_stopping_and_a_best_checkpoint_test_and_keep_the_best_epoch(
    make_cfg, capsys, mlflow_uri
) -> None:
    cfg = make_cfg(*IRIS, "trainer.max_epochs=40", "callbacks=[early_stopping,checkpoint]",
                   f"callbacks.early_stopping.patience={PATIENCE}",
                   "callbacks.early_stopping.monitor=val/acc", "callbacks.checkpoint.monitor=val/acc")
    metrics, objects = run(cfg)
    trainer, history = objects["trainer"], objects["history"]
    accs = [row["val/acc"] for row in history]
    best = accs.index(max(accs)) + 1  # 1-based; the first epoch with the best value
    # max mode without a mode given: stopped `patience` epochs after the best epoch
    assert len(history) == best + PATIENCE < 40
    assert metrics["best_epoch"] == best and metrics["val/acc"] == max(accs)
    out = capsys.readouterr().out
    assert (f"early stop: after epoch {best + PATIENCE}/40, val/acc did not improve for {PATIENCE} epochs; "
            f"best epoch {best} (val/acc {max(accs):.4g})") in out

    keeper = trainer.checkpoint_callback
    assert Path(keeper.best_model_path).name == f"best-epoch={best}.ckpt"
    best_state = _ckpt_model_state(keeper.best_model_path)
    last_state = _ckpt_model_state(str(Path(keeper.dirpath) / "last.ckpt"))
    assert any(not torch.equal(best_state[k], last_state[k]) for k in best_state)  # they differ
    # the test metrics are the best checkpoint's
    model = objects["model"]
    model.load_state_dict(best_state)
    model.eval()
    x, y = objects["splits"].test
    with torch.no_grad():
        acc = (predict(model(x), objects["splits"].spec) == y).float().mean().item()
    assert metrics["test/acc"] == pytest.approx(acc, abs=1e-6)
    # ... and so is the predictor nnx-predict loads
    predictor = Predictor.load(Path(cfg.output_dir) / "predictor")
    saved = predictor.model.state_dict()
    assert all(torch.equal(saved[k].cpu(), best_state[k]) for k in best_state)
    # the run records which epoch it tested
    run_id = objects["tracker"].run_id
    logged = MlflowClient(mlflow_uri).get_run(run_id).data
    assert logged.tags["nnx.weights"] == "best" and logged.metrics["best_epoch"] == best


def test_eval_weights_last_tests_the_last_epoch(make_cfg) -> None:
    cfg = make_cfg(*IRIS, "trainer.max_epochs=6", "callbacks=[checkpoint]",
                   "callbacks.checkpoint.monitor=val/acc", "eval.weights=last", tracking=False)
    metrics, objects = run(cfg)
    assert "best_epoch" not in metrics and objects["phases"][-1].best is None
    assert metrics["val/acc"] == objects["history"][-1]["val/acc"]


def test_early_stopping_alone_leaves_last_ckpt_that_resume_continues(
    make_cfg, monkeypatch, capsys, tmp_path
) -> None:
    cfg = make_cfg(*IRIS, "trainer.max_epochs=40", "callbacks=[early_stopping]",
                   f"callbacks.early_stopping.patience={PATIENCE}",
                   "callbacks.early_stopping.monitor=val/acc", tracking=False)
    _, objects = run(cfg)
    stopped = len(objects["history"])
    assert stopped < 40
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == stopped - 1  # the epoch it stopped at
    capsys.readouterr()
    outcome = run_cli([f"resume={tmp_path}", f"trainer.max_epochs={stopped + 2}", "trainer.progress=true",
                       "+callbacks.early_stopping.patience=100"], monkeypatch, capsys, tmp_path)
    assert outcome.code == 0, outcome.text
    assert f"epoch {stopped + 1}/{stopped + 2}" in outcome.out and f"epoch {stopped + 2}/" in outcome.out
    assert "early stop" not in outcome.out
    again = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert again["epoch"] == stopped + 1


def test_a_callback_with_per_step_hooks_sees_every_step_and_batch(make_cfg) -> None:
    counter = Counter()
    epochs = 2
    cfg = make_cfg(*IRIS, f"trainer.max_epochs={epochs}", tracking=False)
    metrics, objects = run(cfg, callbacks=[counter])
    steps = epochs * math.ceil(len(objects["splits"].train[1]) / 16)
    assert counter.steps == counter.batches == objects["trainer"].global_step == steps
    assert counter.batch_types == {"tuple"}  # (x, y), as Lightning documents, not a fused chunk
    assert metrics["test/acc"] > 0.5


def test_callbacks_without_per_step_hooks_keep_the_fused_fast_path(make_cfg) -> None:
    only = EpochsOnly()
    _, objects = run(make_cfg(*IRIS, "trainer.max_epochs=2", "callbacks=[early_stopping,checkpoint,timer]",
                              tracking=False), callbacks=[only])
    assert only.epochs == 2 and objects["task"]._direct
    assert objects["trainer"].global_step == 2 * math.ceil(len(objects["splits"].train[1]) / 16)


@dataclass
class _CounterConfig:
    every: int = 1


def test_a_registered_callback_plugin_is_selected_by_its_key(make_cfg, monkeypatch) -> None:
    monkeypatch.setattr(registry, "_registered", {k: dict(v) for k, v in registry._registered.items()})
    built: list[Counter] = []

    @registry.register_callback(_CounterConfig)
    def counter(cfg: _CounterConfig, ctx) -> Counter:
        """Counts optimizer steps and batches."""
        built.append(Counter())
        return built[-1]

    _, objects = run(make_cfg(*IRIS, "trainer.max_epochs=1", "+callbacks.counter.every=2", tracking=False))
    assert len(built) == 1 and built[0].steps == built[0].batches == objects["trainer"].global_step == 7


def test_built_in_callbacks_train_and_log(make_cfg) -> None:
    cfg = make_cfg(*IRIS, "trainer.max_epochs=3", "callbacks=[grad_norm,lr_monitor,swa,timer]",
                   "callbacks.lr_monitor.log_momentum=true", tracking=False)
    metrics, objects = run(cfg)
    rows = objects["history"]
    assert all(row["train/grad_norm"] > 0 and row["train/lr_pg0"] > 0 for row in rows)
    assert rows[0]["train/momentum_pg0"] == pytest.approx(0.9)  # Adam's beta1
    assert metrics["test/acc"] > 0.3


def test_a_time_budget_stops_and_says_so(make_cfg, capsys) -> None:
    run(make_cfg(*IRIS, "trainer.max_epochs=50", "callbacks=[timer]", "callbacks.timer.minutes=1e-6",
                 tracking=False))
    out = capsys.readouterr().out
    assert "early stop: after epoch 1/50, its wall-clock budget of 1e-06 minutes (timer) ran out" in out
