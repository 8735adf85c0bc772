"""Sweeps as one comparable unit: a parent MLflow run per multirun, each trial a child.

`SweepCallback` (a Hydra callback, see ``conf/hydra/default.yaml``) opens the parent run
before the sweeper launches anything and writes its id into ``<sweep dir>/nnx-sweep.json``
for the jobs (`nnx.sweeps.trials`). When the sweep ends it reads every job's
``nnx-trial.json``, prints a summary and gives the parent the best trial's metric and
params. Nothing here imports torch or Lightning, except on a second thread while the parent
run opens, when the trials run in this process (`_importing`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from nnx.config.identity import direction_of
from nnx.config.recipe import to_dataclass
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact, redact_uri
from nnx.errors import NnxError
from nnx.sweeps import study
from nnx.sweeps.trials import JOB_TAG, SWEEP_FILE, TRIAL_FILE, TrialRecord
from nnx.tracking import writer as writes
from nnx.tracking.tracker import PARENT_TAG

__all__ = ["SweepCallback", "SweepStopped", "exit_code", "abort"]

_outcome: dict[str, Any] = {}  # the last sweep of this process: what `exit_code` reports
_open_parent: list[Any] = []  # a parent run not yet closed, for `abort`


class SweepStopped(BaseException):
    """A sweep that cannot start (its store refuses the parent run): no trial is launched.

    A BaseException because Hydra turns a callback's Exception into a warning and launches
    the sweep anyway; the CLI prints ``error`` as one line.
    """

    def __init__(self, error: NnxError) -> None:
        super().__init__(str(error))
        self.error = error


def _swept_keys(config: DictConfig) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(list(config.hydra.overrides.task))
    keys = [o.key_or_group for o in parsed if o.is_sweep_override()]
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    return keys + [k for k in params if k not in keys]


def _short(target: Any) -> str:
    return str(target).rsplit(".", 1)[-1] if target else "none"


#: What the first trial of a sweep imports first (`nnx.training.pipeline.load_data`).
_TRIAL_IMPORT = "pytorch_lightning"


def _trials_in_this_process(config: DictConfig) -> bool:
    """Hydra's basic launcher runs the jobs here; a search does too with one worker."""
    launcher = str(OmegaConf.select(config, "hydra.launcher._target_") or "")
    return launcher.endswith("BasicLauncher") and (OmegaConf.select(config, "hydra.sweeper.n_jobs") or 1) == 1


