"""The tracker interface a run logs through; this base class is ``tracking=none``.

`nnx.tracking.mlflow_run.MlflowTracker` overrides every method. The training loop only ever
sees this interface, so a run does not know which store (if any) it writes to.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from nnx.errors import Interrupted

__all__ = ["Tracker", "PARENT_TAG", "JOB_TAG", "draws_report"]

#: MLflow's tag for nesting: the UI shows a run with it under its parent.
PARENT_TAG = "mlflow.parentRunId"
JOB_TAG = "nnx.sweep.job"  # a sweep trial's run: its job number in the sweep


def draws_report(report: bool, tags: Mapping[str, str] | None) -> bool:
    """Whether a run with ``eval.report`` = ``report`` and these ``tags`` draws its report's
    figures: not a sweep's trial, whose sweep draws only its best trial's, at its end."""
    return report and JOB_TAG not in (tags or {})


class Tracker:
    """The no-op tracker (``tracking=none``); `MlflowTracker` overrides every method."""

    run_id: str | None = None

    def connect(self, plots: Sequence[str] = ()) -> None:
        """Check that the store can be reached and written; called before any data is loaded.
        ``plots``: the kinds of report figure the run will draw (`nnx.tracking.figures`),
        which the tracker may warm up meanwhile."""

    def start(
        self, params: dict[str, str], tags: dict[str, str], run_id: str | None = None
    ) -> None:
        """Open a run and record its params and tags, or reopen ``run_id`` to continue it."""

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Record metric values at ``step`` (the epoch)."""

    def log_text(self, text: str, artifact_file: str) -> None:
        """Store ``text`` as an artifact file of the run."""

    def log_plot(self, plot: str, data: Any, artifact_file: str,
                 copy_to: Path | None = None) -> None:
        """Draw ``nnx.tracking.figures.plot_<plot>(data)`` and store it as the PNG artifact
        ``artifact_file`` (and at ``copy_to``): the numbers travel, the drawing is the
        tracker's (MLflow's draws in its writer process, off the training's path)."""

    def prepare_plots(self, frames: list[tuple[str, tuple]]) -> None:
        """Let the tracker draw ahead, while the run trains, the frames of the figures it
        will be asked for (`nnx.tracking.figures.draw_frame`: ``(plot, frame key)`` each)."""

    def log_artifacts(self, local_dir: Any, artifact_path: str) -> None:
        """Store the files of ``local_dir`` under ``artifact_path`` in the run."""

    def log_model(self, python_model: Any, artifacts: dict[str, str], example: Any) -> None:
        """Store an MLflow pyfunc (``python_model``: the file of its code, with its
        ``artifacts``: name -> local path), its signature inferred from the raw input
        ``example`` (``tracking.log_model``)."""

    def log_datasets(self, datasets: list[dict[str, Any]]) -> None:
        """Record the data a run used: each dict has name, digest, source, schema, context."""

    def record_error(self, error: BaseException) -> None:
        """Tag the run with the error that ends it and store the traceback as ``error.txt``."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Add or replace tags of the open run."""

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
            if getattr(error, "nnx_run_status", None) == "KILLED":  # stopped on purpose (pruned)
                self.set_tags(getattr(error, "nnx_run_tags", {}))
                self.finish("KILLED")
                error.nnx_run_id = self.run_id  # type: ignore[attr-defined]
                raise
            self.record_error(error)
            self.finish("FAILED")
            error.nnx_run_id = self.run_id  # type: ignore[attr-defined]  # sweeps report it
            raise
        self.finish("FINISHED")
