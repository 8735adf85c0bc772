"""A search run: workers that ask the study for a trial, run it as a job of this sweep, tell
the result, and ask again as soon as it ends. No batches: a slow trial holds up nobody.

- ``n_jobs=1`` with Hydra's basic launcher: one worker, in this process.
- ``n_jobs=N``: N worker processes on this machine, forked from this one once it has
  imported the training (each with cores / N torch threads): a worker starts in
  milliseconds instead of importing Lightning again.
- another launcher (``hydra/launcher=submitit_local|submitit_slurm|joblib``): N jobs of that
  launcher, each a worker sharing the study's storage.

The study counts COMPLETE and PRUNED trials toward ``n_trials``, in total over every run of
the same command: running it again continues the study. FAIL trials (an error, a worker
killed, Ctrl-C) do not count and are asked again, up to ``max_failures`` per run. Trials
left RUNNING by a crash are marked FAIL when the search starts again (`fail_stale`). Asking
is serialised by a lock file in the sweep dir, so N workers never start more than
``n_trials`` in total.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nnx.errors import NnxError
from nnx.shutdown import exit_now
from nnx.sweeps.study import FINISHED_STATES, SearchSpec, open_study
from nnx.sweeps.trial import Outcome, bury, run_trial
from nnx.tracking import writer as writes

__all__ = ["run_search", "work", "fail_stale", "JobRunner"]

_LOCK = ".nnx-ask.lock"
#: What a trial imports (seconds of Lightning, torch, torchmetrics): a forked worker has them.
_TRIAL_MODULES = ("pytorch_lightning", "nnx.training.fit", "nnx.training.task", "nnx.training.trainer",
                  "nnx.training.callbacks", "nnx.training.evaluation", "nnx.training.kfold",
                  "nnx.tracking.mlflow_run", "nnx.data.splits")


@dataclass
class JobRunner:
    """Runs one trial as a Hydra job of this sweep, in the calling process (picklable)."""

    hydra_context: Any
    config: DictConfig

    @property
    def sweep_dir(self) -> Path:
        return Path(str(self.config.hydra.sweep.dir))

    @property
    def tracking_uri(self) -> str | None:
        """The sweep's MLflow store as configured (a server's credentials included)."""
        uri = OmegaConf.select(self.config, "tracking.uri")
        return None if uri is None else str(uri)

    def run(self, trial: Any, spec: SearchSpec) -> Outcome:
        """The trial's outcome: the return value of its job (`nnx.sweeps.trial.run_trial`)."""
        from hydra.core.hydra_config import HydraConfig
        from hydra.core.utils import JobStatus, run_job

        overrides = [f"{name}={value}" for name, value in trial.params.items()] + spec.fixed
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{trial.number}"
            sweep_config.hydra.job.num = trial.number
        HydraConfig.instance().set_config(sweep_config)
        trial.set_user_attr("nnx.job_dir", str(Path(str(sweep_config.hydra.sweep.dir),
                                                    str(sweep_config.hydra.sweep.subdir)).resolve()))
        task = functools.partial(run_trial, search=trial, metrics=spec.metrics,
                                 prune=spec.pruner["name"] != "none")
        result = run_job(hydra_context=self.hydra_context, task_function=task, config=sweep_config,
                         job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        if result.status == JobStatus.COMPLETED:
            return result.return_value
        error = result._return_value  # the job failed outside its trial (Hydra kept the error)
        return Outcome(trial.number, overrides, error=f"{type(error).__name__}: {error}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tell(study: Any, trial: Any, outcome: Outcome) -> None:
    from optuna.trial import TrialState

    if outcome.run_id:
        trial.set_user_attr("nnx.run_id", outcome.run_id)
    if outcome.state in ("COMPLETE", "SKIPPED"):
        study.tell(trial, values=outcome.values)
        return
    if outcome.error:
        trial.set_user_attr("nnx.error", outcome.error[:500])
    study.tell(trial, state=TrialState[outcome.state])


def work(spec: SearchSpec, job: JobRunner, worker: int = 0) -> None:
    """One worker: ask, run, tell, until the study holds ``n_trials`` finished trials."""
    from optuna.trial import TrialState

    study = open_study(spec, worker)
    if spec.sampler.get("seed") is not None and study.trials:  # a resumed study: new proposals
        study = open_study(spec, worker, offset=len(study.trials))
    failures = 0
    while failures < spec.max_failures:
        with _locked(job.sweep_dir / _LOCK):
            trials = study.get_trials(deepcopy=False)
            if sum(t.state.name in (*FINISHED_STATES, "RUNNING") for t in trials) >= spec.n_trials:
                return
            trial = study.ask(spec.space)
            trial.set_user_attr("nnx.pid", os.getpid())
        try:
            outcome = job.run(trial, spec)
        except KeyboardInterrupt:
            trial.set_user_attr("nnx.error", "interrupted (Ctrl-C or SIGTERM)")
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as error:  # noqa: BLE001  e.g. its overrides do not compose: the next trial
            print(f"nnx: trial #{trial.number} failed: {type(error).__name__}: {error}",
                  file=sys.stderr, flush=True)
            outcome = Outcome(trial.number, [], error=f"{type(error).__name__}: {error}")
        _tell(study, trial, outcome)
        failures += outcome.state == "FAIL"
    print(f"nnx: worker {worker} stops after {failures} failed trials (max_failures)",
          file=sys.stderr, flush=True)


def fail_stale(study: Any, pid: int | None = None, why: str = "left RUNNING by a crash",
               uri: str | None = None) -> list[int]:
    """Mark RUNNING trials (of worker ``pid``, or all) FAIL, after their runs and outcomes
    (`nnx.sweeps.trial.bury`; ``uri``: the sweep's store, credentials and all)."""
    from optuna.trial import TrialState

    failed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if pid is not None and trial.user_attrs.get("nnx.pid") != pid:
            continue
        job_dir = trial.user_attrs.get("nnx.job_dir")
        if job_dir:  # first the run and the outcome, then the study: its FAIL means all are done
            overrides = [f"{k}={v}" for k, v in trial.params.items()]
            bury(Path(job_dir), trial.number, overrides, f"WorkerDied: {why}", uri)
        study._storage.set_trial_user_attr(trial._trial_id, "nnx.error", why)
        study.tell(trial.number, state=TrialState.FAIL)
        failed.append(trial.number)
    return failed


def _worker_process(spec: SearchSpec, job: JobRunner, worker: int, writers: list[Any]) -> None:
    """The body of a local worker process (forked: the imports and Hydra's state are there;
    ``writers``: one started tracking writer per worker, this one's is ``writers[worker]``)."""
    os.setsid()  # Ctrl-C reaches the driver only, which passes it on once
    if writers:
        writes.adopt(writers, worker)
    import torch

    torch.set_num_threads(spec.torch_threads)
    try:
        # a trial's last writes are stored while the next one trains: its writer goes on
        # without this process (killed or not), and this process drains it when it exits
        with writes.deferred():
            work(spec, job, worker)
    except KeyboardInterrupt:
        exit_now(130)
    exit_now(0)  # as the `nnx` command: no second of teardown per worker at the study's end


def _local_workers(spec: SearchSpec, job: JobRunner, study: Any) -> None:
    import importlib
    import multiprocessing
    from multiprocessing.connection import wait

    from nnx.sweeps.sweep import current

    parent = current().parent
    # the workers share this process's tracking writer, started with a connection for each
    # when the parent run opened: its MLflow is imported and the store open by now
    writers = writes.hand_over(parent.store, spec.n_jobs) if parent is not None else []
    for module in _TRIAL_MODULES:  # imported once here, for every forked worker
        importlib.import_module(module)
    current().settle()  # no thread of this process may hold a lock when it forks
    sys.stdout.flush()
    sys.stderr.flush()
    fork = multiprocessing.get_context("fork")
    procs = [fork.Process(target=_worker_process, args=(spec, job, i, writers), name=f"nnx-worker-{i}")
             for i in range(spec.n_jobs)]
    for proc in procs:
        proc.start()
    writes.let_go(writers)
    ended: set[int] = set()
    restore_sigterm = _stop_on_sigterm()

    def reap() -> None:
        for proc in procs:
            if proc.exitcode is not None and proc.pid not in ended:
                ended.add(proc.pid)
                if proc.exitcode not in (0, 130):
                    why = f"worker {proc.pid} died (exit {proc.exitcode}: kill -9, out of memory?)"
                    for number in fail_stale(study, proc.pid, why, job.tracking_uri):
                        print(f"nnx: trial #{number} failed: {why}", file=sys.stderr, flush=True)

    try:
        while len(ended) < len(procs):  # woken as soon as a worker ends
            wait([proc.sentinel for proc in procs if proc.pid not in ended], timeout=1.0)
            reap()
        writes.join_handed(writers)
    except KeyboardInterrupt:
        for proc in procs:  # each worker ends its epoch, records its trial and exits
            if proc.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGINT)
        for proc in procs:
            proc.join()
        reap()
        raise
    finally:
        restore_sigterm()


def _stop_on_sigterm() -> Any:
    """Until the returned function is called, SIGTERM (a job manager, ``timeout``) stops the
    search as Ctrl-C does: the workers, in sessions of their own, would otherwise train on
    without their driver. Exit status 143."""
    import threading

    if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
        return lambda: None

    def stop(signum: int, frame: Any) -> None:
        interrupt = KeyboardInterrupt("SIGTERM")
        interrupt.exit_code = 128 + signum  # type: ignore[attr-defined]
        raise interrupt

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, previous)


