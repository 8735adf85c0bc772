"""The parent run of a sweep in MLflow: opened before its first trial, closed with the best
trial's metric and params, the counts of each outcome and, for a search, what the study
found (`conclude`: its best trial or Pareto front, Optuna's plots).

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
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nnx.config.schemas import TrackingConfig
from nnx.errors import NnxError
from nnx.sweeps.plan import SweepStopped
from nnx.sweeps.study import SearchSpec, open_study
from nnx.sweeps.trial import JOB_TAG, Outcome
from nnx.tracking import writer as writes
from nnx.tracking.tracker import PARENT_TAG
from nnx.training.resume import OUTPUT_DIR_TAG

__all__ = ["open_parent", "close_parent", "conclude"]

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


def open_parent(tracking: TrackingConfig, tags: dict[str, str], trials_here: bool, workers: int = 0) -> Any:
    """The started parent run's tracker; `SweepStopped` when the store refuses it. Its
    writer warms up the report's figures meanwhile: it draws the best trial's at the end.

    ``workers``: how many local workers this process will run (a search's); its tracking
    writer gets a connection for each it forks (`nnx.tracking.writer.hand_over`).
    """
    from nnx.tracking.figures import REPORT_PLOTS
    from nnx.tracking.mlflow_run import make_tracker

    tracker = make_tracker(tracking)
    if workers > 1:
        writes.writer(tracker.store, spare=workers)
    try:
        with _importing(_TRIAL_IMPORT if trials_here else None):
            tracker.connect(REPORT_PLOTS)
            tracker.start({}, tags)
    except NnxError as error:  # unreachable, refused credentials, read-only user
        raise SweepStopped(error) from None
    return tracker


def close_parent(tracker: Any, outcomes: list[Outcome], best: Outcome | None, metric: str,
                 found: dict[str, Any] | None) -> None:
    """Give the parent run the best trial's params and metric, the counts (and the study), and
    close it: FINISHED unless no trial scored."""
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


def _children_by_job(store: Any, experiment_id: str, parent_run_id: str) -> dict[str, str]:
    """``{job number: run id}`` of the parent's children (runs in the tracking writer)."""
    children = store.client.search_runs(
        [experiment_id], f"tags.`{PARENT_TAG}` = '{parent_run_id}'", max_results=10000
    )
    return {r.data.tags.get(JOB_TAG): r.info.run_id for r in children}


def _record_best(store: Any, run_id: str, tags: dict[str, str], metrics: dict[str, float],
                 best_run_id: str | None) -> None:
    """The parent's summary tags, the best metric and the best trial's params, and the best
    trial's report figures (in the writer)."""
    from mlflow.entities import Metric, RunTag

    best = store.client.get_run(best_run_id).data if best_run_id else None
    store.client.log_batch(run_id, metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                           tags=[RunTag(k, v) for k, v in tags.items()])
    store.log_params(run_id, best.params if best else {})
    if best is not None and OUTPUT_DIR_TAG in best.tags:  # its report figures: the trials kept numbers
        store.log_saved_plots(best_run_id, best.tags[OUTPUT_DIR_TAG])


def _record_search(store: Any, run_id: str, found: dict[str, Any], children: list[list[Any]]) -> None:
    """The study on the parent run (counts, best trial or Pareto front, plots), and each
    child's final Optuna state (in the writer)."""
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


def _study_summary(study: Any, spec: SearchSpec) -> dict[str, Any]:
    """Counts by state, the best trial (or the Pareto front), for the parent run."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    counts = {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState}
    summary: dict[str, Any] = {"counts": counts, "spec": spec.tags(), "metrics": spec.metrics,
                               "states": {str(t.number): t.state.name for t in trials}}
    if not counts["complete"]:
        return summary
    if len(spec.directions) == 1:
        best = study.best_trial
        summary["best"] = {"number": best.number, "value": best.value, "params": best.params}
    else:
        summary["pareto"] = [{"number": t.number, "values": t.values, "params": t.params}
                             for t in study.best_trials]
    return summary


def _save_plots(study: Any, folder: Path) -> list[Path]:
    """Optimisation history, parameter importances and parallel coordinates as PNGs.

    Uses Optuna's matplotlib backend with figures closed after saving (no pyplot state
    left behind); a plot Optuna cannot draw for this study (too few trials) is skipped.
    """
    import warnings

    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as plots

    folder.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    single = len(study.directions) == 1
    drawers = {"optimization_history": plots.plot_optimization_history,
               "param_importances": plots.plot_param_importances,
               "parallel_coordinate": plots.plot_parallel_coordinate}
    for name, draw in drawers.items():
        target = {} if single else {"target": lambda t: t.values[0],
                                    "target_name": "objective 0"}
        with warnings.catch_warnings(), plt.rc_context():
            warnings.simplefilter("ignore")
            try:
                axes = draw(study, **target)
            except (ValueError, RuntimeError, ZeroDivisionError):
                continue
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
            path = folder / f"{name}.png"
            figure.savefig(path, dpi=80, bbox_inches="tight")
            plt.close(figure)
            saved.append(path)
    return saved


def conclude(spec: SearchSpec, folder: Path) -> dict[str, Any]:
    """What the study found, for the sweep's end: `study_summary`, its plots (PNGs in
    ``folder/plots``) and ``optimization_results.yaml``, as Hydra's Optuna sweeper wrote it."""
    study = open_study(spec)
    summary = _study_summary(study, spec)
    if spec.plots:
        summary["plots"] = [str(p) for p in _save_plots(study, folder / "plots")]
    if "best" in summary:
        best = summary["best"]
        results = {"name": "optuna", "best_params": best["params"], "best_value": best["value"]}
    elif "pareto" in summary:
        results = {"name": "optuna", "solutions": [{"params": p["params"], "values": p["values"]}
                                                   for p in summary["pareto"]]}
    else:
        return summary
    OmegaConf.save(OmegaConf.create(results), folder / "optimization_results.yaml")
    return summary
