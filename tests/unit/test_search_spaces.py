"""The shipped Optuna search spaces: each swept key exists and every choice validates."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Transformer

from nnx.config import validate


def _compose(*overrides: str, hydra: bool = False):
    with initialize_config_module("nnx_conf", version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=hydra)


@pytest.mark.parametrize(("search", "model"), [("mlp_optuna", "mlp"), ("cnn_optuna", "cnn")])
def test_search_space_is_a_multirun_whose_every_value_validates(search: str, model: str) -> None:
    cfg = _compose(f"hparams_search={search}", hydra=True)
    sweeper = cfg.hydra.sweeper
    assert cfg.hydra.mode.name == "MULTIRUN" and sweeper.storage is None
    assert sweeper.direction == "minimize" and cfg.optimized_metric == "val/loss"
    assert cfg.model.name == model and len(sweeper.params) >= 4
    parser = OverridesParser.create()
    for key, space in sweeper.params.items():
        override = parser.parse_override(f"{key}={space}")
        if override.is_choice_sweep():
            values = list(override.sweep_iterator(transformer=Transformer.encode))
        else:  # an interval: its two ends
            values = [override.value().start, override.value().end]
        for value in values:
            validate(_compose(f"hparams_search={search}", f"{key}={value}", "output_dir=."))
