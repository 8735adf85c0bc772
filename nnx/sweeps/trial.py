"""One trial of a sweep: its run (a child of the sweep's parent run) and its `Outcome`.

`run_trial` is the task of every job of a multirun (`nnx.cli.app`), and of every trial a
search's worker runs (`nnx.sweeps.workers`, with the Optuna trial it reports each validation
epoch to and that may prune it). It never raises for a failed trial: the failure is recorded
in MLflow and in the outcome. The outcome is the job's return value (Hydra's
``JobReturn.return_value``): the worker tells Optuna from it, and
`nnx.sweeps.sweep.SweepCallback.on_job_end` writes it to the job's folder as
``nnx-trial.json``, in whatever process ran the job: the one record the end of the sweep
reads. `bury` records a trial whose process died the same way.

A trial's state has one vocabulary, Optuna's: COMPLETE, PRUNED, FAIL; and SKIPPED, a trial
already FINISHED in an earlier sweep (``sweep.skip_finished``).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from nnx.config.identity import config_hash, run_overrides, run_tags
from nnx.config.recipe import Recipe, validate
from nnx.config.secrets import redact, redact_uri
from nnx.errors import Interrupted, NnxError
from nnx.tracking import writer as writes
from nnx.tracking.tracker import JOB_TAG, PARENT_TAG

__all__ = ["Outcome", "run_trial", "bury", "read_outcomes", "in_sweep", "sweep_info", "SWEEP_ENV",
           "TRIAL_FILE", "JOB_TAG", "TrialPruned"]

TRIAL_FILE = "nnx-trial.json"
#: The running sweep (its parent run, store, swept keys), set by the sweep for its jobs.
SWEEP_ENV = "NNX_SWEEP"


@dataclass
class Outcome:
    """What one trial ended with: the record the sweep's end and a search's worker read."""

    num: int
    overrides: list[str]
    state: str = "FAIL"  # COMPLETE | PRUNED | FAIL | SKIPPED
    metric: str = "val/loss"  # the recipe's optimized_metric
    value: float | None = None  # its value (a pruned trial: at its last report)
    values: list[float] | None = None  # a search's metrics (hydra.sweeper.metrics), in order
    run_id: str | None = None
    error: str | None = None
    user_error: bool = False

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TRIAL_FILE).write_text(json.dumps(asdict(self)))

    def scored(self) -> bool:
        """Whether it counts toward the best trial (finished, with a finite value)."""
        return self.state in ("COMPLETE", "SKIPPED") and self.value is not None and math.isfinite(self.value)


def read_outcomes(sweep_dir: Path) -> list[Outcome]:
    """Every trial's outcome in the sweep's folder, by trial number."""
    found = (Outcome(**json.loads(p.read_text())) for p in sweep_dir.rglob(TRIAL_FILE))
    return sorted(found, key=lambda o: o.num)


def sweep_info() -> dict[str, Any]:
    """The running sweep as its jobs see it (empty outside one)."""
    return json.loads(os.environ.get(SWEEP_ENV) or "{}")


def _hydra() -> Any | None:
    """Hydra's config of the job running in this process, when it is part of a multirun."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized():
        return None
    hc = HydraConfig.get()
    return hc if hc.mode == RunMode.MULTIRUN else None


def in_sweep() -> bool:
    """Whether this process runs a job of a Hydra multirun."""
    return _hydra() is not None


def _varying(info: dict[str, Any]) -> list[str]:
    """This job's values of the swept keys (``optimizer.lr=0.01``), not the common overrides."""
    swept = set(info.get("swept", []))
    return [o for o in run_overrides() if o.split("=", 1)[0].lstrip("+~") in swept]


def _tags(recipe: Recipe, num: int, info: dict[str, Any], search: Any) -> dict[str, str]:
    """Tags that make the trial's run a child of its sweep's parent run."""
    tags = {JOB_TAG: str(num)}
    if info.get("parent_run_id") and info.get("uri") == redact_uri(recipe.tracking.uri):
        tags[PARENT_TAG] = info["parent_run_id"]
    if recipe.tracking.run_name is None:
        tags["mlflow.runName"] = f"#{num} {' '.join(_varying(info))}".strip()[:200]
    if search is not None:
        tags["optuna.trial_number"] = str(search.number)
    return tags


