"""``hydra/launcher=joblib_resilient``: Hydra's joblib launcher that survives a dead worker.

With Hydra's plain joblib launcher, one worker killed from outside (``kill -9``, the kernel's
OOM killer) breaks joblib's pool and ends the whole sweep with a traceback, and that
trial's MLflow run stays RUNNING forever. This launcher (in Hydra's
``hydra_plugins`` namespace package, where Hydra discovers launchers) records
such a trial FAILED, in MLflow and in its outcome (`nnx.sweeps.trial.bury`), and launches
the trials that had not started yet in a fresh pool. A trial that died is not retried: it may die again.
Trials in other workers of the broken pool share its fate (joblib stops them all).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from omegaconf import OmegaConf

__all__ = ["ResilientJoblibLauncher"]


class ResilientJoblibLauncher(JoblibLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        returns: list[Any] = [None] * len(job_overrides)
        waiting = list(range(len(job_overrides)))
        while waiting:
            group = _consecutive_head(waiting)  # job numbers must stay those of the sweep
            try:
                launched = super().launch([job_overrides[i] for i in group], initial_job_idx + group[0])
                for i, result in zip(group, launched, strict=True):
                    returns[i] = result
                waiting = waiting[len(group) :]
            except TerminatedWorkerError:
                started = {i for i in group if self._job_dir(initial_job_idx + i).exists()}
                started = started or {group[0]}  # never loop on a job that cannot start
                for i in started:
                    returns[i] = self._after_death(initial_job_idx + i, job_overrides[i])
                waiting = [i for i in waiting if i not in started]
        return returns

    def _job_dir(self, num: int) -> Path:
        subdir = OmegaConf.to_container(self.config.hydra.sweep, resolve=False)["subdir"]
        return Path(str(self.config.hydra.sweep.dir)) / subdir.replace("${hydra.job.num}", str(num))

    def _after_death(self, num: int, overrides: Sequence[str]) -> JobReturn:
        """The outcome of a trial whose worker died: FAIL, its run FAILED, unless it had finished."""
        from nnx.sweeps.trial import bury

        error = "WorkerDied: the process running this trial was killed (kill -9, out of memory?)"
        outcome = bury(self._job_dir(num), num, list(overrides), error,
                       OmegaConf.select(self.config, "tracking.uri"))
        return JobReturn(overrides=list(overrides), status=JobStatus.COMPLETED, _return_value=outcome)


def _consecutive_head(indices: list[int]) -> list[int]:
    head = indices[:1]
    for i in indices[1:]:
        if i != head[-1] + 1:
            break
        head.append(i)
    return head
