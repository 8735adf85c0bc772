"""One job of a sweep: a child run of the sweep's parent, and a failure that never stops it.

Every job reads ``<sweep dir>/nnx-sweep.json`` (written by `nnx.sweeps.callback`), so trials
become children of the parent run whatever process runs them (joblib workers) and in
whatever order. A trial that raises is recorded FAILED and returns the worst value instead
of stopping the sweep; each job writes ``nnx-trial.json`` into its own directory, from
which the callback builds the sweep's summary. Nothing here imports torch or Lightning.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nnx.config.identity import config_hash, direction_of, run_overrides, run_tags
from nnx.config.recipe import to_dataclass
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact, redact_uri
from nnx.errors import Interrupted, NnxError
from nnx.tracking import writer as writes
from nnx.tracking.tracker import PARENT_TAG

__all__ = ["TrialRecord", "in_sweep", "run_trial", "trial_tags", "fail_dead_run", "SWEEP_FILE", "TRIAL_FILE",
           "JOB_TAG"]

SWEEP_FILE = "nnx-sweep.json"
TRIAL_FILE = "nnx-trial.json"
JOB_TAG = "nnx.sweep.job"


@dataclass
class TrialRecord:
    """What one job reports to the end of the sweep (``<job dir>/nnx-trial.json``)."""

    num: int
    overrides: list[str]
    status: str  # FINISHED | FAILED | SKIPPED (already FINISHED in an earlier sweep) | PRUNED
    value: float | None = None
    run_id: str | None = None
    error: str | None = None
    user_error: bool = False


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


def _sweep_info(hc: Any) -> dict[str, Any]:
    path = Path(str(hc.sweep.dir)) / SWEEP_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def _varying(hc: Any, info: dict[str, Any]) -> list[str]:
    """This job's values of the swept keys (``optimizer.lr=0.01``), not the common overrides."""
    swept = set(info.get("swept", []))
    return [o for o in run_overrides() if o.split("=", 1)[0].lstrip("+~") in swept]


def trial_tags(tracking: Any) -> dict[str, str]:
    """Tags that make this run a child of its sweep's parent run (none outside a sweep)."""
    hc = _hydra()
    if hc is None:
        return {}
    info = _sweep_info(hc)
    tags = {JOB_TAG: str(hc.job.num)}
    if info.get("parent_run_id") and info.get("uri") == redact_uri(tracking.uri):
        tags[PARENT_TAG] = info["parent_run_id"]
    if tracking.run_name is None:
        tags["mlflow.runName"] = f"#{hc.job.num} {' '.join(_varying(hc, info))}".strip()[:200]
    return tags


