"""What the writer process does for a store: every MLflow call a run makes, in one class.

`MlflowStore` holds one store's ``MlflowClient`` (opened once, `nnx.tracking.store.Store.open`)
and offers a method per kind of write. It runs in the writer process (`nnx.tracking.writer`),
which calls ``method(store, *args)`` for what the training process sends: plain data in (params,
metric rows, texts, the numbers behind a figure), plain data out (ids). Figures are drawn here,
off the training's path, and system metrics are sampled here (they measure the whole machine).
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from nnx.errors import TrackingError
from nnx.tracking.store import Store

__all__ = ["MlflowStore", "EXPERIMENT_KIND_TAG"]

#: MLflow 3's UI opens experiments with this tag in its model-training view.
EXPERIMENT_KIND_TAG = ("mlflow.experimentKind", "custom_model_development")
_BATCH = 100  # MLflow accepts at most 100 params or tags per log_batch call
_METRICS_PER_BATCH = 1000  # and at most 1000 metrics


class MlflowStore:
    """One store's MLflow work. Its methods are what a writer may be sent (with
    `nnx.tracking.writer.Writer.later` and friends); a sweep sends functions that take it
    as their first argument."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.opens = 0
        self._client: Any = None
        self._opening = threading.Lock()
        self._warm: set[str] = set()  # the kinds of figure drawn once already (`warm_up`)
        self._frames: dict[tuple, Any] = {}  # (plot, frame key) -> a frame drawn ahead (`prepare_plots`)
        self._monitors: dict[str, Any] = {}

    @property
    def client(self) -> Any:
        """The checked ``MlflowClient``, opened on first use (both of the writer's threads
        may ask first)."""
        with self._opening:
            if self._client is None:
                self._client = self.store.open()
                self.opens += 1
        return self._client

    def opened(self) -> int:
        """How many times the store was opened (once, for all the runs it writes)."""
        return self.opens

    def open_experiment(self, name: str) -> str:
        """Find or create the experiment; its id."""
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        try:
            return self.client.create_experiment(
                name, artifact_location=self.store.artifact_location(), tags=dict([EXPERIMENT_KIND_TAG])
            )
        except MlflowException as error:  # another process created it first
            if error.error_code == "PERMISSION_DENIED":
                raise TrackingError(self.store.forbidden(name, "create")) from None
            return self.client.get_experiment_by_name(name).experiment_id

    def create_run(self, experiment_id: str, experiment: str, run_name: str | None,
                   tags: dict[str, str], params: dict[str, str]) -> str:
        from mlflow.exceptions import MlflowException

        try:
            run_id = self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id
        except MlflowException as error:
            if error.error_code == "PERMISSION_DENIED":
                raise TrackingError(self.store.forbidden(experiment, "write to")) from None
            raise
        self.log_params(run_id, params)
        return run_id

    def log_params(self, run_id: str, params: dict[str, str]) -> None:
        """``params`` on the run, in as many batches as MLflow's limit of 100 per call needs."""
        from mlflow.entities import Param

        items = [Param(k, v) for k, v in params.items()]
        for i in range(0, len(items), _BATCH):
            self.client.log_batch(run_id, params=items[i : i + _BATCH])

    def reopen_run(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def log_metrics(self, run_id: str, rows: list[tuple[str, float, int, int]]) -> None:
        """``(key, value, timestamp, step)`` rows, in batches of MLflow's limit of 1000."""
        from mlflow.entities import Metric

        metrics = [Metric(*row) for row in rows]
        for i in range(0, len(metrics), _METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _METRICS_PER_BATCH])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_plot(self, run_id: str, plot: str, data: Any, artifact_file: str,
                 copy_to: str | None) -> None:
        """Draw ``nnx.tracking.figures.plot_<plot>(data)`` and store the PNG (and copy it)."""
        from nnx.tracking import figures

        png = io.BytesIO()
        figures.render(plot, data, png, self._frames.pop((plot, figures.frame_key(plot, data)), None))
        target = Path(artifact_file)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, target.name)
            local.write_bytes(png.getvalue())
            self.client.log_artifact(run_id, str(local), str(target.parent) if target.parent.parts else None)
        if copy_to is not None:
            Path(copy_to).write_bytes(png.getvalue())

    def prepare_plots(self, frames: list[tuple[str, tuple]]) -> None:
        """Draw the frames of the figures a run will log (`nnx.tracking.figures.draw_frame`:
        ``(plot, frame key)`` each) while it trains; `log_plot` finishes them."""
        from nnx.tracking import figures

        for plot, key in frames:
            self._frames[(plot, key)] = figures.draw_frame(plot, key)

    def log_saved_plots(self, run_id: str, output_dir: str) -> None:
        """Draw the report figures a sweep trial kept as numbers in its run dir
        ``output_dir`` (`nnx.tracking.figures.SAVED_FILE`), as `log_plot` does; nothing when
        it kept none (untracked, or its run dir is on another machine)."""
        import json

        from nnx.tracking.figures import REPORT_DIR, SAVED_FILE

        folder = Path(output_dir) / REPORT_DIR
        saved = folder / SAVED_FILE
        if not saved.is_file():
            return
        for name, (plot, data) in json.loads(saved.read_text()).items():
            self.log_plot(run_id, plot, data, f"{REPORT_DIR}/{name}", str(folder / name))
        saved.unlink()

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str) -> None:
        self.client.log_artifacts(run_id, local_dir, artifact_path)

    def log_datasets(self, run_id: str, datasets: list[dict[str, Any]]) -> None:
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
            self.client.log_inputs(run_id, datasets=inputs)
        except MlflowException:
            # Two runs registering the same new dataset at once (parallel trials): the store's
            # get-or-create races and one insert fails; the dataset exists now, so once more.
            time.sleep(0.5)
            self.client.log_inputs(run_id, datasets=inputs)

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])

    def record_error(self, run_id: str, summary: str, traceback_text: str) -> None:
        self.client.set_tag(run_id, "nnx.error", summary)
        self.client.log_text(run_id, traceback_text, "error.txt")

    def watch_system(self, run_id: str) -> None:
        """Sample CPU, memory, disk, network (and GPU) use into the run every second until it
        ends (``tracking.system_metrics``)."""
        from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

        monitor = SystemMetricsMonitor(run_id, sampling_interval=1, samples_before_logging=1,
                                       tracking_uri=self.store.mlflow_uri)
        monitor.start()
        self._monitors[run_id] = monitor

    def terminate(self, run_id: str, status: str, end_time: int) -> None:
        """End the run; its system metrics get one last sample (a run shorter than the
        interval gets one)."""
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.finish()
            monitor.collect_metrics()
            monitor.publish_metrics(monitor.aggregate_metrics())
            monitor.mlflow_logger.flush()
        self.client.set_terminated(run_id, status, end_time=end_time)
        self._frames.clear()  # a run that ended before its report

    def warm_up(self, plots: list[str]) -> None:
        """Warm up the learning curves, the figure every tracked run draws, and ``plots`` (the
        report's kinds a run will draw) right after the store is open: the first drawing of
        a process imports matplotlib and loads its fonts (about half a second of CPU), and
        each kind's first figure costs about 0.2 s more. Done then, it runs while the training
        process still imports Lightning and loads its data, not beside the training's
        threads (a report's frames, drawn later by `prepare_plots`, then cost a third), nor at
        the run's end, which waits for its figures."""
        from nnx.tracking import figures

        kinds = [kind for kind in (figures.CURVES_PLOT, *plots) if kind not in self._warm]
        if kinds:
            _ = self.client  # opened first (or by the other thread meanwhile): drawing never delays it
            figures.warm_up(kinds)
            self._warm.update(kinds)
