"""One job, start to end: resolve -> validate -> data -> strategy (fit per model) -> results.

`run` follows the design's flow with one log line per step and returns ``(metrics, objects)``
so tests can inspect what was built; `main` is what the Hydra app calls: it prints the
results block and returns the metric a sweeper optimises. A strategy decides how many
models the job trains with the shared fit step: one (`fit_once`), one per fold
(`nnx.training.kfold.cross_validate`) or one per seed, each alone or cross-validated
(`nnx.training.seeds.over_seeds`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig

from nnx.config.identity import run_tags
from nnx.config.recipe import Recipe, validate
from nnx.config.secrets import redact_tree
from nnx.errors import ConfigValueError
from nnx.tracking.tracker import Tracker, draws_report

if TYPE_CHECKING:  # torch: imported once the config is known to be valid
    from nnx.data.spec import Splits

__all__ = ["prepare", "load_data", "fit_once", "run", "results", "main", "main_metrics"]

log = logging.getLogger("nnx")


def prepare(cfg: DictConfig) -> tuple[Recipe, Any, Any]:
    """The validated recipe of this job, what it resumes (``resume=<run id or dir>``) and
    what it re-runs (``rerun=<run id or dir>``).

    A resumed or re-run job runs the other run's own config with this call's overrides on top.
    """
    from nnx.training import rerun as reruns
    from nnx.training import resume as resuming

    resume = rerun = None
    if cfg.get("resume") and cfg.get("rerun"):
        raise ConfigValueError("rerun", cfg.rerun, "null with resume= (continue a run, or run it again)")
    if cfg.get("resume"):
        cfg, resume = resuming.load(cfg)
    elif cfg.get("rerun"):
        cfg, rerun = reruns.load(cfg)
    recipe = validate(cfg)
    log.info("config valid: model=%s data=%s optimizer=%s", recipe.model.plugin.name,
             recipe.data.plugin.name, recipe.optimizer.plugin.name)
    # What the run logs and records: running it again starts afresh, not from a checkpoint;
    # credentials in URIs are masked (`recipe.tracking` keeps the real URI to connect with).
    config = {**redact_tree(recipe.config), "resume": None, "rerun": None}
    return dataclasses.replace(recipe, config=config), resume, rerun


def load_data(recipe: Recipe) -> Splits:
    """Seed everything and build the data's splits."""
    import pytorch_lightning as pl

    from nnx.data.splits import check_learnable
    from nnx.training.trainer import quiet_lightning

    quiet_lightning()
    pl.seed_everything(recipe.run.seed, workers=True, verbose=False)
    splits = recipe.data.build()
    check_learnable(splits, recipe.data.plugin.name)
    log.info("data %s: %d train / %d val / %d test samples, input %s", recipe.data.plugin.name,
             len(splits.train[1]), len(splits.val[1]), len(splits.test[1]), splits.spec.input_shape)
    return splits