@contextlib.contextmanager
def _importing(module: str | None) -> Iterator[None]:
    """Import ``module`` on a second thread while the block runs. Opening the parent run waits
    about 2 s for the tracking writer (MLflow's import, the store) with the GIL released; the
    first trial would then spend as long importing Lightning. A failed import is the trial's
    to report."""
    if module is None:
        yield
        return
    thread = threading.Thread(target=_import_quietly, args=(module,), name="nnx-import", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def _import_quietly(module: str) -> None:
    with contextlib.suppress(Exception):
        importlib.import_module(module)


class SweepCallback(Callback):
    """Opens the sweep's parent run, and at the end gives it the best trial and a summary."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from nnx.tracking.mlflow_run import make_tracker

        _outcome.clear()
        sweep_dir = Path(str(config.hydra.sweep.dir)).resolve()  # fixes ${now:...} once
        try:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        except OSError:  # Hydra would only warn; its launcher fails on it next, in one line
            return
        for stale in sweep_dir.rglob(TRIAL_FILE):  # a fixed hydra.sweep.dir, used before
            stale.unlink()
        tracking = to_dataclass(config.get("tracking"), TrackingConfig, "tracking")
        try:
            overrides = list(config.hydra.overrides.task)
            search_tags = study.search_spec(config, overrides).tags() if study.is_search(config) else {}
        except NnxError:  # Hydra would only warn; the sweeper raises it again, before any trial
            return
        swept = _swept_keys(config)
        search = OmegaConf.select(config, "hydra.runtime.choices.hparams_search")
        name = tracking.run_name or f"sweep {search or ' '.join(swept)}"[:200]
        name = redact(name)
        info: dict[str, Any] = {"uri": redact_uri(tracking.uri), "swept": swept, "name": name,
                                "pid": os.getpid()}
        if tracking.backend == "mlflow":
            metric = str(config.get("optimized_metric", "val/loss"))
            tags = {
                "mlflow.runName": name,
                "nnx.sweep": "parent",
                "nnx.sweep.overrides": redact(" ".join(config.hydra.overrides.task)),
                "nnx.sweep.launcher": _short(OmegaConf.select(config, "hydra.launcher._target_")),
                "nnx.sweep.sweeper": _short(OmegaConf.select(config, "hydra.sweeper._target_")),
                "nnx.sweep.dir": str(sweep_dir),
                "nnx.optimized_metric": metric,
                "nnx.direction": direction_of(config.hydra.sweeper, metric),
                **search_tags,
            }
            tracker = make_tracker(tracking)
            try:
                with _importing(_TRIAL_IMPORT if _trials_in_this_process(config) else None):
                    tracker.start({}, tags)
            except NnxError as error:  # unreachable, refused credentials, read-only user
                raise SweepStopped(error) from None
            _open_parent.append(tracker)
            info["parent_run_id"] = tracker.run_id
        (sweep_dir / SWEEP_FILE).write_text(json.dumps(info))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(str(config.hydra.sweep.dir))
        trials = sorted(
            (TrialRecord(**json.loads(p.read_text())) for p in sweep_dir.rglob(TRIAL_FILE)),
            key=lambda t: t.num,
        )
        metric = str(config.get("optimized_metric", "val/loss"))
        direction = direction_of(config.hydra.sweeper, metric)
        if _open_parent:
            _fill_run_ids(_open_parent[-1], trials)
        scored = [t for t in trials if t.status not in ("FAILED", "PRUNED") and _finite(t.value)]
        pick = min if direction == "minimize" else max
        best = pick(scored, key=lambda t: t.value, default=None)
        failed = [t for t in trials if t.status == "FAILED"]
        found = study.read_summary(sweep_dir)
        if _open_parent:
            parent = _open_parent.pop()
            if found is not None:
                _show_search(parent, found, trials)
            _close_parent(parent, trials, best, metric)
        _outcome.update(total=len(trials), failed=failed)
        print(_summary(trials, failed, best, metric), flush=True)
        if found is not None:
            print(_search_summary(found), flush=True)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _children_by_job(store: Any, experiment_id: str, parent_run_id: str) -> dict[str, str]:
    """``{job number: run id}`` of the parent's children (runs in the tracking writer)."""
    children = store.client.search_runs(
        [experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'", max_results=10000
    )
    return {r.data.tags.get(JOB_TAG): r.info.run_id for r in children}


def _fill_run_ids(parent: Any, trials: list[TrialRecord]) -> None:
    """Find each trial's run among the parent's children (a trial knows only its value)."""
    by_job = parent.call(_children_by_job, parent.experiment_id, parent.run_id)
    for trial in trials:
        trial.run_id = trial.run_id or by_job.get(str(trial.num))


def _record_best(store: Any, run_id: str, tags: dict[str, str], metrics: dict[str, float],
                 best_run_id: str | None) -> None:
    """Give the parent run its summary tags, the best metric and the best trial's params
    (runs in the tracking writer)."""
    from mlflow.entities import Metric, RunTag

    params = store.client.get_run(best_run_id).data.params if best_run_id else {}
    store.client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                           tags=[RunTag(k, v) for k, v in tags.items()])
    store.log_params(run_id, params)


def _close_parent(tracker: Any, trials: list[TrialRecord], best: TrialRecord | None,
                  metric: str) -> None:
    """Give the parent run the best trial's params and metric, and close it."""
    tags = {
        "nnx.sweep.trials": str(len(trials)),
        "nnx.sweep.failed": str(sum(t.status == "FAILED" for t in trials)),
        "nnx.sweep.skipped": str(sum(t.status == "SKIPPED" for t in trials)),
        "nnx.sweep.pruned": str(sum(t.status == "PRUNED" for t in trials)),
    }
    metrics: dict[str, float] = {}
    if best is not None:
        tags["nnx.best_trial"] = str(best.num)
        metrics[metric] = float(best.value)
        if best.run_id:
            tags["nnx.best_run_id"] = best.run_id
    tracker.call(_record_best, tracker.run_id, tags, metrics, best and best.run_id)
    tracker.finish("FINISHED" if best is not None or not trials else "FAILED")
    writes.drain()


def _show_search(parent: Any, found: dict[str, Any], trials: list[TrialRecord]) -> None:
    """The study on the parent run (counts, best trial or Pareto front, plots), and each
    child's final Optuna state."""
    children = [[trial.run_id, trial.num] for trial in trials if trial.run_id]
    parent.call(_record_search, parent.run_id, found, children)


def _record_search(store: Any, run_id: str, found: dict[str, Any], children: list[list[Any]]) -> None:
    """Write what `_show_search` shows (runs in the tracking writer)."""
    from mlflow.entities import Metric, Param, RunTag

    client, counts = store.client, found["counts"]
    tags = [RunTag(f"optuna.{state}", str(counts.get(state, 0)))
            for state in ("complete", "pruned", "fail", "running")]
    metrics: list[Metric] = []
    params: list[Param] = []
    if "best" in found:
        best = found["best"]
        tags += [RunTag("optuna.best_trial", str(best["number"])),
                 RunTag("optuna.best_params", json.dumps(best["params"], default=str)[:5000])]
        metrics.append(Metric("optuna/best_value", float(best["value"]), 0, 0))
        params = [Param(f"best.{k}", str(v)[:6000]) for k, v in best["params"].items()]
    front = {p["number"] for p in found.get("pareto", [])}
    if "pareto" in found:
        tags.append(RunTag("nnx.pareto_trials", ",".join(str(n) for n in sorted(front))))
        client.log_text(run_id, json.dumps(found["pareto"], indent=1, default=str),
                        "pareto_front.json")
    client.log_batch(run_id, metrics=metrics, tags=tags, params=params[:100])
    for path in found.get("plots", []):
        client.log_artifact(run_id, path, "optuna")
    states = found.get("states", {})
    for child_run_id, number in children:
        child = [RunTag("optuna.trial_state", states.get(str(number), "FAIL"))]
        if front:
            child.append(RunTag("nnx.pareto", str(number in front).lower()))
        client.log_batch(child_run_id, tags=child)


def _search_summary(found: dict[str, Any]) -> str:
    counts = found["counts"]
    lines = [f"study '{found['spec']['optuna.study_name']}' ({found['spec']['optuna.storage']}): "
             f"{counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned, "
             f"{counts.get('fail', 0)} failed in total"]
    if "best" in found:
        best = found["best"]
        lines.append(f"best trial #{best['number']}: {best['value']:.4g} {best['params']}")
    for point in found.get("pareto", []):
        lines.append(f"pareto trial #{point['number']}: {point['values']} {point['params']}")
    lines.append(f"dashboard: optuna-dashboard {found['spec']['optuna.storage']}")
    return "\n".join(lines)


def _summary(trials: list[TrialRecord], failed: list[TrialRecord], best: TrialRecord | None,
             metric: str) -> str:
    skipped = sum(t.status == "SKIPPED" for t in trials)
    pruned = sum(t.status == "PRUNED" for t in trials)
    lines = [f"sweep: {len(trials)} trials, {len(trials) - len(failed) - skipped - pruned} finished, "
             f"{pruned} pruned, {skipped} skipped (already finished), {len(failed)} failed"]
    if best is not None:
        where = f", run {best.run_id}" if best.run_id else ""
        lines.append(f"best {metric} {best.value:.4g}: trial #{best.num} "
                     f"{' '.join(best.overrides)}{where}")
    lines += [f"failed trial #{t.num} {' '.join(t.overrides)}: {t.error}" for t in failed]
    return "\n".join(lines)


def exit_code() -> int:
    """Non-zero only when every trial of this process's last sweep failed (2: all user errors)."""
    failed, total = _outcome.get("failed", []), _outcome.get("total", 0)
    if not total or len(failed) < total:
        return 0
    return 2 if all(t.user_error for t in failed) else 1


def abort(status: str) -> None:
    """Close a parent run that an interrupted or crashed sweep left open."""
    while _open_parent:
        _open_parent.pop().finish(status)
