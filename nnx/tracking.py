"""Experiment tracking: MLflow by default, nothing with ``tracking=none``.

MLflow is imported only when a run starts. Metrics go out once per epoch as one
asynchronous batch; the run ends FINISHED, FAILED (an exception) or KILLED (Ctrl-C).
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nnx.runinfo import PARENT_TAG
from nnx.schema import TrackingConfig

__all__ = ["Tracker", "MlflowTracker", "make_tracker", "resolve_uri", "open_store",
           "EXPERIMENT_KIND_TAG"]

#: MLflow 3's UI opens experiments with this tag in its model-training view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
_BATCH = 100  # MLflow accepts at most 100 params or tags per log_batch call


class Tracker:
    """The no-op tracker (``tracking=none``); `MlflowTracker` overrides every method."""

    run_id: str | None = None

    def start(self, params: dict[str, str], tags: dict[str, str]) -> None:
        """Open a run and record its params and tags."""

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
    def active(self, params: dict[str, str], tags: dict[str, str]) -> Iterator[Tracker]:
        """A run that ends FINISHED, FAILED on an exception, KILLED on Ctrl-C."""
        self.start(params, tags)
        try:
            yield self
        except KeyboardInterrupt:
            self.finish("KILLED")
            raise
        except BaseException as error:
            self.record_error(error)
            self.finish("FAILED")
            error.nnx_run_id = self.run_id  # type: ignore[attr-defined]  # sweeps report it
            raise
        self.finish("FINISHED")


def resolve_uri(uri: str) -> str:
    """Make a relative ``sqlite:///`` path absolute (and its folder exist); keep others."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri.startswith(prefix + "/"):
        return uri
    path = Path(uri[len(prefix) :]).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return prefix + str(path)


def open_store(cfg: TrackingConfig) -> tuple[Any, Any]:
    """An MLflow client on ``cfg.uri`` and the experiment ``cfg.experiment`` (None if absent)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=resolve_uri(cfg.uri))
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

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.cfg.experiment)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:///"):
            location = (Path(self.uri[len("sqlite:///") :]).parent / "mlartifacts").as_uri()
        try:
            return self.client.create_experiment(
                self.cfg.experiment, artifact_location=location, tags=dict([EXPERIMENT_KIND_TAG])
            )
        except MlflowException:  # another process created it first
            return self.client.get_experiment_by_name(self.cfg.experiment).experiment_id

    def start(self, params: dict[str, str], tags: dict[str, str]) -> None:
        import logging

        from mlflow import MlflowClient

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # no store-migration chatter
        from mlflow.entities import Param

        self.client = MlflowClient(tracking_uri=self.uri)
        self.experiment_id = self._experiment()
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
        if self.cfg.system_metrics:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self._monitor = SystemMetricsMonitor(
                self.run_id, sampling_interval=1, samples_before_logging=1,
                tracking_uri=self.uri,
            )
            self._monitor.start()

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)
        batch = [Metric(k, float(v), stamp, step) for k, v in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch, synchronous=False)

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
        import mlflow

        if self._monitor is not None:  # one last sample: a run shorter than the interval gets one
            self._monitor.finish()
            self._monitor.collect_metrics()
            self._monitor.publish_metrics(self._monitor.aggregate_metrics())
            self._monitor.mlflow_logger.flush()
            self._monitor = None
        mlflow.flush_async_logging()
        self.client.set_terminated(self.run_id, status)

    def location(self) -> list[str]:
        if self.uri.startswith("sqlite:///"):
            path = Path(self.uri[len("sqlite:///") :])
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
