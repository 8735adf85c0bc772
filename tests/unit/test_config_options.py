"""Each plugin's Hydra option comes from its config dataclass (nnx/config/options.py): the
defaults and the help have one source, overrides and errors behave as with YAML options."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from nnx import registry
from nnx.cli.errors import explain
from nnx.config import to_dataclass, validate
from nnx.config.options import PLUGIN_GROUPS, plugin_node
from nnx.registry import KINDS, get_plugin, list_plugins, load_all, register_model

ROOT = Path(__file__).resolve().parents[2]


def _compose(*overrides: str):
    with initialize_config_module("nnx_conf", version_base="1.3"):
        return compose("train", overrides=["output_dir=.", *overrides])


def _error(*overrides: str) -> str:
    with pytest.raises(Exception) as info:  # noqa: PT011  Hydra's own error, explained below
        _compose(*overrides)
    return str(explain(info.value))


@pytest.mark.parametrize("kind", PLUGIN_GROUPS)
def test_every_declared_plugin_is_an_option_built_from_its_dataclass(kind: str) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"][KINDS[kind]]
    assert set(declared) <= set(list_plugins(kind))
    for name in declared:
        composed = OmegaConf.to_container(_compose(f"{kind}={name}")[kind])
        if kind in ("metrics", "callbacks"):  # a group that selects several: each at <group>.<name>
            composed = composed[name]
        schema = get_plugin(kind, name).config
        assert composed == plugin_node(kind, name)
        assert composed.pop("name") == name
        assert list(composed) == [f.name for f in dataclasses.fields(schema)]
        if "???" not in composed.values():
            assert to_dataclass(composed, schema, kind) == schema()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_field_of_every_plugin_has_help(kind: str) -> None:
    for plugin in load_all(kind):
        for f in dataclasses.fields(plugin.config):
            assert f.metadata.get("help"), f"{kind} {plugin.name}: field {f.name} needs metadata help"


def test_a_field_is_overridden_without_plus_and_validated() -> None:
    recipe = validate(_compose("model.hidden=[64]", "optimizer=sgd", "optimizer.momentum=0.5"))
    assert recipe.model.config.hidden == [64]
    assert (recipe.optimizer.plugin.name, recipe.optimizer.config.momentum) == ("sgd", 0.5)


def test_a_mistyped_key_names_the_dotted_key_and_the_closest_field() -> None:
    message = _error("model.hiden=[64]")
    assert message.startswith("Unknown config key 'model.hiden'")
    assert "Did you mean 'hidden'?" in message and "\n" not in message


def test_an_unknown_option_lists_the_plugins() -> None:
    message = _error("model=mpl")
    assert "Unknown model option 'mpl'. Did you mean 'mlp'?" in message
    assert "perceptron" in message


def test_an_experiment_selects_options_and_changes_their_fields() -> None:
    cfg = _compose("experiment=perceptron_gates")
    assert (cfg.model.name, cfg.model.activation, cfg.optimizer.name, cfg.optimizer.lr) == (
        "perceptron", "sigmoid", "sgd", 0.5)


@dataclass
class _TinyConfig:
    width: int = field(default=4, metadata={"help": "hidden units"})


def test_a_plugin_without_yaml_is_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registered", {k: dict(v) for k, v in registry._registered.items()})
    register_model(_TinyConfig, name="tiny_option")(lambda cfg, spec: None)
    cfg = _compose("model=tiny_option", "model.width=3")
    assert OmegaConf.to_container(cfg.model) == {"name": "tiny_option", "width": 3}
    assert re.search(r"Did you mean 'width'", _error("model=tiny_option", "model.widht=3"))


def test_help_lists_the_plugins_as_options(monkeypatch, capsys, tmp_path: Path) -> None:
    from tests.cli_inprocess import run_cli

    shown = run_cli(["--help"], monkeypatch, capsys, tmp_path)
    assert shown.code == 0
    listed = dict(line.split(": ", 1) for line in shown.out.splitlines() if ": " in line)
    for kind in PLUGIN_GROUPS:
        assert set(list_plugins(kind)) <= set(listed[kind].split(", ")), kind


def test_a_mapping_field_takes_a_dict_override_and_a_mistyped_key_still_fails() -> None:
    recipe = validate(_compose("model=modular", "model.modules={d:{name:mlp,hidden:[4]}}",
                               "model.inputs={d:all}"))
    assert recipe.model.config.modules == {"d": {"name": "mlp", "hidden": [4]}}
    assert "Unknown config key 'model.modulez'" in _error("model=modular", "model.modulez={d:1}")
