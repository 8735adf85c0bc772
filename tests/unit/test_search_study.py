"""The search's spec, spaces and storage, without training: what a worker is given."""

from __future__ import annotations

import re

import pytest
from hydra import compose, initialize_config_module
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nnx.errors import ConfigValueError, NnxError, UnknownNameError
from nnx.sweeps.plan import SweepStopped, _validated, plan
from nnx.sweeps.spaces import grid_of, parse_space
from nnx.sweeps.study import open_study, search_spec


def _config(*overrides: str, search: str | None = "hparams_search=mlp_optuna"):
    with initialize_config_module("nnx_conf", version_base="1.3"):
        return compose("train", overrides=[*([search] if search else []), *overrides],
                       return_hydra_config=True)


def _plan(*overrides: str, task: list[str], search: str | None = None):
    """`plan` of a multirun whose command line's overrides (sweeps included) are ``task``."""
    with initialize_config_module("nnx_conf", version_base="1.3"):
        config = compose("train", overrides=[*([search] if search else []), *overrides],
                         return_hydra_config=True)
        config.hydra.overrides.task = task
        return plan(config)


def _spec(*overrides: str, arguments: list[str] | None = None):
    config = _config(*overrides)
    return search_spec(config, arguments or [], _validated(config))


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
    spec = _spec(f"tracking.uri=sqlite:///{tmp_path}/m.db")
    assert spec.study_name == "mlp_optuna-mlp-digits"  # the search, the model, the data
    assert (spec.sampler["name"], spec.sampler["seed"]) == ("tpe", 1234)
    assert spec.pruner == {"name": "none"} and spec.directions == ["minimize"]
    assert spec.metrics == ["val/loss"] and spec.storage == f"{tmp_path}/optuna.journal"
    assert spec.torch_threads >= 1 and set(spec.space) >= {"optimizer.lr", "model.hidden"}


def test_grid_caps_n_trials_at_the_grid_size() -> None:
    spec = _spec("hydra/sweeper/sampler=grid", "~hydra.sweeper.params",
                 arguments=["model.activation=choice(relu,tanh)", "data.batch_size=choice(32,64,128)"])
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
        _spec(*overrides)


def test_storage_urls_lose_their_password_in_what_is_recorded() -> None:
    spec = _spec("hydra.sweeper.storage='postgresql://me:secret@db:5432/optuna'")
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


def test_a_bad_grid_value_stops_the_sweep_before_any_trial_naming_its_point() -> None:
    with pytest.raises(SweepStopped) as stopped:
        _plan("tracking=none", task=["optimizer.lr=0.01,-1"])
    assert stopped.value.where == "trial #1 (optimizer.lr=-1)"
    assert isinstance(stopped.value.error, ConfigValueError) and stopped.value.error.key == "optimizer.lr"


def test_a_good_grid_is_planned_point_by_point_from_its_validated_recipe() -> None:
    checked = _plan("tracking=none", "optimized_metric=val/acc",
                    task=["optimizer.lr=0.01,0.02", "model.hidden=[8],[16]"])
    assert checked.recipe.run.optimized_metric == "val/acc" and checked.spec is None
    assert checked.swept == ["optimizer.lr", "model.hidden"] and len(checked.points) == 4


def test_every_bound_of_a_search_space_is_validated_before_the_first_trial() -> None:
    with pytest.raises(SweepStopped) as stopped:
        _plan("tracking=none", task=["optimizer.lr=interval(-1.0, 0.1)"], search="hparams_search=mlp_optuna")
    assert stopped.value.where.startswith("the search space at ")
    assert "optimizer.lr=-1.0" in stopped.value.where
    assert stopped.value.error.key == "optimizer.lr"


def test_the_default_study_is_the_search_of_one_model_on_one_data_set(tmp_path) -> None:
    store = f"hydra.sweeper.storage={tmp_path}/optuna.journal"
    digits, iris = _spec(store), _spec(store, "data=iris")
    assert (digits.study_name, iris.study_name) == ("mlp_optuna-mlp-digits", "mlp_optuna-mlp-iris")
    open_study(digits)
    open_study(digits)  # the same search continues its study
    narrower = ["optimizer.lr=interval(0.001, 0.01)"]
    changed = _spec(store, arguments=narrower)
    with pytest.raises(NnxError, match=r"searched another space or objective \(changed: optimizer\.lr\)"):
        open_study(changed)
    metric = _spec(store, "optimized_metric=val/acc", "hydra.sweeper.direction=maximize")
    with pytest.raises(NnxError, match=r"changed: metrics, directions\)"):
        open_study(metric)
    named = _spec(store, "hydra.sweeper.study_name=mlp_optuna-mlp-digits", arguments=narrower)
    assert open_study(named).study_name == "mlp_optuna-mlp-digits"  # named: continued as asked


def test_a_named_study_refuses_a_parameter_optuna_cannot_continue(tmp_path) -> None:
    store = f"hydra.sweeper.storage={tmp_path}/optuna.journal"
    study = open_study(_spec(store))
    study.tell(study.ask(_spec(store).space), 1.0)  # the study now knows optimizer.lr as log-scaled
    linear = _spec(store, "hydra.sweeper.study_name=mlp_optuna-mlp-digits",
                   arguments=["optimizer.lr=interval(0.001, 0.01)"])
    with pytest.raises(NnxError, match="searched optimizer.lr as FloatDistribution.*Start a new study"):
        open_study(linear)


def test_a_search_maximises_a_metric_that_goes_up_unless_told() -> None:
    assert _spec("hydra.sweeper.direction=null", "optimized_metric=val/f1").directions == ["maximize"]
    assert _spec("hydra.sweeper.direction=null").directions == ["minimize"]  # val/loss
    both = _spec("hydra.sweeper.direction=null", "hydra.sweeper.metrics=[val/loss,val/auroc]")
    assert both.directions == ["minimize", "maximize"]
    with pytest.raises(ConfigValueError, match=re.escape(
            "Bad value for 'hydra.sweeper.direction': 'minimize'; expected maximize for val/f1")):
        _spec("optimized_metric=val/f1")  # mlp_optuna says minimize