def fit_once(
    recipe: Recipe, splits: Splits, tracker: Tracker, tags: dict[str, str], *,
    callbacks: Sequence[Any] = (), resume: Any = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """The plain strategy: one model, trained on the splits as they are."""
    from nnx.training.fit import fit

    return fit(recipe, splits, tracker, tags, callbacks=callbacks, resume=resume)


def run(
    cfg: DictConfig, callbacks: Sequence[Any] = (), tags: Mapping[str, str] | None = None
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train and test what ``cfg`` describes; return its metrics and the objects built.

    ``callbacks`` are extra Lightning callbacks for every trainer; ``tags`` extra tags for
    the run (a sweep's trial tags). Everything that can be checked without training is
    checked before the data is loaded (the config, the tracking store); the model's fit to
    the data and the Trainer's devices before the first step. When it returns (or raises),
    everything the run records is in the store.
    """
    from nnx.tracking.figures import REPORT_PLOTS
    from nnx.tracking.mlflow_run import make_tracker
    from nnx.training.rerun import RERUN_TAG

    recipe, resume, rerun = prepare(cfg)
    try:  # a place that cannot hold the run fails before the store is touched
        Path(recipe.run.output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigValueError("output_dir", recipe.run.output_dir,
                               f"a folder that can be created ({error.strerror})") from None
    tracker = make_tracker(recipe.tracking)
    drawn = draws_report(recipe.run.eval.report, tags)
    tracker.connect(REPORT_PLOTS if drawn else ())  # an unreachable store fails now, not after the data
    splits = load_data(recipe)
    from nnx.training.kfold import cross_validate
    from nnx.training.seeds import over_seeds

    evaluation = recipe.run.eval
    strategy = over_seeds if evaluation.multi_seed else (
        cross_validate if evaluation.cross_validate else fit_once)
    tags = {**run_tags(recipe.config), **(tags or {})}
    if rerun is not None:
        tags[RERUN_TAG] = rerun.source
    try:
        metrics, objects = strategy(recipe, splits, tracker, tags, callbacks=callbacks,
                                    resume=resume)
    except BaseException:
        _stored(quiet=True)
        raise
    _stored()
    if recipe.tracking.register and tracker.run_id and not _in_multirun():
        from nnx.training.registration import register

        objects["registration"] = register(recipe.tracking.uri, tracker.run_id, Path(recipe.run.output_dir),
                                           recipe.tracking.register, recipe.tracking.alias,
                                           recipe.run.optimized_metric)
    if rerun is not None:
        from nnx.tracking.mlflow_run import git_commit
        from nnx.training.rerun import compare

        objects["rerun"] = compare(rerun, metrics, git_commit())
    return metrics, objects


def _in_multirun() -> bool:
    """A sweep's trial: the sweep registers its best trial's model alone (`nnx.sweeps.registration`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _stored(quiet: bool = False) -> None:
    """Wait until the run's tracking writes are in the store, unless a sweep waits for its
    trials at its end (`nnx.tracking.writer.deferred`): a trial's figures and last writes
    are then stored while the next trial trains."""
    from nnx.errors import TrackingError
    from nnx.tracking import writer

    if writer.writes_deferred():
        return
    try:
        writer.drain()
    except TrackingError:
        if not quiet:
            raise


def _results(metrics: dict[str, float], tracker: Any, output_dir: str, rerun: Sequence[str] = ()) -> str:
    tests = [k for k in sorted(metrics) if "test/" in k and "/baseline_" not in k]
    trivial = [k for k in sorted(metrics) if "/baseline_" in k and not k.endswith("_std")]
    lines = ["results  " + "  ".join(f"{k} {metrics[k]:.4f}" for k in tests)]
    if trivial:  # what a trivial predictor scores on the same test split: the score to beat
        lines.append("baseline " + "  ".join(f"{k} {metrics[k]:.4f}" for k in trivial))
    lines.append(f"files    {os.path.relpath(output_dir)}")
    lines += [f"rerun    {line}" for line in rerun]
    if tracker.run_id:
        lines.append(f"MLflow run {tracker.run_id} (experiment '{tracker.cfg.experiment}')")
        lines += [f"  {line}" for line in tracker.location()]
    return "\n".join(lines)


def results(metrics: dict[str, float], objects: dict[str, Any]) -> str:
    """The results block a finished job prints (the `nnx` command and `nnx.run` alike)."""
    text = _results(metrics, objects["tracker"], objects["recipe"].run.output_dir, objects.get("rerun", ()))
    registered = objects.get("registration")
    return f"{text}\nregistry {registered.line}" if registered else text


def main_metrics(
    cfg: DictConfig, tags: Mapping[str, str] | None = None, callbacks: Sequence[Any] = ()
) -> tuple[dict[str, float], str | None]:
    """Run one job and print its results; return all its metrics (a search may optimise
    several) and its tracked run's id."""
    metrics, objects = run(cfg, callbacks=callbacks, tags=tags)
    if objects["trainer"].global_rank == 0:
        print(results(metrics, objects), flush=True)
    return metrics, objects["tracker"].run_id


def main(cfg: DictConfig, tags: Mapping[str, str] | None = None) -> float | None:
    """Run one job and print its results; return ``optimized_metric`` for sweepers."""
    metrics, objects = run(cfg, tags=tags)
    if objects["trainer"].global_rank == 0:
        print(results(metrics, objects), flush=True)
    value = metrics.get(objects["recipe"].run.optimized_metric)
    return None if value is None or math.isnan(value) else value
