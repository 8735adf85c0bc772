"""MLflow as the tracker: one run per training, nested runs for folds and trials.

The store work happens in this process's writer (`nnx.tracking.writer`): the training
process sends plain data (params, metric values, texts, the numbers behind the figures) and
the writer, a second process, imports MLflow, opens the store, draws the figures and writes.
Only creating a run waits for the store (the caller needs its id); everything else is queued
in order. Metrics are buffered and sent every `_FLUSH_EVERY_S` and when the run ends, in one
synchronous ``log_batch`` per 1000 values (no MLflow async logging: its shutdown in
``set_terminated`` waits about a second). The run ends FINISHED, FAILED (an exception) or
KILLED (Ctrl-C, SIGTERM).

Everything recorded (params, tags, run names, text artifacts, errors) is redacted in the
training process before it is sent (`nnx.config.secrets`). A server's credentials reach the
writer inside the store URI of each message (a pipe between the two processes; messages
are never printed or stored), and the writer gives them to MLflow in its own variables
(`nnx.tracking.writer.client`); the training process holds them only while it samples
system metrics (`nnx.tracking.credentials`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import subprocess
import time
from pathlib import Path
from typing import Any

from nnx.config.environment import scoped_env
from nnx.config.schemas import TrackingConfig
from nnx.config.secrets import redact, redact_tree
from nnx.errors import TrackingError
from nnx.tracking import writer as writes
from nnx.tracking.credentials import mlflow_credentials, server_uri
from nnx.tracking.links import run_link, runs_link
from nnx.tracking.store import check_reachable, forbidden, resolve_uri, sqlite_path
from nnx.tracking.tracker import PARENT_TAG, Tracker

__all__ = ["MlflowTracker", "make_tracker", "git_commit", "log_params", "EXPERIMENT_KIND_TAG",
           "GIT_COMMIT_TAG"]

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


#: `git_commit` asked once per process (a sweep's trials share it).
_git_commit = functools.cache(git_commit)


def _no_progress_bars() -> contextlib.AbstractContextManager[None]:
    return scoped_env({"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"})


# -- done in the writer process (`nnx.tracking.writer`): plain data in, plain data out ------
@writes.op
def _open_experiment(uri: str, name: str) -> str:
    """Open the store and find or create the experiment; its id."""
    from mlflow.exceptions import MlflowException

    client = writes.client(uri)
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    path = sqlite_path(uri)
    location = (path.parent / "mlartifacts").as_uri() if path else None
    try:
        return client.create_experiment(
            name, artifact_location=location, tags=dict([EXPERIMENT_KIND_TAG])
        )
    except MlflowException as error:  # another process created it first
        if error.error_code == "PERMISSION_DENIED":
            raise TrackingError(forbidden(uri, name, "create")) from None
        return client.get_experiment_by_name(name).experiment_id


@writes.op
@functools.cache
def _warm_up() -> None:
    """Draw a figure of each kind once while the training runs: the first drawing of a process
    imports matplotlib and loads its fonts (0.2 s here), which would otherwise wait for the
    run's end."""
    from nnx.tracking import figures

    figures.warm_up()


@writes.op
def _create_run(uri: str, experiment_id: str, experiment: str, run_name: str | None,
                tags: dict[str, str], params: dict[str, str]) -> str:
    from mlflow.exceptions import MlflowException

    client = writes.client(uri)
    try:
        run_id = client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
    except MlflowException as error:
        if error.error_code == "PERMISSION_DENIED":
            raise TrackingError(forbidden(uri, experiment, "write to")) from None
        raise
    log_params(client, run_id, params)
    return run_id


def log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    """``params`` on the run, in as many batches as MLflow's limit of 100 per call needs."""
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in params.items()]
    for i in range(0, len(items), _BATCH):
        client.log_batch(run_id, params=items[i : i + _BATCH])


@writes.op
def _reopen_run(uri: str, run_id: str) -> None:
    writes.client(uri).update_run(run_id, status="RUNNING")


@writes.op
def _log_metrics(uri: str, run_id: str, rows: list[tuple[str, float, int, int]]) -> None:
    from mlflow.entities import Metric

    metrics = [Metric(*row) for row in rows]
    client = writes.client(uri)
    for i in range(0, len(metrics), _METRICS_PER_BATCH):
        client.log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH])


