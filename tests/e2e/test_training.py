"""Real trainings in process: what the tutorials promise, measured on held-out data."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnx.training.pipeline import run

pytestmark = pytest.mark.slow

GATE_RUN = ("optimizer=sgd", "optimizer.lr=0.5", "optimizer.momentum=0.9", "trainer.max_epochs=150")


@pytest.mark.parametrize("activation", ["sigmoid", "step"])
@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_learns_linearly_separable_gates(make_cfg, gate: str, activation: str) -> None:
    cfg = make_cfg(
        "model=perceptron", f"model.activation={activation}", f"data=logic_{gate}", *GATE_RUN, tracking=False
    )
    metrics, _ = run(cfg)
    assert metrics["test/acc"] == 1.0


def test_perceptron_cannot_learn_xor(make_cfg) -> None:
    metrics, _ = run(make_cfg("model=perceptron", "data=logic_xor", *GATE_RUN, tracking=False))
    assert metrics["test/acc"] <= 0.75  # no line separates XOR: at most 3 of 4 rows


def test_mlp_solves_xor(make_cfg) -> None:
    metrics, _ = run(make_cfg("experiment=xor_mlp", tracking=False))
    assert metrics["test/acc"] == 1.0


def test_default_run_on_digits(make_cfg) -> None:
    metrics, objects = run(make_cfg(tracking=False))
    assert metrics["test/acc"] >= 0.95
    assert len(objects["history"]) == 20


def test_mlp_on_breast_cancer(make_cfg) -> None:
    metrics, _ = run(make_cfg("data=breast_cancer", tracking=False))
    assert metrics["test/acc"] >= 0.95


def test_options_from_the_readme_train(make_cfg) -> None:
    cfg = make_cfg(
        "model.hidden=[64,32]",
        "model.activation=tanh",
        "optimizer=sgd",
        "optimizer.lr=0.01",
        "optimizer.momentum=0.9",
        "scheduler=cosine",
        "trainer.max_epochs=5",
        "callbacks=[early_stopping,checkpoint]",
        tracking=False,
    )
    metrics, objects = run(cfg)
    assert metrics["test/acc"] > 0.8
    assert [type(m).__name__ for m in objects["model"]][1:5] == ["Linear", "Tanh", "Linear", "Tanh"]
    assert metrics["train/lr"] < 0.01  # cosine decay applied per epoch
    assert (Path(objects["trainer"].checkpoint_callback.dirpath) / "last.ckpt").exists()
    assert 1 <= metrics["best_epoch"] <= 5
