"""One run, start to end: validate -> data -> model -> Lightning fit/test -> tracking.

`run` follows the design's flow with one log line per step and returns
``(metrics, objects)`` so tests can inspect what was built; `main` is what the Hydra app
calls and returns the metric a sweeper optimises.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from nnx import __version__
from nnx.errors import ConfigValueError, Interrupted, NnxError
from nnx.runinfo import run_overrides, run_tags
from nnx.schema import Recipe, validate
from nnx.sweep import trial_tags

if TYPE_CHECKING:
    from nnx.phases import Phase, PhaseRun  # noqa: F401 (annotations)

__all__ = [
    "run", "main", "flatten", "load_data", "fit", "resolved_config", "plugin_tags", "log_curves",
]

log = logging.getLogger("nnx")


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """``{"model": {"hidden": [64]}}`` -> ``{"model.hidden": "[64]"}``: MLflow params."""
    if isinstance(tree, dict):
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: str(tree)}


def _quiet_lightning() -> None:
    """Silence Lightning's tips and device banners; real warnings still show."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    from lightning_fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings("ignore", category=PossibleUserWarning)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")


def _trainer(recipe: Recipe, callbacks: list, output_dir: Path, epochs: int) -> Any:
    """Lightning's Trainer; a setting it rejects (no GPU, bad device list) is a config error."""
    import pytorch_lightning as pl
    from lightning_fabric.utilities.exceptions import MisconfigurationException
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from nnx.checkpoints import LastCheckpoint

    cfg = recipe.trainer
    if cfg.early_stopping.enabled:
        es = cfg.early_stopping
        callbacks.append(EarlyStopping(monitor=es.monitor, mode=es.mode, patience=es.patience))
    ck, folder = cfg.checkpoint, output_dir / "checkpoints"
    if ck.save_last:
        callbacks.append(LastCheckpoint(folder, ck.save_last_every_s))
    if ck.enabled:
        callbacks.append(ModelCheckpoint(dirpath=folder, monitor=ck.monitor, mode=ck.mode))
    try:
        trainer = pl.Trainer(
            max_epochs=epochs,
            accelerator=cfg.accelerator,
            devices=cfg.devices,
            strategy=cfg.strategy,
            num_nodes=cfg.num_nodes,
            precision=cfg.precision,
            deterministic=recipe.run.deterministic,
            callbacks=callbacks,
            logger=False,
            enable_checkpointing=ck.enabled,
            enable_progress_bar=False,
            enable_model_summary=False,
            num_sanity_val_steps=0,
            default_root_dir=str(output_dir),
        )
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        first = str(error).strip().splitlines()[0]
        chosen = f"accelerator={cfg.accelerator} devices={cfg.devices} strategy={cfg.strategy}"
        raise ConfigValueError("trainer", chosen, f"what this machine supports ({first})") from None
    # Importing Lightning sets PYTORCH_NVML_BASED_CUDA_CHECK=1 so that finding devices does not
    # initialise CUDA. Left on, every optimizer step asks NVML whether CUDA exists (through
    # torch.cuda.is_available in the optimizer's graph-capture check): ~0.1 ms a step, as long
    # as a small model's whole step. The devices are found by now.
    os.environ.pop("PYTORCH_NVML_BASED_CUDA_CHECK", None)
    return trainer


def _batches(recipe: Recipe, splits: Any, trainer: Any) -> tuple[Any, Any, Any]:
    from nnx.data import IndexBatches

    fused = recipe.trainer.fused_steps
    world = trainer.world_size
    if world > 1:
        fused = 1  # DDP allows one backward per forward
    rank = trainer.global_rank
    size = recipe.data.config.batch_size
    train = IndexBatches(
        *splits.train, size, shuffle=True, fused=fused, seed=recipe.run.seed, rank=rank,
        world_size=world,
    )
    eval_size = max(size, 1024)
    val, test = (
        IndexBatches(*split, eval_size, shuffle=False, rank=rank, world_size=world)
        for split in (splits.val, splits.test)
    )
    return train, val, test