def _finished_run(recipe: Recipe, cfg: DictConfig) -> tuple[str, float | None] | None:
    """An earlier FINISHED run of exactly this config in the experiment, if there is one."""
    from nnx.tracking.store import Store

    if recipe.tracking.backend != "mlflow":
        return None
    with Store.of(recipe.tracking.uri).session() as client:
        experiment = client.get_experiment_by_name(recipe.tracking.experiment)
        if experiment is None:
            return None
        runs = client.search_runs(
            [experiment.experiment_id],
            f"tags.`nnx.config_hash` = '{config_hash(cfg)}' and attributes.status = 'FINISHED'",
            max_results=1, order_by=["attributes.start_time DESC"],
        )
    return (runs[0].info.run_id, runs[0].data.metrics.get(recipe.run.optimized_metric)) if runs else None


def _record_failure(cfg: DictConfig, tags: dict[str, str], error: BaseException) -> str | None:
    """A FAILED child run for a trial that failed before its own run was opened."""
    from nnx.tracking.mlflow_run import make_tracker
    from nnx.tracking.params import flatten

    try:
        tracking = validate(cfg).tracking
        params = flatten(OmegaConf.to_container(cfg, resolve=True))  # the tracker redacts them
        with make_tracker(tracking).active(params, {**tags, **run_tags(cfg)}):
            raise error
    except Exception as recorded:
        return getattr(recorded, "nnx_run_id", None)
    return None


@contextlib.contextmanager
def _this_job_alone(hc: Any) -> Any:
    """Lightning's DDP starts ranks > 0 by running this process's command again (`sys.argv`)
    with ``hydra.run.dir`` set to Hydra's run dir: they must run this job alone, in its own
    folder, not the whole sweep again (which opened a second parent run). The variables it
    sets for them (``LOCAL_RANK``, ``MASTER_PORT``...) go with the trial: the next one starts
    its own ranks, in a process group of its own."""
    argv, env = sys.argv[:], dict(os.environ)
    sys.argv[1:] = [*hc.overrides.task, "hydra.mode=RUN"]
    with read_write(hc), open_dict(hc):
        run_dir, hc.run.dir = hc.run.dir, hc.runtime.output_dir
    try:
        yield
    finally:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
        sys.argv[:] = argv
        for key in set(os.environ) - set(env):
            del os.environ[key]
        os.environ.update(env)
        with read_write(hc), open_dict(hc):
            hc.run.dir = run_dir


def run_trial(cfg: DictConfig, train: Callable[..., tuple[dict[str, float], str | None]] | None = None,
              search: Any = None, metrics: list[str] | None = None, prune: bool = False) -> Outcome:
    """Train ``cfg`` as one trial of the running sweep; a failure is recorded, not raised.

    ``train(cfg, tags, callbacks)`` returns the run's metrics and id (default: the pipeline's
    `main_metrics`; `nnx.api` keeps the in-process run). ``search``: the Optuna trial of a
    search, which the training reports to (and may be pruned by, when ``prune``);
    ``metrics``: the search's objectives, in its order.
    """
    from nnx.training.pipeline import main_metrics

    hc, info = _hydra(), sweep_info()
    outcome = Outcome(int(hc.job.num), _varying(info))
    in_sweep_process = info.get("pid") == os.getpid()  # Hydra's basic launcher, one worker
    found: dict[str, float] = {}
    tags = {JOB_TAG: str(outcome.num)}
    try:
        recipe = validate(cfg)
        outcome.metric = recipe.run.optimized_metric
        tags = _tags(recipe, outcome.num, info, search)
        earlier = _finished_run(recipe, cfg) if recipe.run.sweep.skip_finished else None
        if earlier is not None:
            outcome.state, (outcome.run_id, outcome.value) = "SKIPPED", earlier
            print(f"trial #{outcome.num} already FINISHED as run {outcome.run_id}: "
                  f"{outcome.metric} {outcome.value}", flush=True)
        else:
            callbacks = [_reporter(search, (metrics or [outcome.metric])[0])] if prune else []
            # In the sweep's own process the store writes of a trial go on while the next
            # one trains; the sweep waits for them at its end.
            with (writes.deferred() if in_sweep_process else contextlib.nullcontext()), _this_job_alone(hc):
                found, outcome.run_id = (train or main_metrics)(cfg, tags, callbacks)
            outcome.state, outcome.value = "COMPLETE", found.get(outcome.metric)
    except TrialPruned as pruned:
        outcome.state, outcome.value = "PRUNED", pruned.value
        outcome.run_id = getattr(pruned, "nnx_run_id", None)
        print(f"nnx: {pruned}", flush=True)
    except Interrupted as stop:
        # Ctrl-C or SIGTERM stops the whole sweep, not just this trial: Hydra's launchers
        # record a job's Exception and go on with the next job, but let KeyboardInterrupt out.
        interrupt = KeyboardInterrupt(str(stop))
        interrupt.exit_code = stop.exit_code  # type: ignore[attr-defined]
        raise interrupt from stop
    except Exception as error:
        outcome.error = redact(f"{type(error).__name__}: {error}")
        outcome.user_error = isinstance(error, NnxError)
        outcome.run_id = getattr(error, "nnx_run_id", None) or _record_failure(cfg, tags, error)
        print(f"nnx: trial #{outcome.num} failed: {outcome.error}", file=sys.stderr, flush=True)
    if not in_sweep_process and not writes.writes_deferred():  # a launcher's worker may end
        with contextlib.suppress(NnxError):  # without running atexit
            writes.drain()
    if outcome.state in ("COMPLETE", "SKIPPED"):
        _check_values(outcome, found or {outcome.metric: outcome.value}, metrics or [outcome.metric])
    return outcome


