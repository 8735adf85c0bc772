"""The tutorial experiments compose and validate; the multirun result table."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from nnx.config import validate
from nnx.sweeps.results import format_table

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_validates_and_names_its_command(make_cfg, name: str) -> None:
    path = Path(__file__).parents[2] / "conf" / "experiment" / f"{name}.yaml"
    lines = path.read_text().splitlines()
    assert lines[0] == "# @package _global_"
    assert f"nnx experiment={name}" in " ".join(itertools.takewhile(lambda x: x[:1] == "#", lines))
    recipe = validate(make_cfg(f"experiment={name}", tracking=False))
    assert recipe.trainer.max_epochs >= 1


@pytest.mark.parametrize(("name", "model", "optimizer", "epochs", "batch"), [
    ("seed_cnn", "cnn", "sgd", 10, 32),
    ("dense_mnist", "mlp", "rmsprop", 8, 64),
])
def test_tutorial_experiments_carry_the_tutorial_settings(
    make_cfg, name: str, model: str, optimizer: str, epochs: int, batch: int
) -> None:
    recipe = validate(make_cfg(f"experiment={name}", tracking=False))
    assert (recipe.model.plugin.name, recipe.optimizer.plugin.name) == (model, optimizer)
    assert (recipe.trainer.max_epochs, recipe.data.config.batch_size) == (epochs, batch)


def test_result_table_shows_what_differs_and_the_verdict() -> None:
    records = [
        {"overrides": ["data=logic_and", "tracking=none"], "metric": "test/acc", "value": 1.0, "num": 0},
        {"overrides": ["data=logic_xor", "tracking=none"], "metric": "test/acc", "value": 0.75, "num": 1},
        {"overrides": ["data=logic_or", "tracking=none"], "metric": "test/acc", "value": None, "num": 2},
    ]
    lines = format_table(records, "learned", 1.0).splitlines()
    assert lines[0].split() == ["job", "test/acc", "learned"]
    assert [line.split() for line in lines[2:]] == [
        ["data=logic_and", "1.0000", "yes"], ["data=logic_xor", "0.7500", "no"],
        ["data=logic_or", "failed", "no"],
    ]
