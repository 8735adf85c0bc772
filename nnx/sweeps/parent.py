"""The parent run of a sweep in MLflow: opened before its first trial, closed with the best
trial's metric and params, the counts of each outcome and, for a search, the study.

The writes run in the tracking writer (`nnx.tracking.writer`). Nothing here imports torch or
Lightning, except on a second thread while the parent run opens, when the trials run in
this process (`_importing`).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import threading
from collections.abc import Iterator
from typing import Any

from nnx.config.schemas import TrackingConfig
from nnx.errors import NnxError
from nnx.sweeps.plan import SweepStopped
from nnx.sweeps.trial import JOB_TAG, Outcome
from nnx.tracking import writer as writes
from nnx.tracking.tracker import PARENT_TAG

__all__ = ["open_parent", "close_parent"]

#: What the first trial of a sweep imports first (`nnx.training.pipeline.load_data`).
_TRIAL_IMPORT = "pytorch_lightning"


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


def open_parent(tracking: TrackingConfig, tags: dict[str, str], trials_here: bool) -> Any:
    """The started parent run's tracker; `SweepStopped` when the store refuses it."""
    from nnx.tracking.mlflow_run import make_tracker

    tracker = make_tracker(tracking)
    try:
        with _importing(_TRIAL_IMPORT if trials_here else None):
            tracker.start({}, tags)
    except NnxError as error:  # unreachable, refused credentials, read-only user
        raise SweepStopped(error) from None
    tracker.pause()  # the launcher's workers must not inherit a server's credentials
    return tracker


def close_parent(tracker: Any, outcomes: list[Outcome], best: Outcome | None, metric: str,
                 found: dict[str, Any] | None) -> None:
    """Give the parent run the best trial's params and metric, the counts (and the study), and
    close it: FINISHED unless no trial scored."""
    tracker.connect()  # the server's credentials again, until the parent closes
    by_job = tracker.call(_children_by_job, tracker.experiment_id, tracker.run_id)
    for outcome in outcomes:  # a trial that failed before its run opened knows no run id
        outcome.run_id = outcome.run_id or by_job.get(str(outcome.num))
    tags = {f"nnx.sweep.{name}": str(sum(o.state == state for o in outcomes))
            for name, state in (("failed", "FAIL"), ("skipped", "SKIPPED"), ("pruned", "PRUNED"))}
    tags["nnx.sweep.trials"] = str(len(outcomes))
    metrics: dict[str, float] = {}
    if best is not None:
        tags["nnx.best_trial"] = str(best.num)
        metrics[metric] = float(best.value)
        if best.run_id:
            tags["nnx.best_run_id"] = best.run_id
    tracker.call(_record_best, tracker.run_id, tags, metrics, best and best.run_id)
    if found is not None:
        children = [[o.run_id, o.num] for o in outcomes if o.run_id]
        tracker.call(_record_search, tracker.run_id, found, children)
    tracker.finish("FINISHED" if best is not None or not outcomes else "FAILED")
    writes.drain()


@writes.op
def _children_by_job(uri: str, experiment_id: str, parent_run_id: str) -> dict[str, str]:
    """``{job number: run id}`` of the parent's children."""
    children = writes.client(uri).search_runs(
        [experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'", max_results=10000
    )
    return {r.data.tags.get(JOB_TAG): r.info.run_id for r in children}


@writes.op
def _record_best(uri: str, run_id: str, tags: dict[str, str], metrics: dict[str, float],
                 best_run_id: str | None) -> None:
    """The parent's summary tags, the best metric and the best trial's params."""
    from mlflow.entities import Metric, RunTag

    from nnx.tracking.mlflow_run import log_params

    store = writes.client(uri)
    params = store.get_run(best_run_id).data.params if best_run_id else {}
    store.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                    tags=[RunTag(k, v) for k, v in tags.items()])
    log_params(store, run_id, params)


@writes.op
def _record_search(uri: str, run_id: str, found: dict[str, Any], children: list[list[Any]]) -> None:
    """The study on the parent run (counts, best trial or Pareto front, plots), and each
    child's final Optuna state."""
    from mlflow.entities import Metric, Param, RunTag

    client, counts = writes.client(uri), found["counts"]
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
        client.log_text(run_id, json.dumps(found["pareto"], indent=1, default=str), "pareto_front.json")
    client.log_batch(run_id, metrics=metrics, tags=tags, params=params[:100])
    for path in found.get("plots", []):
        client.log_artifact(run_id, path, "optuna")
    states = found.get("states", {})
    for child_run_id, number in children:
        child = [RunTag("optuna.trial_state", states.get(str(number), "FAIL"))]
        if front:
            child.append(RunTag("nnx.pareto", str(number in front).lower()))
        client.log_batch(child_run_id, tags=child)
