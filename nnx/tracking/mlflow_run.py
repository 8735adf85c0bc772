"""MLflow as the tracker: one run per training, nested runs for folds and trials.

The store work happens in the writer of the run's store (`nnx.tracking.writer`): the
training process sends plain data (params, metric values, texts, the numbers behind the
figures) to `nnx.tracking.mlflow_store.MlflowStore` in a second process, which imports
MLflow, opens the store, draws the figures and writes. Only creating a run waits for the
store (the caller needs its id); everything else is queued in order. Metrics are buffered
and sent every `_FLUSH_EVERY_S` and when the run ends, in one synchronous ``log_batch`` per
1000 values (no MLflow async logging: its shutdown in ``set_terminated`` waits about a
second). The run ends FINISHED, FAILED (an exception) or KILLED (Ctrl-C, SIGTERM).

Everything recorded (params, tags, run names, text artifacts, errors) is redacted in the
training process before it is sent (`nnx.config.secrets`). The store's credentials go to
the writer once, when it starts; the training process never holds them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nnx.config.environment import scoped_env
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact, redact_tree
from nnx.tracking import writer as writes
from nnx.tracking.links import run_link, runs_link
from nnx.tracking.mlflow_store import MlflowStore
from nnx.tracking.store import Store
from nnx.tracking.tracker import PARENT_TAG, Tracker

__all__ = ["MlflowTracker", "make_tracker", "git_commit", "GIT_COMMIT_TAG"]

#: MLflow's tag for the source's git commit.
GIT_COMMIT_TAG = "mlflow.source.git.commit"
_FLUSH_EVERY_S = 10.0  # how often buffered metrics reach the store during training


def git_commit() -> str | None:
    """The commit checked out where nnx runs (None outside a git work tree)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


#: `git_commit` asked once per process (a sweep's trials share it).
_git_commit = functools.cache(git_commit)


def _no_progress_bars() -> contextlib.AbstractContextManager[None]:
    return scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})


