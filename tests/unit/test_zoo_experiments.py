"""The tutorial experiments compose and validate; the multirun result table."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from nnx.config import validate
from nnx.sweeps.sweep import format_table
from nnx.sweeps.trial import Outcome

EXPERIMENTS = sorted(p.stem for p in (Path(__file__).parents[2] / "conf" / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_validates_and_names_its_command(make_cfg, name: str) -> None:
    path = Path(__file__).parents[2] / "conf" / "experiment" / f"{name}.yaml"
    lines = path.read_text().splitlines()
    assert lines[0] == "# @package _global_"
    assert f"nnx experiment={name}" in " ".join(itertools.takewhile(lambda x: x[:1] == "#", lines))
    recipe = validate(make_cfg(f"experiment={name}", tracking=False))
    experiment = OmegaConf.load(path)
    for choice in experiment.defaults:  # `override /model: cnn` picks the plugin
        [(group, plugin)] = choice.items()
        assert getattr(recipe, group.split("/")[-1]).plugin.name == plugin, choice
    settings = {k: v for k, v in experiment.items() if k not in ("defaults", "hydra")}
    leaves = _leaves(OmegaConf.to_container(OmegaConf.create(settings)))
    for key, value in leaves:  # every value the experiment sets reaches the validated recipe
        assert _select(recipe.config, key) == value, key
    default = validate(make_cfg(tracking=False)).config
    assert any(_select(default, key) != value for key, value in leaves)  # it changes something


def _select(tree: dict, dotted: str) -> object:
    """The value at ``dotted`` in a nested dict; `KeyError`'s class when it is not there."""
    for part in dotted.split("."):
        if not isinstance(tree, dict) or part not in tree:
            return KeyError
        tree = tree[part]
    return tree


def _leaves(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """``(dotted key, value)`` for every non-dict value of a nested dict."""
    found = []
    for key, value in tree.items():
        if isinstance(value, dict):
            found += _leaves(value, f"{prefix}{key}.")
        else:
            found.append((f"{prefix}{key}", value))
    return found


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


def test_result_table_shows_each_trials_values_and_the_verdict() -> None:
    outcomes = [
        Outcome(0, ["data=logic_and"], "COMPLETE", "test/acc", 1.0),
        Outcome(1, ["data=logic_xor"], "COMPLETE", "test/acc", 0.75),
        Outcome(2, ["data=logic_or"], "FAIL", "test/acc", error="TrainingError: loss became nan"),
    ]
    lines = format_table(outcomes, "learned", 1.0).splitlines()
    assert lines[0].split() == ["job", "test/acc", "learned"]
    assert [line.split() for line in lines[2:]] == [
        ["data=logic_and", "1.0000", "yes"], ["data=logic_xor", "0.7500", "no"],
        ["data=logic_or", "failed", "no"],
    ]
