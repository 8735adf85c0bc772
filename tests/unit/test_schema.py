"""Config validation: typos, wrong types and bad ranges fail before anything is built."""

from __future__ import annotations

import re

import pytest

from nnx.config import TrainerConfig, to_dataclass, validate
from nnx.errors import ConfigKeyError, ConfigValueError
from nnx_plugins.mlp import MLPConfig


def test_composed_default_config_is_valid(make_cfg) -> None:
    recipe = validate(make_cfg(tracking=False))
    assert (recipe.model.plugin.name, recipe.data.plugin.name) == ("mlp", "digits")
    assert recipe.model.config == MLPConfig()
    assert recipe.scheduler is None


def test_unknown_key_suggests_the_field() -> None:
    with pytest.raises(
        ConfigKeyError, match=re.escape("'model.hiden' (not a field of MLPConfig). Did you mean 'hidden'?")
    ):
        to_dataclass({"hiden": [3]}, MLPConfig, "model")


def test_wrong_type_names_the_expected_type() -> None:
    with pytest.raises(
        ConfigValueError, match=re.escape("Bad value for 'model.hidden': 'abc'; expected list[int]")
    ):
        to_dataclass({"hidden": "abc"}, MLPConfig, "model")


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"dropout": 1.0}, "Bad value for 'model.dropout': 1.0; expected a number in [0, 1)"),
        ({"activation": "rleu"}, "Did you mean 'relu'?"),
        ({"init": "he"}, "Bad value for 'model.init': 'he'; expected one of default"),
        ({"hidden": [0]}, "Bad value for 'model.hidden': [0]; expected sizes >= 1"),
    ],
)
def test_range_and_choice_errors(node: dict, message: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(message)):
        to_dataclass(node, MLPConfig, "model")


def test_nested_errors_name_the_full_key() -> None:
    with pytest.raises(ConfigValueError, match=re.escape("'trainer.save_last_every_s': 0")):
        to_dataclass({"save_last_every_s": 0}, TrainerConfig, "trainer")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optimizer.lr=0", "Bad value for 'optimizer.lr': 0.0; expected a number > 0"),
        ("data.batch_size=0", "Bad value for 'data.batch_size': 0"),
        ("loss.label_smoothing=1.5", "Bad value for 'loss.label_smoothing': 1.5"),
        ("data.val_fraction=0.9", "val_fraction + test_fraction < 1"),
        ("eval.threshold=1.5", "'eval.threshold': 1.5; expected a probability in (0, 1), or tuned"),
        ("eval.threshold=best", "Bad value for 'eval.threshold': 'best'"),
    ],
)
def test_validate_checks_every_group(make_cfg, override: str, message: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(message)):
        validate(make_cfg(override, tracking=False))