class MlflowTracker(Tracker):
    """Logs to any MLflow tracking URI through the `MlflowStore` of its store's writer
    (`nnx.tracking.writer`), never through MLflow's global fluent state.

    Everything it records (params, tags, text artifacts, errors) is redacted first
    (`nnx.config.secrets`).
    """

    def __init__(self, cfg: TrackingConfig, parent_run_id: str | None = None,
                 store: Store | None = None) -> None:
        self.cfg = cfg
        self.store = store or Store.of(cfg.uri)
        self.experiment_id: str | None = None
        self._opened: Any = None  # the writer's answer to opening the store
        self.parent_run_id = parent_run_id
        self._buffer: list[tuple[str, float, int, int]] = []  # metrics not yet sent
        self._flushed_at = time.monotonic()

    @property
    def writer(self) -> writes.Writer:
        return writes.writer(self.store)

    def connect(self, plots: Sequence[str] = ()) -> None:
        """Check the store without MLflow (milliseconds) and let the writer open it and warm
        up the learning curves and ``plots`` meanwhile.

        A store that the writer then cannot open fails at `start`, before any training.
        """
        if self._opened is None:
            self.store.check()
            self._opened = self.writer.now(MlflowStore.open_experiment, self.cfg.experiment)
            self.writer.later(MlflowStore.warm_up, list(plots))  # while the caller starts

    def _experiment(self) -> str:
        self.connect()
        if self.experiment_id is None:
            self.experiment_id = self._opened.result()
        return self.experiment_id

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(mlflow_store, *args)`` in the writer, after everything sent before; its value."""
        return self.writer.barrier(fn, *args)

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        experiment_id = self._experiment()
        if run_id is not None:
            self.writer.now(MlflowStore.reopen_run, run_id).result()
            self.run_id = run_id
            self._watch_system()
            return
        all_tags = redact_tree({**tags, **{str(k): str(v) for k, v in self.cfg.tags.items()}})
        if self.parent_run_id:
            all_tags[PARENT_TAG] = self.parent_run_id
        commit = _git_commit()
        if commit:
            all_tags[GIT_COMMIT_TAG] = commit
        self.run_id = self.writer.now(
            MlflowStore.create_run, experiment_id, self.cfg.experiment, redact(self.cfg.run_name),
            all_tags, {k: redact(v) for k, v in params.items()},
        ).result()
        self._watch_system()

    def _watch_system(self) -> None:
        if self.cfg.system_metrics:
            self.writer.later(MlflowStore.watch_system, self.run_id)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Buffer the values; send them every `_FLUSH_EVERY_S` seconds and when the run ends.

        A store write costs milliseconds of CPU; on a small model that is as much as an
        epoch, so a short run writes its metrics once, and a long one still shows progress
        in the dashboard.
        """
        stamp = int(time.time() * 1000)
        self._buffer += [(k, float(v), stamp, step) for k, v in metrics.items()]
        if time.monotonic() - self._flushed_at >= _FLUSH_EVERY_S:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self.writer.later(MlflowStore.log_metrics, self.run_id, self._buffer)
        self._buffer = []
        self._flushed_at = time.monotonic()

    def log_text(self, text: str, artifact_file: str) -> None:
        self.writer.later(MlflowStore.log_text, self.run_id, redact(text), artifact_file)

    def log_plot(self, plot: str, data: Any, artifact_file: str,
                 copy_to: Path | None = None) -> None:
        self.writer.later(MlflowStore.log_plot, self.run_id, plot, data, artifact_file,
                          None if copy_to is None else str(copy_to))

    def prepare_plots(self, frames: list[tuple[str, tuple]]) -> None:
        self.writer.later(MlflowStore.prepare_plots, frames)

    def log_artifacts(self, local_dir: Any, artifact_path: str) -> None:
        """Queue the upload of ``local_dir`` (a folder that stays, such as the run's
        ``predictor/``; the writer reads it when it gets there)."""
        self.writer.later(MlflowStore.log_artifacts, self.run_id, str(local_dir), artifact_path)
    def log_model(self, python_model: Any, artifacts: dict[str, str], example: Any) -> None:
        import logging
        import tempfile
        import warnings

        import mlflow.pyfunc
        import torch

        from nnx import __version__

        # pyfunc with nnx's own predictor: raw inputs in (the run's preprocessing applies),
        # predictions out; MLflow infers the signature by predicting the example (it loads
        # the model back for that: no progress bar for its artifact "download"). Saved
        # here (the example is not plain data), uploaded by the writer before the folder goes.
        # MLflow says it infers it (INFO) and hints at integer columns in a table's example
        # (a UserWarning): nnx's predictor fills missing values itself, so neither is news.
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        with tempfile.TemporaryDirectory() as tmp, _no_progress_bars(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
            mlflow.pyfunc.save_model(
                f"{tmp}/model", python_model=python_model, artifacts=artifacts,
                input_example=example,
                pip_requirements=[f"nnx=={__version__}", f"torch=={torch.__version__.split('+')[0]}"],
            )
            self.call(MlflowStore.log_artifacts, self.run_id, f"{tmp}/model", "model")

    def log_datasets(self, datasets: list[dict[str, Any]]) -> None:
        self.writer.later(MlflowStore.log_datasets, self.run_id, datasets)

    def record_error(self, error: BaseException) -> None:
        import traceback

        if self._opened is None or self.run_id is None:
            return
        self.writer.later(
            MlflowStore.record_error, self.run_id,
            redact(f"{type(error).__name__}: {error}")[:5000],
            redact("".join(traceback.format_exception(error))),
        )

    def set_tags(self, tags: dict[str, str]) -> None:
        if self._opened is not None and self.run_id is not None and tags:
            self.writer.later(MlflowStore.set_tags, self.run_id, redact_tree(dict(tags)))

    def child(self, name: str) -> MlflowTracker:
        return MlflowTracker(dataclasses.replace(self.cfg, run_name=name), self.run_id, self.store)

    def finish(self, status: str) -> None:
        """Queue the run's last metrics and its end; `nnx.tracking.writer.drain` waits for them."""
        self._flush()
        self.writer.later(MlflowStore.terminate, self.run_id, status, int(time.time() * 1000))

    def location(self) -> list[str]:
        local = self.store.kind != "server"  # a server is its own dashboard
        lines = [f"dashboard: mlflow ui --backend-store-uri {self.store.near()}"] if local else []
        return lines + [
            f"run:       {run_link(self.store.dashboard, self.experiment_id, self.run_id)}",
            f"all runs:  {runs_link(self.store.dashboard, self.experiment_id)}",
        ]


def make_tracker(cfg: TrackingConfig) -> Tracker:
    """The tracker named by ``tracking.backend``."""
    return MlflowTracker(cfg) if cfg.backend == "mlflow" else Tracker()