def _phase_run(
    recipe: Recipe, phase: Phase, spec: Any, tracker: Any, output_dir: Path, callbacks: list
) -> PhaseRun:
    """The Lightning task, trainer and epoch report that train one phase."""
    from nnx.callbacks import EpochReport
    from nnx.losses import resolve_loss
    from nnx.phases import PhaseRun
    from nnx.task import Task

    epochs = phase.epochs or recipe.trainer.max_epochs
    scheduler = recipe.scheduler
    task = Task(
        phase.model,
        spec,
        resolve_loss(recipe.run.loss, spec, phase.model),
        make_optimizer=recipe.optimizer.build,
        make_scheduler=(lambda opt: scheduler.build(opt, epochs)) if scheduler else None,
        gradient_clip_val=recipe.trainer.gradient_clip_val,
        gradient_clip_algorithm=recipe.trainer.gradient_clip_algorithm,
    )
    report = EpochReport(tracker, recipe.trainer.progress, prefix=phase.prefix)
    trainer = _trainer(recipe, [report, *callbacks], output_dir, epochs)
    return PhaseRun(phase, task, trainer, report)


def load_data(recipe: Recipe) -> Any:
    """Seed everything, create the output folder and build the data's splits."""
    import pytorch_lightning as pl

    _quiet_lightning()
    pl.seed_everything(recipe.run.seed, workers=True, verbose=False)
    Path(recipe.run.output_dir).mkdir(parents=True, exist_ok=True)
    splits = recipe.data.build()
    log.info("data %s: %d train / %d val / %d test samples, input %s", recipe.data.plugin.name,
             len(splits.train[1]), len(splits.val[1]), len(splits.test[1]), splits.spec.input_shape)
    return splits


def resolved_config(cfg: DictConfig | dict) -> dict[str, Any]:
    """The run's config as plain data, without Hydra's own node: what a run logs."""
    resolved = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    return {k: v for k, v in resolved.items() if k != "hydra"}


def plugin_tags(recipe: Recipe) -> dict[str, str]:
    """The tags that say what a run trained: nnx's version and the plugins' names."""
    return {
        "nnx.version": __version__,
        "nnx.model": recipe.model.plugin.name,
        "nnx.data": recipe.data.plugin.name,
        "nnx.optimizer": recipe.optimizer.plugin.name,
    }


def _fit_model(model: Any, spec: Any, name: str) -> str:
    """The model's layer table; a model that cannot take this data fails here, before training."""
    from nnx.summary import render, summarize

    try:
        return render(model, summarize(model, spec))
    except (RuntimeError, ValueError, IndexError) as error:
        first = str(error).strip().splitlines()[0]
        raise ConfigValueError(
            "model", name, f"a model that accepts {spec.kind} input of shape {spec.input_shape} "
            f"({first}); pick another model or data",
        ) from None


def _train_phases(
    recipe: Recipe, runs: list, splits: Any, stop: Any, resume: Any, run_ref: str
) -> dict[str, float]:
    """Fit and test each phase; a stop signal becomes `Interrupted` after the last checkpoint."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    if resume is not None and len(runs) > 1:
        raise NnxError("resume= continues models trained in one phase; this one has several.")
    metrics: dict[str, float] = {}
    ckpt = str(resume.checkpoint) if resume else None
    with stop.installed():
        try:
            for phase_run in runs:
                log.info("training %sfor %d epochs on %s", phase_run.phase.prefix.replace("/", " "),
                         phase_run.trainer.max_epochs, phase_run.trainer.strategy.root_device)
                batches = _batches(recipe, splits, phase_run.trainer)
                metrics.update(phase_run.fit_and_test(*batches, ckpt_path=ckpt, stop=stop))
                if stop.signum is not None:
                    break
        except (SystemExit, KeyboardInterrupt, SIGTERMException):
            if stop.signum is None:
                raise
    if stop.signum is not None:
        epoch = runs[-1].trainer.current_epoch
        raise Interrupted(stop.signum, f"{stop.name}: stopped after epoch {epoch}, checkpoint "
                          f"saved. Continue with: nnx resume={run_ref}")
    return metrics


def fit(
    recipe: Recipe, splits: Any, tracker: Any, config: dict[str, Any], tags: dict[str, str],
    callbacks: Sequence[Any] = (), output_dir: Path | None = None, artifacts: bool = True,
    resume: Any = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Build the model for ``splits``, train and test it inside a tracked run.

    ``config`` is logged as the run's params and ``tags`` added to the plugins' tags;
    ``artifacts`` adds the learning curves, the confusion matrix and (if asked) the model.
    ``resume`` (an `nnx.resume.Resume`) continues a stopped run from its last checkpoint.
    The first SIGINT/SIGTERM ends the current epoch, then raises `Interrupted` (KILLED).
    """
    from nnx import resume as resuming
    from nnx.artifacts import log_artifacts
    from nnx.interrupts import GracefulStop
    from nnx.phases import phases_of
    from nnx.tracking import Tracker

    output_dir = (output_dir or Path(recipe.run.output_dir)).resolve()
    spec = splits.spec
    model = recipe.model.build(spec)
    summary = _fit_model(model, spec, recipe.model.plugin.name)
    log.info("model %s:\n%s", recipe.model.plugin.name, summary)

    stop = GracefulStop()
    runs = [_phase_run(recipe, phase, spec, tracker, output_dir, [*callbacks, stop])
            for phase in phases_of(model)]
    final = runs[-1]
    trainer = final.trainer
    splits = splits.to(trainer.strategy.root_device)
    if trainer.global_rank != 0:
        tracker = Tracker()  # under DDP only rank 0 opens a run; reports log on rank 0 only
    tags = {**plugin_tags(recipe), "nnx.loss": final.task.loss_name, **tags,
            resuming.OUTPUT_DIR_TAG: str(output_dir)}
    with tracker.active(flatten(config), tags, resume.run_id if resume else None):
        if trainer.global_rank == 0:
            resuming.write_record(output_dir, tracker.run_id, config)
        tracker.log_text(OmegaConf.to_yaml(config), "config.yaml")
        tracker.log_text(summary, "model_summary.txt")
        tracker.log_text(OmegaConf.to_yaml(run_overrides()), "overrides.yaml")
        metrics = _train_phases(recipe, runs, splits, stop, resume, tracker.run_id or str(output_dir))
        if artifacts and trainer.global_rank == 0 and tracker.run_id:
            log_curves(tracker, {"run": final.report.history}, output_dir)
            log_artifacts(tracker, model, splits, recipe.tracking.log_model)
    objects = {"recipe": recipe, "model": model, "task": final.task, "trainer": trainer,
               "tracker": tracker, "splits": splits, "summary": summary, "phases": runs,
               "history": [row for phase_run in runs for row in phase_run.report.history],
               "fit_seconds": sum(phase_run.fit_seconds for phase_run in runs)}
    return metrics, objects