@writes.op
def _log_text(uri: str, run_id: str, text: str, artifact_file: str) -> None:
    writes.client(uri).log_text(run_id, text, artifact_file)


def _store_file(uri: str, run_id: str, content: bytes, artifact_file: str,
                copy_to: str | None = None) -> None:
    import tempfile

    target = Path(artifact_file)
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp, target.name)
        local.write_bytes(content)
        folder = str(target.parent) if target.parent.parts else None
        writes.client(uri).log_artifact(run_id, str(local), folder)
    if copy_to is not None:
        Path(copy_to).write_bytes(content)


@writes.op
def _log_plot(uri: str, run_id: str, plot: str, data: Any, artifact_file: str,
              copy_to: str | None) -> None:
    from nnx.tracking import figures

    figure = getattr(figures, f"plot_{plot}")(data)
    png = io.BytesIO()
    figure.savefig(png, format="png", dpi=100)
    _store_file(uri, run_id, png.getvalue(), artifact_file, copy_to)


@writes.op
def _log_local_dir(uri: str, run_id: str, local_dir: str, artifact_path: str) -> None:
    writes.client(uri).log_artifacts(run_id, local_dir, artifact_path)


@writes.op
def _log_datasets(uri: str, run_id: str, datasets: list[dict[str, Any]]) -> None:
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
    client = writes.client(uri)
    try:
        client.log_inputs(run_id, datasets=inputs)
    except MlflowException:
        # Two runs registering the same new dataset at once (parallel trials): the store's
        # get-or-create races and one insert fails; the dataset exists now, so once more.
        time.sleep(0.5)
        client.log_inputs(run_id, datasets=inputs)


@writes.op
def _set_tags(uri: str, run_id: str, tags: dict[str, str]) -> None:
    from mlflow.entities import RunTag

    writes.client(uri).log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])


@writes.op
def _record_error(uri: str, run_id: str, summary: str, traceback_text: str) -> None:
    client = writes.client(uri)
    client.set_tag(run_id, "nnx.error", summary)
    client.log_text(run_id, traceback_text, "error.txt")


@writes.op
def _terminate(uri: str, run_id: str, status: str, end_time: int) -> None:
    writes.client(uri).set_terminated(run_id, status, end_time=end_time)


