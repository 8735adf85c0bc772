"""The Optuna study of a search: its spec, storage, sampler, pruner, and what it found.

`search_spec` reads ``hydra.sweeper`` into a `SearchSpec` and checks it (directions and
metrics, search space, sampler and pruner arguments) before the sweep's parent run opens
(`nnx.sweeps.plan`), so a bad search config is one line and exit 2 before any trial.

A study is what was searched: by default it is named after the search, the model and the
data (``mlp_optuna-mlp-digits``), so another data set starts another study, and it keeps its
metrics, directions and space; running the same search again continues it, and running a
changed one under the same default name is refused (name it to continue anyway). By default the study lives
in an Optuna journal file beside the MLflow store (``outputs/optuna.journal`` next to
``outputs/mlflow.db``): with several workers writing at once it was 13x faster than an
SQLite RDB file here (``benchmarks/optuna_storage.py``), without "database is locked".
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnx.config.identity import direction_of
from nnx.config.metrics import check_direction
from nnx.config.recipe import Recipe
from nnx.config.secrets import redact_uri
from nnx.errors import ConfigValueError, NnxError, first_line
from nnx.sweeps.spaces import PRUNERS, SAMPLERS
from nnx.tracking.store import Store

__all__ = ["SearchSpec", "search_spec", "is_search", "open_study", "FINISHED_STATES"]

FINISHED_STATES = ("COMPLETE", "PRUNED")  # what counts toward n_trials
_DIRECTIONS = ("minimize", "maximize")


@dataclass
class SearchSpec:
    """Everything a worker needs to take part in the search (picklable)."""

    study_name: str
    storage: str
    directions: list[str]
    metrics: list[str]
    n_trials: int
    n_jobs: int
    max_failures: int
    sampler: dict[str, Any]
    pruner: dict[str, Any]
    space: dict[str, Any] = field(default_factory=dict)  # name -> optuna distribution
    fixed: list[str] = field(default_factory=list)
    torch_threads: int = 1
    plots: bool = True
    named: bool = False  # hydra.sweeper.study_name given: continue it whatever it searched

    def searched(self) -> dict[str, Any]:
        """What the study searches, kept with it: its objectives and its space."""
        return {"metrics": self.metrics, "directions": self.directions,
                "space": {name: repr(dist) for name, dist in sorted(self.space.items())}}

    def tags(self) -> dict[str, str]:
        """What the parent run shows about the search (the storage without credentials)."""
        return {
            "optuna.study_name": self.study_name,
            "optuna.storage": redact_uri(self.storage),
            "optuna.sampler": self.sampler["name"],
            "optuna.pruner": self.pruner["name"],
            "optuna.directions": ",".join(self.directions),
            "optuna.metrics": ",".join(self.metrics),
            "optuna.n_trials": str(self.n_trials),
            "optuna.n_jobs": str(self.n_jobs),
        }


def is_search(config: DictConfig) -> bool:
    """Whether this multirun's sweeper is nnx's Optuna sweeper."""
    return str(OmegaConf.select(config, "hydra.sweeper._target_") or "").endswith("NnxOptunaSweeper")


def _default_storage(config: DictConfig) -> str:
    uri = str(OmegaConf.select(config, "tracking.uri") or "")
    backend = OmegaConf.select(config, "tracking.backend")
    path = Store.of(uri).path if backend == "mlflow" else None
    folder = path.parent if path is not None else Path("outputs")
    return str((folder / "optuna.journal").resolve())


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    if OmegaConf.is_list(value) or isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _checked(kind: str, node: Any, schemas: dict[str, Any], default: str) -> dict[str, Any]:
    """The sampler's or pruner's arguments, typed by its schema (`nnx.sweeps.spaces`)."""
    from omegaconf.errors import OmegaConfBaseException

    from nnx.errors import UnknownNameError

    node = node or OmegaConf.create({"name": default})
    name = str(node.get("name", default))
    if name not in schemas:
        raise UnknownNameError(f"hydra/sweeper/{kind}", name, schemas,
                               fix=f"Choose with hydra/sweeper/{kind}=NAME.")
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schemas[name]), node)
    except OmegaConfBaseException as error:
        key = f"hydra.sweeper.{kind}.{error.key}" if getattr(error, "key", None) else f"hydra.sweeper.{kind}"
        raise ConfigValueError(key, getattr(error, "value", None) or name,
                               str(error).splitlines()[0].rstrip(".")) from None
    return OmegaConf.to_container(merged)


def search_spec(config: DictConfig, arguments: list[str], recipe: Recipe) -> SearchSpec:
    """The checked search of ``config.hydra.sweeper`` (``recipe``: the sweep's validated
    settings); `NnxError` for anything malformed."""
    from nnx.sweeps.spaces import grid_of, parse_space

    sweeper = config.hydra.sweeper
    metrics = _listed(sweeper.get("metrics")) or [recipe.run.optimized_metric]
    given = [d.lower() for d in _listed(sweeper.get("direction"))]
    directions = given or [direction_of(None, metric) for metric in metrics]  # the metrics' own
    for d in directions:
        if d not in _DIRECTIONS:
            raise ConfigValueError("hydra.sweeper.direction", d, "minimize or maximize")
    for d, metric in zip(given, metrics, strict=False):
        check_direction("hydra.sweeper.direction", d, metric)
    if len(directions) != len(metrics):
        raise ConfigValueError("hydra.sweeper.direction", directions,
                               f"one direction per metric ({len(metrics)}: {', '.join(metrics)})")
    sampler = _checked("sampler", sweeper.get("sampler"), SAMPLERS, "tpe")
    pruner = _checked("pruner", sweeper.get("pruner"), PRUNERS, "none")
    if pruner["name"] != "none" and len(directions) > 1:
        raise ConfigValueError("hydra.sweeper.pruner", pruner["name"],
                               "none with several objectives (Optuna prunes single-objective studies)")
    if sampler["name"] == "cmaes" and len(directions) > 1:
        raise ConfigValueError("hydra.sweeper.sampler", "cmaes", "a single-objective study")
    n_trials, n_jobs = int(sweeper.n_trials), int(sweeper.n_jobs)
    if n_trials < 1:
        raise ConfigValueError("hydra.sweeper.n_trials", n_trials, "at least 1")
    if n_jobs < 1:
        raise ConfigValueError("hydra.sweeper.n_jobs", n_jobs, "at least 1")
    params = OmegaConf.to_container(sweeper.params, resolve=False) if sweeper.get("params") else {}
    space, fixed = parse_space({k: str(v) for k, v in params.items()}, arguments or [])
    if not space:
        raise NnxError("The search has no search space: give hydra.sweeper.params, e.g. "
                       "hydra.sweeper.params.optimizer.lr='tag(log, interval(1e-4, 1e-1))'.")
    if sampler["name"] == "grid":
        grid = grid_of(space)
        n_trials = min(n_trials, math.prod(len(v) for v in grid.values()))
    choice = OmegaConf.select(config, "hydra.runtime.choices.hparams_search")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    default_name = f"{choice or 'nnx'}-{recipe.model.plugin.name}-{recipe.data.plugin.name}"
    spec = SearchSpec(
        study_name=str(sweeper.get("study_name") or default_name), named=bool(sweeper.get("study_name")),
        storage=str(sweeper.get("storage") or _default_storage(config)),
        directions=directions, metrics=metrics, n_trials=n_trials, n_jobs=n_jobs,
        max_failures=int(sweeper.get("max_failures") or n_trials),
        sampler=sampler, pruner=pruner, space=space, fixed=fixed,
        torch_threads=int(sweeper.get("torch_threads") or max(1, cores // n_jobs)),
        plots=bool(sweeper.get("plots", True)),
    )
    make_sampler(spec, 0)  # Optuna's own argument checks, before any trial
    make_pruner(spec)
    return spec


def make_sampler(spec: SearchSpec, worker: int, offset: int = 0) -> Any:
    """The sampler of one worker: seeded samplers get ``seed + worker + offset`` so that
    parallel workers and resumed studies do not propose the same trials again."""
    import optuna

    args = {k: v for k, v in spec.sampler.items() if k != "name"}
    if args.get("seed") is not None:
        args["seed"] = int(args["seed"]) + worker + offset
    kinds = {"tpe": optuna.samplers.TPESampler, "random": optuna.samplers.RandomSampler,
             "cmaes": optuna.samplers.CmaEsSampler, "gp": optuna.samplers.GPSampler,
             "qmc": optuna.samplers.QMCSampler, "grid": optuna.samplers.GridSampler}
    name = spec.sampler["name"]
    if name == "grid":
        from nnx.sweeps.spaces import grid_of

        args["search_space"] = grid_of(spec.space)
    try:
        return kinds[name](**args)
    except (ValueError, TypeError, ImportError) as error:
        raise ConfigValueError("hydra.sweeper.sampler", name, f"valid arguments of "
                               f"Optuna's {kinds[name].__name__} ({error})") from None


def make_pruner(spec: SearchSpec) -> Any:
    import optuna

    args = {k: v for k, v in spec.pruner.items() if k != "name"}
    kinds = {"none": optuna.pruners.NopPruner, "median": optuna.pruners.MedianPruner,
             "percentile": optuna.pruners.PercentilePruner,
             "hyperband": optuna.pruners.HyperbandPruner,
             "successive_halving": optuna.pruners.SuccessiveHalvingPruner}
    kind = kinds[spec.pruner["name"]]
    try:
        return kind(**args)
    except (ValueError, TypeError) as error:
        raise ConfigValueError("hydra.sweeper.pruner", spec.pruner["name"],
                               f"valid arguments of Optuna's {kind.__name__} ({error})") from None


def storage_of(url: str) -> Any:
    """An Optuna storage, read as optuna-dashboard reads its argument: an RDB URL
    (``sqlite:///``, ``postgresql://``, ``mysql://``...), a ``redis://`` journal, or a file
    path (or ``journal:///path``) as a journal file."""
    import optuna

    if url.startswith(("redis://", "rediss://")):
        from optuna.storages.journal import JournalRedisBackend

        return optuna.storages.JournalStorage(JournalRedisBackend(url))
    if "://" in url and not url.startswith("journal://"):
        return optuna.storages.RDBStorage(url)
    from optuna.storages.journal import JournalFileBackend

    path = Path(url.removeprefix("journal://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def open_study(spec: SearchSpec, worker: int = 0, offset: int = 0) -> Any:
    """The study (created on first use), with this worker's sampler and the pruner."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = storage_of(spec.storage)
    except Exception as error:  # noqa: BLE001  any driver's error: unreachable, refused, unknown
        raise NnxError(f"Cannot open the study storage {redact_uri(spec.storage)}: "
                       f"{first_line(error)}") from None
    try:
        study = optuna.create_study(
            study_name=spec.study_name, storage=storage, load_if_exists=True,
            sampler=make_sampler(spec, worker, offset), pruner=make_pruner(spec),
            directions=spec.directions,
        )
    except ValueError as error:  # an existing study with other directions
        raise NnxError(f"Study '{spec.study_name}' in {redact_uri(spec.storage)}: {error} "
                       "Pick another hydra.sweeper.study_name.") from None
    _check_identity(study, spec)
    return study


def _check_identity(study: Any, spec: SearchSpec) -> None:
    """Keep what the study searches; refuse to continue it under another space or metric,
    unless it was named explicitly."""
    from optuna.distributions import check_distribution_compatibility

    known: dict[str, Any] = {}
    for trial in study.get_trials(deepcopy=False):
        known.update(trial.distributions)
    for name, dist in spec.space.items():  # what Optuna itself refuses, even in a named study
        try:
            if name in known:
                check_distribution_compatibility(known[name], dist)
        except ValueError as error:
            raise NnxError(f"Study '{spec.study_name}' in {redact_uri(spec.storage)} searched {name} as "
                           f"{known[name]!r}, which {dist!r} cannot continue ({error}) Start a new study "
                           "with hydra.sweeper.study_name=NAME.") from None
    kept, now = study.user_attrs.get("nnx.searched"), spec.searched()
    if kept is None:
        study.set_user_attr("nnx.searched", now)
    elif kept != now and not spec.named:
        changed = [k for k in now if k != "space" and kept.get(k) != now[k]]
        space, before = now["space"], kept.get("space", {})
        changed += [name for name in sorted(set(space) | set(before)) if space.get(name) != before.get(name)]
        digest = hashlib.sha1(json.dumps(now, sort_keys=True).encode()).hexdigest()[:6]
        raise NnxError(
            f"Study '{spec.study_name}' in {redact_uri(spec.storage)} searched another space or "
            f"objective (changed: {', '.join(changed)}). Start a new study with "
            f"hydra.sweeper.study_name={spec.study_name}-{digest}, or continue this one anyway "
            f"with hydra.sweeper.study_name={spec.study_name}.")