def _check_values(outcome: Outcome, found: dict[str, float], metrics: list[str]) -> None:
    """A finished trial without a finite value of each objective is a FAIL (Optuna refuses it)."""
    values = [found.get(m) for m in metrics]  # a skipped trial: its optimized_metric only
    missing = [m for m, v in zip(metrics, values, strict=True) if v is None]
    if missing or not all(math.isfinite(v) for v in values):
        outcome.state = "FAIL"
        outcome.error = f"no metric {', '.join(missing)}" if missing else "a metric is not finite"
    else:
        outcome.values = [float(v) for v in values]


class TrialPruned(Exception):
    """Raised at the end of the epoch after which the pruner stopped the trial."""

    nnx_run_status = "KILLED"  # how tracking ends the run (nnx.tracking.tracker.Tracker.active)

    def __init__(self, number: int, epoch: int, value: float) -> None:
        self.number, self.epoch, self.value = number, epoch, value
        self.nnx_run_tags = {"nnx.pruned": "true", "nnx.pruned_epoch": str(epoch),
                             "optuna.trial_state": "PRUNED"}
        super().__init__(f"trial #{number} pruned after epoch {epoch} ({value:.4g})")


def _reporter(trial: Any, metric: str) -> Any:
    """A Lightning callback that reports ``metric`` to the Optuna trial after each validation
    epoch and stops the trial when the pruner says so, at the end of that epoch.

    With ``eval.folds=k`` every fold's trainer gets this one callback: each validation epoch
    of each fold is one step, numbered on across folds, so trials are compared at the same
    fold and epoch, and a pruned trial trains none of its remaining folds.
    """
    import pytorch_lightning as pl

    class PruneReport(pl.Callback):
        def __init__(self) -> None:
            self.steps, self.pruned = 0, None

        def on_validation_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            value = trainer.callback_metrics.get(metric)
            if trainer.sanity_checking or self.pruned is not None or value is None:
                return
            if not math.isfinite(float(value)):
                return
            trial.report(float(value), self.steps)
            self.steps += 1
            if trial.should_prune():
                self.pruned = TrialPruned(trial.number, trainer.current_epoch + 1, float(value))
                trainer.should_stop = True

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: Any) -> None:
            if self.pruned is not None:  # the epoch's report (logged before this) is complete
                raise self.pruned

    return PruneReport()


def bury(job_dir: Path, num: int, overrides: list[str], error: str, uri: str | None = None) -> Outcome:
    """The outcome of a trial whose process died (``kill -9``, out of memory): its MLflow run,
    left RUNNING, is marked FAILED, and its outcome FAIL is written, unless it had finished.

    The run's record holds the store's URI with credentials masked; ``uri`` (the sweep's
    own) is the one to connect with when it is that store.
    """
    if (job_dir / TRIAL_FILE).is_file():
        return Outcome(**json.loads((job_dir / TRIAL_FILE).read_text()))
    swept = set(sweep_info().get("swept", [])) or None
    shown = [o for o in overrides if swept is None or o.split("=", 1)[0].lstrip("+~") in swept]
    outcome = Outcome(num, shown, "FAIL", error=error, run_id=_fail_run(job_dir, error, uri))
    outcome.save(job_dir)
    return outcome


def _fail_run(job_dir: Path, error: str, uri: str | None) -> str | None:
    from nnx.tracking.store import Store
    from nnx.training.resume import RECORD

    record_file = job_dir / RECORD
    if not record_file.is_file():
        return None
    record: Any = OmegaConf.load(record_file)
    tracking = record.config.get("tracking") or {}
    if not record.run_id or tracking.get("backend") != "mlflow":
        return None
    store = Store.of(uri if uri and redact_uri(uri) == tracking.uri else str(tracking.uri))
    with contextlib.suppress(Exception):  # the run's store may be gone; the outcome is what counts
        with store.session() as client:
            client.set_tag(record.run_id, "nnx.error", error)
            client.set_terminated(record.run_id, "FAILED")
    return str(record.run_id)