def _finished_run(cfg: DictConfig, metric: str) -> tuple[str, float | None] | None:
    """An earlier FINISHED run of exactly this config in the experiment, if there is one."""
    from nnx.tracking.store import Store

    tracking = to_dataclass(cfg.get("tracking"), TrackingConfig, "tracking")
    if tracking.backend != "mlflow":
        return None
    with Store.of(tracking.uri).session() as client:
        experiment = client.get_experiment_by_name(tracking.experiment)
        if experiment is None:
            return None
        runs = client.search_runs(
            [experiment.experiment_id],
            f"tags.`nnx.config_hash` = '{config_hash(cfg)}' and attributes.status = 'FINISHED'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
    return (runs[0].info.run_id, runs[0].data.metrics.get(metric)) if runs else None


def _record_failure(cfg: DictConfig, error: BaseException) -> str | None:
    """A FAILED child run for a trial that failed before its own run was opened."""
    from nnx.tracking.mlflow_run import make_tracker
    from nnx.tracking.params import flatten

    try:
        tracking = to_dataclass(cfg.get("tracking"), TrackingConfig, "tracking")
        params = flatten(OmegaConf.to_container(cfg, resolve=True))  # the tracker redacts them
        tracker = make_tracker(tracking)
        with tracker.active(params, {**trial_tags(tracking), **run_tags(cfg)}):
            raise error
    except Exception as recorded:
        return getattr(recorded, "nnx_run_id", None)
    return None


def run_trial(
    cfg: DictConfig,
    train: Callable[[DictConfig, dict[str, str], Sequence[Any]], tuple[dict[str, float], str | None]],
) -> float:
    """Run ``train(cfg, tags, callbacks)`` (returning the run's metrics and id) as one job of a
    sweep, ``tags`` making its run a child of the sweep's; a failure is recorded and returns
    the worst value.

    A sweeper needs a float from every trial and Optuna refuses NaN, so a failed trial
    returns +inf when minimising and -inf when maximising. In a search (`nnx.sweeps.pruning`)
    the trial's Optuna state and values go to the worker that runs it.
    """
    from nnx.sweeps import pruning

    hc = _hydra()
    search = pruning.active()
    metric = str(cfg.get("optimized_metric", "val/loss"))
    minimize = direction_of(hc.sweeper, metric) == "minimize"
    worst = math.inf if minimize else -math.inf
    info = _sweep_info(hc)
    # Run in the process that runs the sweep (and its `SweepCallback`), or in a launcher's worker.
    in_sweep_process = info.get("pid") == os.getpid()
    record = TrialRecord(int(hc.job.num), _varying(hc, info), "FINISHED")
    metrics: dict[str, float] = {}
    try:
        skip = OmegaConf.select(cfg, "sweep.skip_finished")
        earlier = _finished_run(cfg, metric) if skip else None
        if earlier is not None:
            record.status, (record.run_id, record.value) = "SKIPPED", earlier
            print(f"trial #{record.num} already FINISHED as run {record.run_id}: "
                  f"{metric} {record.value}", flush=True)
        else:
            tracking = to_dataclass(cfg.get("tracking"), TrackingConfig, "tracking")
            tags = {**trial_tags(tracking), **(search.tags() if search else {})}
            # In the sweep's own process (Hydra's basic launcher) the store writes of a trial
            # go on while the next one trains; the sweep waits for them at its end.
            with writes.deferred() if in_sweep_process else contextlib.nullcontext():
                metrics, record.run_id = train(cfg, tags, search.callbacks() if search else ())
            record.value = metrics.get(metric)
    except pruning.TrialPruned as pruned:
        record.status, record.value = "PRUNED", pruned.value
        record.run_id = getattr(pruned, "nnx_run_id", None)
        print(f"nnx: {pruned}", flush=True)
    except Interrupted as stop:
        # Ctrl-C or SIGTERM stops the whole sweep, not just this trial: Hydra's launchers
        # record a job's Exception and go on with the next job, but let KeyboardInterrupt out.
        interrupt = KeyboardInterrupt(str(stop))
        interrupt.exit_code = stop.exit_code  # type: ignore[attr-defined]
        raise interrupt from stop
    except Exception as error:
        record.status, record.error = "FAILED", redact(f"{type(error).__name__}: {error}")
        record.user_error = isinstance(error, NnxError)
        record.run_id = getattr(error, "nnx_run_id", None) or _record_failure(cfg, error)
        print(f"nnx: trial #{record.num} failed: {record.error}", file=sys.stderr, flush=True)
    if not in_sweep_process:  # a launcher's worker may end without running atexit
        with contextlib.suppress(NnxError):
            writes.drain()
    Path(str(hc.runtime.output_dir), TRIAL_FILE).write_text(json.dumps(asdict(record)))
    if search is not None:
        _tell_worker(search, record, metrics)
    value = record.value
    return worst if value is None or math.isnan(value) else value


def _tell_worker(search: Any, record: TrialRecord, metrics: dict[str, float]) -> None:
    """The trial's Optuna state and values, for the search worker that runs this job."""
    search.run_id = record.run_id
    if record.status == "PRUNED":
        search.state = "PRUNED"
        return
    values = [metrics.get(m) for m in search.metrics]
    if record.status == "FINISHED" and all(v is not None and math.isfinite(v) for v in values):
        search.state, search.values = "COMPLETE", [float(v) for v in values]
    else:
        search.state = "FAIL"
        missing = [m for m, v in zip(search.metrics, values, strict=True) if v is None]
        search.extra["error"] = record.error or (f"no metric {', '.join(missing)}" if missing
                                                 else "a metric is not finite")


def fail_dead_run(job_dir: Path, error: str, uri: str | None = None) -> str | None:
    """Mark the MLflow run of a trial whose process died FAILED (it was left RUNNING).

    The run record holds the store's URI with credentials masked; ``uri`` (the sweep's own)
    is the one to connect with when it is that store.
    """
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
    with store.session() as client:
        client.set_tag(record.run_id, "nnx.error", error)
        client.set_terminated(record.run_id, "FAILED")
    return str(record.run_id)
