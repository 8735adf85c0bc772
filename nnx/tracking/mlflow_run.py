"""MLflow as the tracker: one run per training, nested runs for folds and trials.

MLflow is imported only when a run starts. Metrics are buffered and go out as asynchronous
batches (see `MlflowTracker.log_metrics`); the run ends FINISHED, FAILED (an exception) or
KILLED (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import time
from pathlib import Path
from typing import Any

from nnx.config.environment import scoped_env
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact, redact_tree
from nnx.errors import TrackingError
from nnx.tracking.credentials import mlflow_credentials, server_uri
from nnx.tracking.links import run_link, runs_link
from nnx.tracking.store import forbidden, open_client, resolve_uri, sqlite_path
from nnx.tracking.tracker import PARENT_TAG, Tracker

__all__ = ["MlflowTracker", "make_tracker", "git_commit", "EXPERIMENT_KIND_TAG", "GIT_COMMIT_TAG"]

#: MLflow's tag for the source's git commit.
GIT_COMMIT_TAG = "mlflow.source.git.commit"

#: MLflow 3's UI opens experiments with this tag in its model-training view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
_BATCH = 100  # MLflow accepts at most 100 params or tags per log_batch call
_METRICS_PER_BATCH = 1000  # and at most 1000 metrics
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


def _no_progress_bars() -> contextlib.AbstractContextManager[None]:
    return scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})


class MlflowTracker(Tracker):
    """Logs to any MLflow tracking URI through ``MlflowClient`` (no global fluent state).

    Everything it records (params, tags, text artifacts, errors) is redacted first
    (`nnx.config.secrets`); a server's credentials are set for MLflow from `connect` to
    `finish` only (`nnx.tracking.credentials`).
    """

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
        self._credentials = contextlib.ExitStack()
        self._held = False

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.cfg.experiment)
        if found is not None:
            return found.experiment_id
        path = sqlite_path(self.uri)
        location = (path.parent / "mlartifacts").as_uri() if path else None
        try:
            return self.client.create_experiment(
                self.cfg.experiment, artifact_location=location, tags=dict([EXPERIMENT_KIND_TAG])
            )
        except MlflowException as error:  # another process created it first
            if error.error_code == "PERMISSION_DENIED":
                raise TrackingError(forbidden(self.uri, self.cfg.experiment, "create")) from None
            return self.client.get_experiment_by_name(self.cfg.experiment).experiment_id

    def connect(self) -> None:
        if self.client is None:
            self.client = open_client(self.uri)
        self._hold_credentials()
        if self.experiment_id is None:
            self.experiment_id = self._experiment()

    def _hold_credentials(self) -> None:
        if not self._held:
            self._credentials.enter_context(mlflow_credentials(self.uri))
            self._held = True

    def _release_credentials(self) -> None:
        self._credentials.close()
        self._held = False

    def pause(self) -> None:
        """Unset the server's credentials until the next `connect` (a sweep's parent run
        while the launcher starts worker processes); kept while system metrics are sampled."""
        if self._monitor is None:
            self._release_credentials()

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        from mlflow.entities import Param
        from mlflow.exceptions import MlflowException

        self.connect()
        if run_id is not None:
            self.client.update_run(run_id, status="RUNNING")
            self.run_id = run_id
            self._start_monitor()
            return
        all_tags = redact_tree({**tags, **{str(k): str(v) for k, v in self.cfg.tags.items()}})
        if self.parent_run_id:
            all_tags[PARENT_TAG] = self.parent_run_id
        commit = git_commit()
        if commit:
            all_tags[GIT_COMMIT_TAG] = commit
        try:
            run = self.client.create_run(self.experiment_id, run_name=redact(self.cfg.run_name),
                                         tags=all_tags)
        except MlflowException as error:
            if error.error_code == "PERMISSION_DENIED":
                raise TrackingError(forbidden(self.uri, self.cfg.experiment, "write to")) from None
            raise
        self.run_id = run.info.run_id
        items = [Param(k, redact(v)) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(self.run_id, params=items[i : i + _BATCH])
        self._start_monitor()

    def _start_monitor(self) -> None:
        if self.cfg.system_metrics:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self._monitor = SystemMetricsMonitor(
                self.run_id, sampling_interval=1, samples_before_logging=1,
                tracking_uri=server_uri(self.uri),
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
        self.client.log_text(self.run_id, redact(text), artifact_file)

    def log_figure(self, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def log_artifacts(self, local_dir: Any, artifact_path: str) -> None:
        self.client.log_artifacts(self.run_id, str(local_dir), artifact_path)

    def log_model(self, python_model: Any, artifacts: dict[str, str], example: Any) -> None:
        import tempfile

        import mlflow.pyfunc
        import torch

        from nnx import __version__

        # pyfunc with nnx's own predictor: raw inputs in (the run's preprocessing applies),
        # predictions out; MLflow infers the signature by predicting the example (it loads
        # the model back for that: no progress bar for its artifact "download").
        with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
            mlflow.pyfunc.save_model(
                f"{tmp}/model", python_model=python_model, artifacts=artifacts,
                input_example=example,
                pip_requirements=[f"nnx=={__version__}", f"torch=={torch.__version__.split('+')[0]}"],
            )
            self.client.log_artifacts(self.run_id, f"{tmp}/model", "model")

    def log_datasets(self, datasets: list[dict[str, Any]]) -> None:
        from mlflow.entities import Dataset, DatasetInput, InputTag
        from mlflow.exceptions import MlflowException

        inputs = [
            DatasetInput(
                Dataset(name=d["name"], digest=d["digest"], source_type=d.get("source_type", "local"),
                        source=d["source"], schema=d.get("schema"), profile=d.get("profile")),
                tags=[InputTag("mlflow.data.context", d["context"])],
            )
            for d in datasets
        ]
        try:
            self.client.log_inputs(self.run_id, datasets=inputs)
        except MlflowException:
            # Two runs registering the same new dataset at once (parallel trials): the store's
            # get-or-create races and one insert fails; the dataset exists now, so once more.
            time.sleep(0.5)
            self.client.log_inputs(self.run_id, datasets=inputs)

    def record_error(self, error: BaseException) -> None:
        import traceback

        if self.client is None or self.run_id is None:
            return
        self.client.set_tag(self.run_id, "nnx.error", redact(f"{type(error).__name__}: {error}")[:5000])
        self.log_text("".join(traceback.format_exception(error)), "error.txt")

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        if self.client is not None and self.run_id is not None and tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def child(self, name: str) -> MlflowTracker:
        return MlflowTracker(dataclasses.replace(self.cfg, run_name=name), parent_run_id=self.run_id)

    def finish(self, status: str) -> None:
        try:
            self._finish(status)
        finally:
            self._release_credentials()

    def _finish(self, status: str) -> None:
        self._hold_credentials()
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
        path = sqlite_path(self.uri)
        if self.uri.startswith(("http://", "https://")):
            base, lines = server_uri(self.uri).rstrip("/"), []
        else:
            if path is not None:
                with contextlib.suppress(ValueError):
                    path = path.relative_to(Path.cwd())
            store = f"sqlite:///{path}" if path is not None else redact(self.uri)
            base = "http://127.0.0.1:5000"
            lines = [f"dashboard: mlflow ui --backend-store-uri {store}"]
        return lines + [
            f"run:       {run_link(base, self.experiment_id, self.run_id)}",
            f"all runs:  {runs_link(base, self.experiment_id)}",
        ]


def make_tracker(cfg: TrackingConfig) -> Tracker:
    """The tracker named by ``tracking.backend``."""
    return MlflowTracker(cfg) if cfg.backend == "mlflow" else Tracker()
