"""The registry as a contract: entry points, config files and lookups agree."""

from __future__ import annotations

import re
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from nnx import registry
from nnx.errors import PluginError, UnknownNameError
from nnx.registry import KINDS, get_plugin, list_plugins, register_model

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class _Empty:
    pass


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations made by a test vanish after it."""
    monkeypatch.setattr(registry, "_registered", {kind: dict(v) for kind, v in registry._registered.items()})


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_builtin_loads_with_its_own_name(kind: str) -> None:
    for name in list_plugins(kind):
        plugin = get_plugin(kind, name)
        assert (plugin.kind, plugin.name) == (kind, name)
        assert plugin.doc, f"{kind} plugin {name} needs a one-line docstring"


@pytest.mark.parametrize("kind", list(KINDS))
def test_entry_points_name_the_builders_that_register_them(kind: str) -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    declared = groups.get(KINDS[kind], {})
    for name, target in declared.items():
        builder = get_plugin(kind, name).builder
        assert f"{builder.__module__}:{builder.__name__}" == target


def test_installed_config_package_is_the_conf_folder() -> None:
    assert (resources.files("nnx_conf") / "train.yaml").is_file()


def test_unknown_name_lists_choices_and_suggests() -> None:
    with pytest.raises(
        UnknownNameError, match=re.escape("Unknown model plugin 'mpl'. Did you mean 'mlp'?")
    ) as info:
        get_plugin("model", "mpl")
    assert "perceptron" in str(info.value)


def test_unknown_kind() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'model'"):
        list_plugins("modle")


def test_names_are_normalised() -> None:
    assert get_plugin("model", "MLP") is get_plugin("model", "mlp")
    assert registry.normalize_name(" Logic-XOR ") == "logic_xor"


def test_programmatic_registration_and_natural_sort(clean_registry: None) -> None:
    for name in ("net10", "net2"):
        register_model(_Empty, name=name)(lambda cfg, spec: None)
    assert list_plugins("model", include="net*") == ["net2", "net10"]
    assert "net2" not in list_plugins("model", exclude=["net*"])


def test_duplicate_name_names_both_sources(clean_registry: None) -> None:
    def mlp(cfg, spec):  # same name as the built-in entry point, different source
        return None

    with pytest.raises(
        PluginError, match=r"registered twice: by nnx_plugins\.mlp:mlp and by .*test_registry"
    ):
        register_model(_Empty)(mlp)


def test_config_must_be_a_dataclass() -> None:
    with pytest.raises(TypeError, match="must be a dataclass"):
        register_model(dict)


def test_broken_plugin_fails_only_when_selected(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint(name="broken", value="no_such_module_xyz:thing", group="nnx.models")
    found = {**registry._entry_points("model"), "broken": broken}
    monkeypatch.setattr(registry, "_entry_points", lambda kind: found if kind == "model" else {})
    with pytest.raises(PluginError, match="'broken' .* failed to import: ModuleNotFoundError"):
        get_plugin("model", "broken")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = registry.load_all("model")
    assert "mlp" in [p.name for p in loaded]
    assert len(caught) == 1 and "broken" in str(caught[0].message)
