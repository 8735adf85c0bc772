"""The fit step every strategy shares: build the model, train and test it in a tracked run.

A single run calls it once; k-fold cross-validation once per fold (`nnx.training.kfold`).
It reads top to bottom: model -> phases -> tracked run (start, fit, record).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nnx.config.identity import plugin_tags, run_overrides
from nnx.config.recipe import Recipe
from nnx.data.spec import DataSpec, Splits
from nnx.errors import ConfigValueError, Interrupted, NnxError
from nnx.models.phases import Phase, phases_of
from nnx.tracking.params import flatten
from nnx.tracking.tracker import Tracker, draws_report

__all__ = ["fit", "build_model"]

log = logging.getLogger("nnx")


def build_model(recipe: Recipe, spec: DataSpec) -> tuple[Any, str]:
    """The model plugin built for ``spec`` and its layer table.

    A model that cannot take this data fails here, before training, as a config error.
    """
    from nnx.models.memory import check_fits
    from nnx.models.summary import render, summarize

    check_fits(lambda: recipe.model.build(spec), recipe.model.plugin.name)  # before allocating
    model = recipe.model.build(spec)
    try:
        return model, render(model, summarize(model, spec))
    except (RuntimeError, ValueError, IndexError) as error:
        first = str(error).strip().splitlines()[0]
        raise ConfigValueError(
            "model", recipe.model.plugin.name, f"a model that accepts {spec.kind} input of shape "
            f"{spec.input_shape} ({first}); pick another model or data",
        ) from error


def _phase_run(recipe: Recipe, phase: Phase, splits: Splits, tracker: Tracker, output_dir: Path,
               callbacks: list) -> Any:
    """The Lightning task, trainer and epoch report that train one phase."""
    from nnx.training.callbacks import EpochReport
    from nnx.training.losses import make_loss
    from nnx.training.measure import scores_for
    from nnx.training.phases import PhaseRun
    from nnx.training.task import Task
    from nnx.training.threshold import TUNED
    from nnx.training.trainer import build_trainer

    epochs = phase.epochs or recipe.trainer.max_epochs
    scheduler = recipe.scheduler
    spec = splits.spec
    loss_name, loss_fn = make_loss(spec, recipe.loss.plugin.name, recipe.loss.config, phase.model,
                                   splits.train[1])
    task = Task(
        phase.model,
        spec,
        loss_name,
        make_optimizer=recipe.optimizer.build,
        make_scheduler=(lambda opt: scheduler.build(opt, epochs)) if scheduler else None,
        gradient_clip_val=recipe.trainer.gradient_clip_val,
        gradient_clip_algorithm=recipe.trainer.gradient_clip_algorithm,
        loss_fn=loss_fn,
        scores=scores_for(recipe, spec),
    )
    threshold = recipe.run.eval.threshold
    if threshold != TUNED:
        task.scores.threshold = float(threshold)
    report = EpochReport(tracker, recipe.trainer.progress, prefix=phase.prefix)
    trainer = build_trainer(recipe, [report, *callbacks], output_dir, epochs, phase.prefix)
    return PhaseRun(phase, task, trainer, report, weights=recipe.run.eval.weights)


def _train_phases(
    recipe: Recipe, runs: list, splits: Splits, stop: Any, resume: Any, run_ref: str
) -> dict[str, float]:
    """Fit and test each phase; a stop signal becomes `Interrupted` after the last checkpoint."""
    from pytorch_lightning.utilities.exceptions import SIGTERMException

    from nnx.training.trainer import index_batches

    if resume is not None and len(runs) > 1:
        raise NnxError("resume= continues models trained in one phase; this one has several.")
    metrics: dict[str, float] = {}
    ckpt = str(resume.checkpoint) if resume else None
    with stop.installed():
        try:
            for phase_run in runs:
                log.info("training %sfor %d epochs on %s", phase_run.phase.prefix.replace("/", " "),
                         phase_run.trainer.max_epochs, phase_run.trainer.strategy.root_device)
                batches = index_batches(recipe, splits, phase_run.trainer)
                metrics.update(phase_run.fit_and_test(*batches, ckpt_path=ckpt, stop=stop))
                if stop.signum is not None:
                    break
        except (SystemExit, KeyboardInterrupt, SIGTERMException):
            if stop.signum is None:
                raise
    if stop.signum is not None:
        epoch = runs[-1].trainer.current_epoch
        if stop.cut_short in ("training", "validation"):  # a second signal: epoch not saved
            raise Interrupted(stop.signum, f"{stop.name} twice: stopped during epoch {epoch + 1}, "
                              f"unsaved. Continue from the last checkpoint with: nnx resume={run_ref}")
        raise Interrupted(stop.signum, f"{stop.name}: stopped after epoch {epoch}, checkpoint "
                          f"saved. Continue with: nnx resume={run_ref}")
    return metrics


def _record_weights(tracker: Tracker, runs: list) -> None:
    """Which weights were tested and saved: tag ``nnx.weights`` (best|last) and, for the best,
    metric ``best_epoch`` (1-based, as the progress lines count; logged at its epoch's step)."""
    tracker.set_tags({"nnx.weights": "best" if any(r.best for r in runs) else "last"})
    for phase_run in runs:
        if phase_run.best is not None:
            tracker.log_metrics({phase_run.phase.prefix + "best_epoch": phase_run.best.epoch + 1},
                                step=phase_run.best.epoch)


def fit(
    recipe: Recipe, splits: Splits, tracker: Tracker, tags: dict[str, str], *,
    config: dict[str, Any] | None = None, callbacks: Sequence[Any] = (),
    output_dir: Path | None = None, artifacts: bool = True, resume: Any = None,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Build the model for ``splits``, train and test it inside a tracked run.

    ``config`` (the recipe's by default) is logged as the run's params, ``tags`` beside the
    plugins' tags; ``artifacts`` adds the learning curves and (if asked) the model; the test
    split's evaluation report is made either way (``eval.report``). ``resume`` (an
    `nnx.training.resume.Resume`) continues a stopped run from its last checkpoint. The first
    SIGINT/SIGTERM ends the current epoch, then raises `Interrupted` (KILLED).
    """
    from pytorch_lightning.utilities import rank_zero_only

    from nnx.models.predictor import PREDICTOR_DIR
    from nnx.training import resume as resuming
    from nnx.training.evaluation import dataset_inputs, log_curves, log_model, report_test, save_predictor
    from nnx.training.interrupts import GracefulStop
    from nnx.training.report import frame_keys
    from nnx.training.threshold import TUNED, TuneThreshold

    config = recipe.config if config is None else config
    output_dir = (output_dir or Path(recipe.run.output_dir)).resolve()
    spec = splits.spec
    drawn = draws_report(recipe.run.eval.report, tags)
    if drawn and rank_zero_only.rank == 0:  # the tracker draws them
        tracker.prepare_plots(frame_keys(spec, splits.preprocessing))  # while the model and trainer are built
    model, summary = build_model(recipe, spec)
    log.info("model %s:\n%s", recipe.model.plugin.name, summary)

    stop = GracefulStop()
    tuned = recipe.run.eval.threshold == TUNED and spec.task == "classification" and spec.num_outputs == 1
    callbacks = [*callbacks, stop, *([TuneThreshold(splits.val)] if tuned else [])]
    runs = [_phase_run(recipe, phase, splits, tracker, output_dir, callbacks) for phase in phases_of(model)]
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
        _record_weights(tracker, runs)
        rank0 = trainer.global_rank == 0
        record = artifacts and rank0 and tracker.run_id
        if record:  # first: the writer draws them while the report and the predictor are made
            log_curves(tracker, {"run": final.report.history}, output_dir)
        threshold = final.task.scores.threshold
        if rank0 and recipe.run.eval.report:
            report_test(tracker, final.task.model, splits, threshold, output_dir, draw=drawn)
        baseline = {final.phase.prefix + k: v for k, v in final.task.scores.baselines(splits).items()}
        if tuned:  # chosen on the validation split: recorded beside the metrics it decided
            baseline[final.phase.prefix + "val/threshold"] = threshold
        tracker.log_metrics(baseline, step=trainer.current_epoch)
        metrics.update(baseline)
        if rank0 and stop.signum is None:
            predictor = save_predictor(recipe, model, splits, output_dir, threshold)  # nnx-predict reads it
            if tracker.run_id:
                tracker.log_artifacts(output_dir / PREDICTOR_DIR, PREDICTOR_DIR)
                tracker.log_datasets(dataset_inputs(recipe, splits))
            if record and recipe.tracking.log_model:
                log_model(tracker, splits, predictor, output_dir / PREDICTOR_DIR)
    objects = {"recipe": recipe, "model": model, "task": final.task, "trainer": trainer,
               "tracker": tracker, "splits": splits, "summary": summary, "phases": runs,
               "history": [row for phase_run in runs for row in phase_run.report.history],
               "fit_seconds": sum(phase_run.fit_seconds for phase_run in runs)}
    return metrics, objects