class MlflowTracker(Tracker):
    """Logs to any MLflow tracking URI through ``MlflowClient`` calls made by this process's
    writer (`nnx.tracking.writer`), never through MLflow's global fluent state.

    Everything it records (params, tags, text artifacts, errors) is redacted first
    (`nnx.config.secrets`).
    """

    def __init__(self, cfg: TrackingConfig, parent_run_id: str | None = None) -> None:
        self.cfg = cfg
        self.uri = resolve_uri(cfg.uri)
        self.experiment_id: str | None = None
        self._opened: Any = None  # the writer's answer to opening the store
        self._monitor: Any = None
        self.parent_run_id = parent_run_id
        self._buffer: list[tuple[str, float, int, int]] = []  # metrics not yet sent
        self._flushed_at = time.monotonic()
        self._credentials = contextlib.ExitStack()
        self._held = False

    def connect(self) -> None:
        """Check the store without MLflow (milliseconds) and let the writer open it meanwhile.

        A store that the writer then cannot open fails at `start`, before any training.
        """
        if self._opened is None:
            check_reachable(self.uri)
            self._opened = writes.writer().now(_open_experiment, self.uri, self.cfg.experiment)

    def _experiment(self) -> str:
        self.connect()
        if self.experiment_id is None:
            self.experiment_id = self._opened.result()
        return self.experiment_id

    def call(self, fn: Any, *args: Any) -> Any:
        """``fn(self.uri, *args)`` in the writer, after everything sent before; its value."""
        return writes.writer().barrier(fn, self.uri, *args)

    def _hold_credentials(self) -> None:
        """MLflow's credential variables set in this process: only system metrics, sampled
        here, need them (the writer process has its own)."""
        if not self._held:
            self._credentials.enter_context(mlflow_credentials(self.uri))
            self._held = True

    def _release_credentials(self) -> None:
        self._credentials.close()
        self._held = False

    def pause(self) -> None:
        """Unset the server's credentials in this process (a sweep's parent run while the
        launcher starts worker processes); kept while system metrics are sampled."""
        if self._monitor is None:
            self._release_credentials()

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        experiment_id = self._experiment()
        if run_id is not None:
            writes.writer().now(_reopen_run, self.uri, run_id).result()
            self.run_id = run_id
            self._start_monitor()
            return
        all_tags = redact_tree({**tags, **{str(k): str(v) for k, v in self.cfg.tags.items()}})
        if self.parent_run_id:
            all_tags[PARENT_TAG] = self.parent_run_id
        commit = _git_commit()
        if commit:
            all_tags[GIT_COMMIT_TAG] = commit
        self.run_id = writes.writer().now(
            _create_run, self.uri, experiment_id, self.cfg.experiment, redact(self.cfg.run_name),
            all_tags, {k: redact(v) for k, v in params.items()},
        ).result()
        writes.writer().later(_warm_up)  # while the run trains (once per writer)
        self._start_monitor()

    def _start_monitor(self) -> None:
        if self.cfg.system_metrics:  # samples this process: MLflow runs in it, opt-in
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            self._hold_credentials()
            self._monitor = SystemMetricsMonitor(
                self.run_id, sampling_interval=1, samples_before_logging=1,
                tracking_uri=server_uri(self.uri),
            )
            self._monitor.start()

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
            writes.writer().later(_log_metrics, self.uri, self.run_id, self._buffer)
        self._buffer = []
        self._flushed_at = time.monotonic()

    def log_text(self, text: str, artifact_file: str) -> None:
        writes.writer().later(_log_text, self.uri, self.run_id, redact(text), artifact_file)

    def log_plot(self, plot: str, data: Any, artifact_file: str,
                 copy_to: Path | None = None) -> None:
        writes.writer().later(_log_plot, self.uri, self.run_id, plot, data, artifact_file,
                              None if copy_to is None else str(copy_to))

    def log_artifacts(self, local_dir: Any, artifact_path: str) -> None:
        """Queue the upload of ``local_dir`` (a folder that stays, such as the run's
        ``predictor/``; the writer reads it when it gets there)."""
        writes.writer().later(_log_local_dir, self.uri, self.run_id, str(local_dir), artifact_path)

    def log_model(self, python_model: Any, artifacts: dict[str, str], example: Any) -> None:
        import tempfile

        import mlflow.pyfunc
        import torch

        from nnx import __version__

        # pyfunc with nnx's own predictor: raw inputs in (the run's preprocessing applies),
        # predictions out; MLflow infers the signature by predicting the example (it loads
        # the model back for that: no progress bar for its artifact "download"). Saved
        # here (the example is not plain data), uploaded by the writer before the folder goes.
        with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
            mlflow.pyfunc.save_model(
                f"{tmp}/model", python_model=python_model, artifacts=artifacts,
                input_example=example,
                pip_requirements=[f"nnx=={__version__}", f"torch=={torch.__version__.split('+')[0]}"],
            )
            self.call(_log_local_dir, self.run_id, f"{tmp}/model", "model")

    def log_datasets(self, datasets: list[dict[str, Any]]) -> None:
        writes.writer().later(_log_datasets, self.uri, self.run_id, datasets)

    def record_error(self, error: BaseException) -> None:
        import traceback

        if self._opened is None or self.run_id is None:
            return
        writes.writer().later(
            _record_error, self.uri, self.run_id,
            redact(f"{type(error).__name__}: {error}")[:5000],
            redact("".join(traceback.format_exception(error))),
        )

    def set_tags(self, tags: dict[str, str]) -> None:
        if self._opened is not None and self.run_id is not None and tags:
            writes.writer().later(_set_tags, self.uri, self.run_id, redact_tree(dict(tags)))

    def child(self, name: str) -> MlflowTracker:
        return MlflowTracker(dataclasses.replace(self.cfg, run_name=name), parent_run_id=self.run_id)

    def finish(self, status: str) -> None:
        """Queue the run's last metrics and its end; `nnx.tracking.writer.drain` waits for them."""
        try:
            self._finish(status)
        finally:
            self._release_credentials()

    def _finish(self, status: str) -> None:
        if self._monitor is not None:  # one last sample: a run shorter than the interval gets one
            self._monitor.finish()
            self._monitor.collect_metrics()
            self._monitor.publish_metrics(self._monitor.aggregate_metrics())
            self._monitor.mlflow_logger.flush()
            self._monitor = None
        self._flush()
        writes.writer().later(_terminate, self.uri, self.run_id, status, int(time.time() * 1000))

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