def log_curves(tracker: Any, histories: dict[str, list[dict[str, float]]], output_dir: Path) -> None:
    """Plot the learning curves into the output folder and store them with the run."""
    from nnx.curves import CURVES_FILE, plot_learning_curves

    figure = plot_learning_curves(histories)
    figure.savefig(output_dir / CURVES_FILE, dpi=100)
    tracker.log_figure(figure, CURVES_FILE)


def run(cfg: DictConfig, callbacks: Sequence[Any] = ()) -> tuple[dict[str, float], dict[str, Any]]:
    """Train and test the model that ``cfg`` describes; return its metrics and objects.

    ``callbacks`` are extra Lightning callbacks, given to the trainer of every phase.
    Everything that can be checked without training is checked before the data is loaded
    (the config, the tracking store); the model's fit to the data and the Trainer's devices
    before the first step. ``resume=<run id or dir>`` continues a stopped run.
    """
    from nnx import resume as resuming

    resume = None
    if cfg.get("resume"):
        cfg, resume = resuming.load(cfg)
    recipe = validate(cfg)
    log.info("config valid: model=%s data=%s optimizer=%s", recipe.model.plugin.name,
             recipe.data.plugin.name, recipe.optimizer.plugin.name)
    from nnx.tracking import make_tracker

    tracker = make_tracker(recipe.tracking)
    tracker.connect()  # an unreachable or unwritable store fails now, not after the data
    splits = load_data(recipe)
    config = resolved_config(cfg) | {"resume": None}
    tags = {**run_tags(config), **trial_tags(recipe.tracking)}
    return fit(recipe, splits, tracker, config, tags, callbacks, resume=resume)


def _results(metrics: dict[str, float], tracker: Any, output_dir: str) -> str:
    tests = "  ".join(f"{k} {v:.4f}" for k, v in sorted(metrics.items()) if "test/" in k)
    lines = [f"results  {tests}", f"files    {os.path.relpath(output_dir)}"]
    if tracker.run_id:
        lines.append(f"MLflow run {tracker.run_id} (experiment '{tracker.cfg.experiment}')")
        lines += [f"  {line}" for line in tracker.location()]
    return "\n".join(lines)


def main(cfg: DictConfig) -> float | None:
    """Run one job and print its results; return ``optimized_metric`` for sweepers."""
    if validate(cfg).run.eval.cross_validate:
        from nnx.crossval import cross_validate

        metrics, objects = cross_validate(cfg)
    else:
        metrics, objects = run(cfg)
    if objects["trainer"].global_rank == 0:
        print(_results(metrics, objects["tracker"], objects["recipe"].run.output_dir), flush=True)
    value = metrics.get(cfg.get("optimized_metric", "val/loss"))
    return None if value is None or math.isnan(value) else value
