"""The search's spec, spaces and storage, without training: what a worker is given."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_module
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nnx.errors import ConfigValueError, UnknownNameError
from nnx.sweeps.spaces import grid_of, parse_space
from nnx.sweeps.study import search_spec


def _config(*overrides: str):
    with initialize_config_module("nnx_conf", version_base="1.3"):
        return compose("train", overrides=["hparams_search=mlp_optuna", *overrides],
                       return_hydra_config=True)


def test_override_syntax_becomes_optuna_distributions() -> None:
    space, fixed = parse_space({
        "lr": "tag(log, interval(0.0001, 0.1))", "p": "interval(0.0, 0.5)", "n": "int(interval(1, 4))",
        "w": "choice([32], [64,64])", "k": "range(1, 7, 2)", "seed": "3",
    })
    assert space["lr"] == FloatDistribution(0.0001, 0.1, log=True)
    assert space["p"] == FloatDistribution(0.0, 0.5)
    assert space["n"] == IntDistribution(1, 4)
    assert space["w"] == CategoricalDistribution(["[32]", "[64,64]"])
    assert space["k"] == IntDistribution(1, 5, step=2)  # Hydra's range excludes its stop
    assert fixed == ["seed=3"]
    assert grid_of({"k": space["k"], "w": space["w"]}) == {"k": [1, 3, 5], "w": ["[32]", "[64,64]"]}
    with pytest.raises(ConfigValueError, match="with the grid sampler"):
        grid_of({"lr": space["lr"]})


@pytest.mark.parametrize(("space", "expected"), [
    ("interval(2, 1)", "low < high"),
    ("tag(log, interval(0.0, 1.0))", "a log interval with low > 0"),
    ("interval(1)", "choice(a, b, ...)"),
])
def test_a_malformed_space_names_its_key(space: str, expected: str) -> None:
    with pytest.raises(ConfigValueError, match=r"hydra\.sweeper\.params\.lr") as error:
        parse_space({"lr": space})
    assert expected in str(error.value)


def test_the_shipped_search_reads_as_a_seeded_tpe_study_without_pruning(tmp_path) -> None:
    spec = search_spec(_config(f"tracking.uri=sqlite:///{tmp_path}/m.db"))
    assert (spec.study_name, spec.sampler["name"], spec.sampler["seed"]) == ("mlp", "tpe", 1234)
    assert spec.pruner == {"name": "none"} and spec.directions == ["minimize"]
    assert spec.metrics == ["val/loss"] and spec.storage == f"{tmp_path}/optuna.journal"
    assert spec.torch_threads >= 1 and set(spec.space) >= {"optimizer.lr", "model.hidden"}


def test_grid_caps_n_trials_at_the_grid_size() -> None:
    spec = search_spec(_config("hydra/sweeper/sampler=grid", "~hydra.sweeper.params"),
                       ["model.activation=choice(relu,tanh)", "data.batch_size=choice(32,64,128)"])
    assert spec.n_trials == 6


@pytest.mark.parametrize(("overrides", "error", "match"), [
    (["hydra/sweeper/pruner=median", "hydra.sweeper.direction=[minimize,maximize]",
      "hydra.sweeper.metrics=[val/loss,val/acc]"], ConfigValueError, "single-objective"),
    (["hydra.sweeper.metrics=[val/loss,val/acc]"], ConfigValueError, "one direction per metric"),
    (["hydra.sweeper.direction=up"], ConfigValueError, "minimize or maximize"),
    (["hydra/sweeper/pruner=percentile", "hydra.sweeper.pruner.percentile=150"], ConfigValueError,
     "PercentilePruner"),
    (["hydra.sweeper.sampler.name=bogus"], UnknownNameError, "Unknown hydra/sweeper/sampler 'bogus'"),
])
def test_bad_search_configs_fail_before_any_trial(overrides, error, match) -> None:
    with pytest.raises(error, match=match):
        search_spec(_config(*overrides))


def test_storage_urls_lose_their_password_in_what_is_recorded() -> None:
    spec = search_spec(_config("hydra.sweeper.storage='postgresql://me:secret@db:5432/optuna'"))
    assert spec.tags()["optuna.storage"] == "postgresql://me:***@db:5432/optuna"


def test_hydra_discovers_nnx_launcher_and_sweeper_in_its_namespace_package() -> None:
    """No registration by hand: Hydra scans ``hydra_plugins`` and finds both."""
    from hydra.core.plugins import Plugins
    from hydra.plugins.launcher import Launcher
    from hydra.plugins.sweeper import Sweeper

    sweepers = {f"{p.__module__}.{p.__name__}" for p in Plugins.instance().discover(Sweeper)}
    launchers = {f"{p.__module__}.{p.__name__}" for p in Plugins.instance().discover(Launcher)}
    assert "hydra_plugins.nnx_search.NnxOptunaSweeper" in sweepers
    assert "hydra_plugins.nnx_launcher.ResilientJoblibLauncher" in launchers
