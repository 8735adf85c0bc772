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

from nnx.config.schemas import TrackingConfig
from nnx.tracking.links import run_link, runs_link
from nnx.tracking.store import open_client, resolve_uri, sqlite_path
from nnx.tracking.tracker import PARENT_TAG, Tracker

__all__ = ["MlflowTracker", "make_tracker", "EXPERIMENT_KIND_TAG"]

#: MLflow 3's UI opens experiments with this tag in its model-training view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
_BATCH = 100  # MLflow accepts at most 100 params or tags per log_batch call
_METRICS_PER_BATCH = 1000  # and at most 1000 metrics
_FLUSH_EVERY_S = 10.0  # how often buffered metrics reach the store during training


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
        path = sqlite_path(self.uri)
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

    def set_tags(self, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        if self.client is not None and self.run_id is not None and tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in tags.items()])

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
        path = sqlite_path(self.uri)
        if path is not None:
            with contextlib.suppress(ValueError):
                path = path.relative_to(Path.cwd())
            base = "http://127.0.0.1:5000"
            lines = [f"dashboard: mlflow ui --backend-store-uri sqlite:///{path}"]
        else:
            base, lines = self.uri.rstrip("/"), []
        return lines + [
            f"run:       {run_link(base, self.experiment_id, self.run_id)}",
            f"all runs:  {runs_link(base, self.experiment_id)}",
        ]


def make_tracker(cfg: TrackingConfig) -> Tracker:
    """The tracker named by ``tracking.backend``."""
    return MlflowTracker(cfg) if cfg.backend == "mlflow" else Tracker()