class WorkerTask:
    """The task of a launcher's job that is a worker (``hydra/launcher=submitit_local`` ...)."""

    def __init__(self, spec: SearchSpec, job: JobRunner) -> None:
        self.spec, self.job = spec, job

    def __call__(self, cfg: DictConfig) -> None:
        from hydra.core.hydra_config import HydraConfig

        with _torch_threads(self.spec.torch_threads):
            work(self.spec, self.job, int(HydraConfig.get().job.num))


def _launcher_workers(spec: SearchSpec, job: JobRunner) -> None:
    from hydra.core.plugins import Plugins

    launcher = Plugins.instance().instantiate_launcher(
        config=job.config, hydra_context=job.hydra_context, task_function=WorkerTask(spec, job))
    jobs = [[*spec.fixed, f"hydra.sweep.subdir=workers/{i}"] for i in range(spec.n_jobs)]
    for result in launcher.launch(jobs, initial_job_idx=0):
        _ = result.return_value  # a worker that failed outside its trials raises here


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    """torch on ``threads`` threads while the trials run in this process, then as it was: a
    search run from Python (`nnx.search`) leaves its caller's setting alone."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_search(*, hydra_context: Any, config: DictConfig) -> None:
    """The trials of ``nnx -m hparams_search=...``, run by its workers. The search was checked
    and its study opened when the sweep started (`nnx.sweeps.sweep`), which sums it up at its end."""
    from nnx.sweeps.sweep import current

    running = current()
    if running is None or running.plan.spec is None:
        raise NnxError("nnx's Optuna sweeper needs nnx's sweep callback (hydra.callbacks.nnx_sweep).")
    spec = running.plan.spec
    job = JobRunner(hydra_context, config)
    job.sweep_dir.mkdir(parents=True, exist_ok=True)
    study = open_study(spec)
    for number in fail_stale(study, uri=job.tracking_uri):
        print(f"nnx: trial #{number} was left RUNNING by a crash: marked FAIL", file=sys.stderr)
    before = sum(t.state.name in FINISHED_STATES for t in study.get_trials(deepcopy=False))
    print(f"study '{spec.study_name}' in {spec.tags()['optuna.storage']}: {before} of "
          f"{spec.n_trials} trials finished, {spec.n_jobs} worker(s), sampler {spec.sampler['name']}, "
          f"pruner {spec.pruner['name']}", flush=True)
    launcher = str(config.hydra.launcher.get("_target_", ""))
    if not launcher.endswith("BasicLauncher"):
        _launcher_workers(spec, job)
    elif spec.n_jobs == 1:
        with _torch_threads(spec.torch_threads):
            work(spec, job)
    else:
        _local_workers(spec, job, study)
    ended = "its worker ended without finishing it"  # a dead job's (another launcher)
    for number in fail_stale(study, why=ended, uri=job.tracking_uri):
        print(f"nnx: trial #{number} failed: {ended}", file=sys.stderr)
