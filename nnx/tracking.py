"""Experiment tracking: MLflow by default, nothing with ``tracking=none``.

MLflow is imported only when a run starts. Metrics go out once per epoch as one
asynchronous batch; the run ends FINISHED, FAILED (an exception) or KILLED (Ctrl-C,
SIGTERM).

Every process that writes to a store (a run, a sweep's parent run) opens it with
`open_client`: it fails fast with a `TrackingError` naming the URI when the store cannot
be reached or written, and it makes one SQLite file safe for many processes at once (see
`open_client`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import os
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnx.errors import Interrupted, TrackingError
from nnx.runinfo import PARENT_TAG
from nnx.schema import TrackingConfig

__all__ = ["Tracker", "MlflowTracker", "make_tracker", "resolve_uri", "open_client", "open_store",
           "missing_sqlite_store", "EXPERIMENT_KIND_TAG"]

# MLflow retries an unreachable server for minutes by default; a few quick retries keep a
# short network blip harmless without hiding a server that is down.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
_HEALTH_TIMEOUT_S = 5

#: MLflow 3's UI opens experiments with this tag in its model-training view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
_BATCH = 100  # MLflow accepts at most 100 params or tags per log_batch call
_METRICS_PER_BATCH = 1000  # and at most 1000 metrics
_FLUSH_EVERY_S = 10.0  # how often buffered metrics reach the store during training


class Tracker:
    """The no-op tracker (``tracking=none``); `MlflowTracker` overrides every method."""

    run_id: str | None = None

    def connect(self) -> None:
        """Check that the store can be reached and written; called before any data is loaded."""

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        """Open a run and record its params and tags, or reopen ``run_id`` to continue it."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Record metric values at ``step`` (the epoch)."""

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` as an artifact file of the run."""

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        """Store a matplotlib figure as an image artifact of the run."""

    def log_model(self, model: Any, example: Any) -> None:
        """Store a torch model with its signature and an input example (``tracking.log_model``)."""

    def record_error(self, error: BaseException) -> None:
        """Tag the run with the error that ends it and store the traceback as ``error.txt``."""

    def child(self, name: str) -> Tracker:
        """A tracker whose run, once started, is nested under this one (a fold, a trial)."""
        return Tracker()

    def finish(self, status: str) -> None:
        """Close the run as FINISHED, FAILED or KILLED."""

    def location(self) -> list[str]:
        """Lines telling the user where the run is and how to look at it."""
        return []

    @contextlib.contextmanager
    def active(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> Iterator[Tracker]:
        """A run that ends FINISHED, FAILED on an exception, KILLED on Ctrl-C or SIGTERM."""
        self.start(params, tags, run_id)
        try:
            yield self
        except (KeyboardInterrupt, Interrupted):
            self.finish("KILLED")
            raise
        except BaseException as error:
            self.record_error(error)
            self.finish("FAILED")
            error.nnx_run_id = self.run_id  # type: ignore[attr-defined]  # sweeps report it
            raise
        self.finish("FINISHED")


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///`` path absolute (and its folder exist); keep others.

    A folder that cannot be made is left for `open_client` to report.
    """
    path = _sqlite_path(uri)
    if path is None or path.is_absolute():
        return uri
    path = path.resolve()
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def missing_sqlite_store(uri: str) -> bool:
    """True for a ``sqlite:///`` URI whose file does not exist: nothing was logged there yet."""
    path = _sqlite_path(uri)
    return path is not None and not path.is_file()


def _check_server(uri: str) -> None:
    """Fail in seconds, naming the URI, when an ``http(s)://`` tracking server does not answer."""
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=_HEALTH_TIMEOUT_S):
            pass
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise TrackingError(
            f"Cannot reach the MLflow tracking server at tracking.uri={uri} ({reason}). "
            "Start it (`mlflow server --host 127.0.0.1 --port 5000`) or use a local store: "
            "tracking.uri=sqlite:///outputs/mlflow.db"
        ) from None


def _check_writable(path: Path, uri: str) -> None:
    # Never open() the database file itself: closing any descriptor of a SQLite file drops
    # every POSIX lock this process holds on it, under the feet of MLflow's open connections
    # (SQLite then reports "disk I/O error" or, worse, corrupts the store).
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = path if path.exists() else path.parent
        if not os.access(target, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
    except OSError as error:
        raise TrackingError(
            f"Cannot write the MLflow store tracking.uri={uri} ({error.strerror}: "
            f"{error.filename}). Choose a writable path, e.g. tracking.uri=sqlite:///outputs/mlflow.db"
        ) from None


def open_client(uri: str) -> Any:
    """An ``MlflowClient`` for ``uri``, checked before any work depends on it.

    - ``http(s)://``: the server must answer ``/health`` within seconds.
    - ``sqlite:///``: the file must be writable. MLflow creates a new store's tables without a
      lock, so processes starting together (parallel sweeps, 4 trainings in a shell) race
      and fail with "database is locked"; the store is opened here under an exclusive file
      lock (``<db>.lock``) and switched to WAL journaling, in which readers never block the
      writer. MLflow's own sessions wait up to 20 s for the write lock (``busy_timeout``).
    - anything else (``postgresql://``...): the first query must succeed.
    """
    import logging

    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store-migration chatter
    uri = resolve_uri(uri)
    path = _sqlite_path(uri)
    if uri.startswith(("http://", "https://")):
        _check_server(uri)
    if path is None:
        return _first_query(MlflowClient(tracking_uri=uri), uri)
    _check_writable(path, uri)
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            client = _first_query(MlflowClient(tracking_uri=uri), uri)
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
                db.execute("PRAGMA journal_mode=WAL")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return client


def _first_query(client: Any, uri: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        client.search_experiments(max_results=1)
    except (MlflowException, OSError, ImportError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrackingError(f"Cannot use the MLflow store tracking.uri={uri}: {first}") from None
    return client


def open_store(cfg: TrackingConfig) -> tuple[Any, Any]:
    """An MLflow client on ``cfg.uri`` and the experiment ``cfg.experiment`` (None if absent)."""
    client = open_client(cfg.uri)
    return client, client.get_experiment_by_name(cfg.experiment)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


class MlflowTracker(Tracker):
    """Logs to any MLflow tracking URI through ``MlflowClient`` (no global fluent state)."""

    def __init__(self, cfg: TrackingConfig, parent_run_id: str | None = None) -> None:
        self.cfg = cfg
        self.uri = resolve_uri(cfg.uri)
        self.client: Any = None
        self.experiment_id: str | None = None
        self._monitor: Any = None
        self.parent_run_id = parent_run_id
        self._pending: list[Any] = []
        self._buffer: list[Any] = []  # metrics not yet sent (see log_metrics)
        self._flushed_at = time.monotonic()

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.cfg.experiment)
        if found is not None:
            return found.experiment_id
        path = _sqlite_path(self.uri)
        location = (path.parent / "mlartifacts").as_uri() if path else None
        try:
            return self.client.create_experiment(
                self.cfg.experiment, artifact_location=location, tags=dict([EXPERIMENT_KIND_TAG])
            )
        except MlflowException:  # another process created it first
            return self.client.get_experiment_by_name(self.cfg.experiment).experiment_id

    def connect(self) -> None:
        if self.client is None:
            self.client = open_client(self.uri)
            self.experiment_id = self._experiment()

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        from mlflow.entities import Param

        self.connect()
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            self.run_id = run_id
            self._start_monitor()
            return
        all_tags = {**tags, **self.cfg.tags}
        if self.parent_run_id:
            all_tags[PARENT_TAG] = self.parent_run_id
        commit = _git_commit()
        if commit:
            all_tags["mlflow.source.git.commit"] = commit
        run = self.client.create_run(self.experiment_id, run_name=self.cfg.run_name, tags=all_tags)
        self.run_id = run.info.run_id
        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + _BATCH])
        self._start_monitor()

    def _start_monitor(self) -> None:
        if self.cfg.system_metrics:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self._monitor = SystemMetricsMonitor(
                self.run_id, sampling_interval=1, samples_before_logging=1,
                tracking_uri=self.uri,
            )
            self._monitor.start()

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Buffer the values; send them every `_FLUSH_EVERY_S` seconds and when the run ends.

        A store write costs milliseconds of CPU (and the GIL) even from MLflow's async
        thread; on a small model that is as much as an epoch, so a short run writes its
        metrics once, and a long one still shows progress in the dashboard.
        """
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        self._buffer += [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        if time.monotonic() - self._flushed_at >= _FLUSH_EVERY_S:
            self._flush()

    def _flush(self) -> None:
        for i in range(0, len(self._buffer), _METRICS_PER_BATCH):
            chunk = self._buffer[i : i + _METRICS_PER_BATCH]
            self._pending.append(self.client.log_batch(self.run_id, metrics=chunk, synchronous=False))
        self._buffer = []
        self._flushed_at = time.monotonic()

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def log_model(self, model: Any, example: Any) -> None:
        import tempfile

        import mlflow.pytorch
        import torch
        from mlflow.models import infer_signature

        was_training = model.training
        model.eval()
        with torch.no_grad():
            output = model(example)
        model.train(was_training)
        signature = infer_signature(example.cpu().numpy(), output.cpu().numpy())
        # pickle, not MLflow's default pt2: pt2 fixes the example's batch size and loads back
        # as an ExportedProgram, while a pickled module loads as the nn.Module it was.
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.pytorch.save_model(
                model, f"{tmp}/model", signature=signature,
                input_example=example.cpu().numpy(), serialization_format="pickle",
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}"],
            )
            self.client.log_artifacts(self.run_id, f"{tmp}/model", "model")

    def record_error(self, error: BaseException) -> None:
        import traceback

        if self.client is None or self.run_id is None:
            return
        self.client.set_tag(self.run_id, "nnx.error", f"{type(error).__name__}: {error}"[:5000])
        self.client.log_text(self.run_id, "".join(traceback.format_exception(error)), "error.txt")

    def child(self, name: str) -> MlflowTracker:
        return MlflowTracker(dataclasses.replace(self.cfg, run_name=name), parent_run_id=self.run_id)

    def finish(self, status: str) -> None:
        if self._monitor is not None:  # one last sample: a run shorter than the interval gets one
            self._monitor.finish()
            self._monitor.collect_metrics()
            self._monitor.publish_metrics(self._monitor.aggregate_metrics())
            self._monitor.mlflow_logger.flush()
            self._monitor = None
        self._flush()
        # Wait for this run's own async batches: mlflow.flush_async_logging() only flushes
        # the store of the global tracking URI, which need not be this one.
        for operation in self._pending:
            operation.wait()
        self._pending.clear()
        self.client.set_terminated(self.run_id, status)

    def location(self) -> list[str]:
        path = _sqlite_path(self.uri)
        if path is not None:
            with contextlib.suppress(ValueError):
                path = path.relative_to(Path.cwd())
            base = "http://127.0.0.1:5000"
            lines = [f"dashboard: mlflow ui --backend-store-uri sqlite:///{path}"]
        else:
            base, lines = self.uri.rstrip("/"), []
        runs = f"{base}/#/experiments/{self.experiment_id}"
        return lines + [
            f"run:       {runs}/runs/{self.run_id}",
            f"all runs:  {runs}/runs?workflowType=machine_learning",
        ]


def make_tracker(cfg: TrackingConfig) -> Tracker:
    """The tracker named by ``tracking.backend``."""
    return MlflowTracker(cfg) if cfg.backend == "mlflow" else Tracker()
