"""A multirun as one unit: checked whole before its first trial, one parent MLflow run with
every trial as a child, one summary and one exit code at its end.

`SweepCallback` (a Hydra callback, ``conf/hydra/default.yaml``) runs in the process that runs
the sweep:

- ``on_multirun_start``: the plan is checked (`nnx.sweeps.plan`: every grid point, a search's
  bounds and its study), then the parent run opens and its id reaches every job, in whatever
  process it runs, through the environment (``NNX_SWEEP``, `nnx.sweeps.trial.sweep_info`);
- ``on_job_end``: the job's `Outcome` (its ``JobReturn`` value) is written to its folder, in
  the process that ran it;
- ``on_multirun_end``: the outcomes are read back, the parent gets the best trial (and the
  study, for a search), the summary is printed, and `exit_code` is 1 if a trial failed
  (0 with ``sweep.allow_failures=true``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from nnx.config.identity import direction_of
from nnx.config.secrets import redact, redact_uri
from nnx.errors import NnxError
from nnx.sweeps import parent as parents
from nnx.sweeps.plan import Plan, SweepStopped, plan
from nnx.sweeps.trial import SWEEP_ENV, TRIAL_FILE, Outcome, read_outcomes

__all__ = ["SweepCallback", "SweepStopped", "Sweep", "current", "forget", "exit_code", "abort",
           "format_table"]


@dataclass
class Sweep:
    """The sweep this process runs: its checked plan, folder, parent run and, at its end, outcomes."""

    plan: Plan
    folder: Path
    parent: Any = None
    parent_run_id: str | None = None
    warming: Any = None  # tracking.register: `nnx.sweeps.registration.warm_up`'s thread
    outcomes: list[Outcome] = field(default_factory=list)
    ended: bool = False

    def settle(self) -> None:
        """Wait for the work started on a thread (before forking workers, before registering)."""
        if self.warming is not None:
            self.warming.join()


_running: list[Sweep] = []  # this process's sweep (the CLI runs one)


def current() -> Sweep | None:
    """The sweep this process runs (its search sweeper reads the plan's spec from it)."""
    return _running[-1] if _running else None


def _short(target: Any) -> str:
    return str(target).rsplit(".", 1)[-1] if target else "none"


class SweepCallback(Callback):
    """Checks the sweep, opens its parent run, records each trial, and sums it up."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from nnx.sweeps.study import open_study

        _running.clear()
        folder = Path(str(config.hydra.sweep.dir)).resolve()  # fixes ${now:...} once
        checked = plan(config)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # under a file, on a read-only disk: one line, nothing recorded
            raise SweepStopped(error) from None
        if checked.spec is not None:
            try:  # a study searched under another space or metric stops the sweep here
                open_study(checked.spec)
            except NnxError as error:
                raise SweepStopped(error) from None
        for stale in folder.rglob(TRIAL_FILE):  # a fixed hydra.sweep.dir, used before
            stale.unlink()
        sweep = Sweep(checked, folder)
        _running.append(sweep)
        recipe, tracking = checked.recipe, checked.recipe.tracking
        search = OmegaConf.select(config, "hydra.runtime.choices.hparams_search")
        name = redact(tracking.run_name or f"sweep {search or ' '.join(checked.swept)}"[:200])
        info: dict[str, Any] = {"uri": redact_uri(tracking.uri), "swept": checked.swept, "pid": os.getpid()}
        if tracking.backend == "mlflow":
            metric = recipe.run.optimized_metric
            tags = {
                "mlflow.runName": name,
                "nnx.sweep": "parent",
                "nnx.sweep.overrides": redact(" ".join(config.hydra.overrides.task)),
                "nnx.sweep.launcher": _short(OmegaConf.select(config, "hydra.launcher._target_")),
                "nnx.sweep.sweeper": _short(OmegaConf.select(config, "hydra.sweeper._target_")),
                "nnx.sweep.dir": str(folder),
                "nnx.optimized_metric": metric,
                "nnx.direction": _direction(sweep, config),
                **(checked.spec.tags() if checked.spec else {}),
            }
            trials_here = _trials_here(config)
            workers = checked.spec.n_jobs if checked.spec is not None and trials_here else 0
            sweep.parent = parents.open_parent(tracking, tags, trials_here, workers)
            info["parent_run_id"] = sweep.parent_run_id = sweep.parent.run_id
            if tracking.register:
                from nnx.sweeps.registration import warm_up

                sweep.warming = warm_up()
        os.environ[SWEEP_ENV] = json.dumps(info)  # the jobs', wherever they run

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        outcome = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
        if isinstance(outcome, Outcome):  # a job that failed outside its trial: no outcome
            outcome.save(Path(str(config.hydra.runtime.output_dir)))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = current()
        os.environ.pop(SWEEP_ENV, None)
        if sweep is None:
            return
        sweep.outcomes = read_outcomes(sweep.folder)
        direction = _direction(sweep, config)
        scored = [o for o in sweep.outcomes if o.scored()]
        best = (min if direction == "minimize" else max)(scored, key=lambda o: o.value, default=None)
        recipe = sweep.plan.recipe
        registered = None
        if sweep.parent is not None and recipe.tracking.register:  # the best trial's model only,
            from nnx.sweeps.registration import register_best  # beside the plots and the closing

            registered = register_best(recipe, sweep.parent_run_id, best and best.run_id, sweep.parent.writer,
                                       sweep.warming)
        found = None
        try:
            if sweep.plan.spec is not None:
                found = parents.conclude(sweep.plan.spec, sweep.folder)
            if sweep.parent is not None:
                parents.close_parent(sweep.parent, sweep.outcomes, best, recipe.run.optimized_metric, found)
                sweep.parent = None
        finally:
            if registered is not None:  # its line, once it is done
                registered()
        sweep.ended = True
        print(_summary(sweep.outcomes, best), flush=True)
        if found is not None:
            print(_search_summary(found), flush=True)


def _direction(sweep: Sweep, config: DictConfig) -> str:
    if sweep.plan.spec is not None:
        return sweep.plan.spec.directions[0]
    return direction_of(config.hydra.sweeper, sweep.plan.recipe.run.optimized_metric)


def _trials_here(config: DictConfig) -> bool:
    """Whether the trials run in this process or in processes forked from it (Hydra's basic
    launcher; a search's local workers)."""
    return str(OmegaConf.select(config, "hydra.launcher._target_") or "").endswith("BasicLauncher")


def _count(outcomes: list[Outcome], state: str) -> int:
    return sum(o.state == state for o in outcomes)


def _summary(outcomes: list[Outcome], best: Outcome | None) -> str:
    failed = [o for o in outcomes if o.state == "FAIL"]
    lines = [f"sweep: {len(outcomes)} trials, {_count(outcomes, 'COMPLETE')} finished, "
             f"{_count(outcomes, 'PRUNED')} pruned, {_count(outcomes, 'SKIPPED')} skipped "
             f"(already finished), {len(failed)} failed"]
    if best is not None:
        where = f", run {best.run_id}" if best.run_id else ""
        lines.append(f"best {best.metric} {best.value:.4g}: trial #{best.num} "
                     f"{' '.join(best.overrides)}{where}")
    lines += [f"failed trial #{o.num} {' '.join(o.overrides)}: {o.error}" for o in failed]
    return "\n".join(lines)


def _search_summary(found: dict[str, Any]) -> str:
    counts, spec = found["counts"], found["spec"]
    lines = [f"study '{spec['optuna.study_name']}' ({spec['optuna.storage']}): "
             f"{counts.get('complete', 0)} complete, {counts.get('pruned', 0)} pruned, "
             f"{counts.get('fail', 0)} failed in total"]
    if "best" in found:
        best = found["best"]
        lines.append(f"best trial #{best['number']}: {best['value']:.4g} {best['params']}")
    for point in found.get("pareto", []):
        lines.append(f"pareto trial #{point['number']}: {point['values']} {point['params']}")
    lines.append(f"dashboard: optuna-dashboard {spec['optuna.storage']}")
    return "\n".join(lines)


def forget() -> None:
    """A new command in this process (the Python API, in-process tests): an earlier command's
    sweep no longer decides its exit code or receives its trials."""
    _running.clear()


def exit_code() -> int:
    """0, or 1 when a trial of this process's last sweep failed (2 when every trial failed on
    a user error); failures are allowed with ``sweep.allow_failures=true``."""
    sweep = current()
    if sweep is None or not sweep.ended:
        return 0
    failed = [o for o in sweep.outcomes if o.state == "FAIL"]
    if not failed or sweep.plan.recipe.run.sweep.allow_failures:
        return 0
    return 2 if len(failed) == len(sweep.outcomes) and all(o.user_error for o in failed) else 1


def abort(status: str) -> None:
    """Close the parent run that an interrupted or crashed sweep left open."""
    sweep = current()
    if sweep is not None and sweep.parent is not None:
        sweep.parent.finish(status)
        sweep.parent = None


class ResultTable(Callback):
    """Print ``job | metric | verdict`` for every trial when a multirun ends (after
    `SweepCallback` in ``hydra.callbacks``). ``pass_at``: a result at or above it is ``yes``."""

    def __init__(self, verdict: str = "passed", pass_at: float | None = None) -> None:
        self.verdict, self.pass_at = verdict, pass_at

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(format_table(read_outcomes(Path(str(config.hydra.sweep.dir))), self.verdict, self.pass_at),
              flush=True)


def format_table(outcomes: list[Outcome], verdict: str, pass_at: float | None) -> str:
    """The outcomes as an aligned text table: each trial's swept values, its metric, and the
    verdict when ``pass_at`` is given (a failed trial shows ``failed``)."""
    metric = outcomes[0].metric if outcomes else "result"
    header = ["job", metric] + ([verdict] if pass_at is not None else [])
    rows = [header]
    for o in outcomes:
        value = o.value if o.scored() else None
        row = [" ".join(o.overrides) or "(defaults)", "failed" if value is None else f"{value:.4f}"]
        if pass_at is not None:
            row.append("yes" if value is not None and value >= pass_at else "no")
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])
