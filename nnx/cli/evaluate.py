"""`nnx-evaluate RUN --input FILE [--output DIR] [--log]`: a trained run's metrics and
evaluation report on new labelled data.

``RUN`` is a run dir or an MLflow run id, found as `nnx-predict` finds it; the input is
read and encoded with the run's own preprocessing (a CSV with the training columns and the
target column; a ``.npy`` of samples with ``--labels``; a series' CSV). The metrics and the
report are the ones a run makes for its test split (`nnx.training.report`), with the run's
decision threshold. ``--log`` records them as a new MLflow run tagged with the evaluated
run's id. Imports neither Lightning nor (without ``--log`` or a run id) MLflow.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from nnx.cli.errors import fail
from nnx.cli.predict import add_run_arguments, find_predictor, registered_run
from nnx.errors import NnxError
from nnx.shutdown import exits_fast

if TYPE_CHECKING:
    from nnx.training.report import Report

__all__ = ["main", "console", "EVALUATED_TAG"]

#: The tag of an `nnx-evaluate --log` run: the id (or dir) of the run whose model it scored.
EVALUATED_TAG = "nnx.evaluated_run"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-evaluate", description="Score a trained run's model on new labelled data.")
    add_run_arguments(parser)
    parser.add_argument("--input", "-i", required=True,
                        help="a CSV with the training columns and the target, or a .npy array of samples")
    parser.add_argument("--labels", help="the targets of a .npy input (.npy or one-column CSV)")
    parser.add_argument("--target", help="the target column of the CSV (default: the run's)")
    parser.add_argument("--output", "-o", help="write the report (tables and figures) into this folder")
    parser.add_argument("--log", action="store_true",
                        help="record the metrics and report as a new MLflow run, tagged with RUN's id")
    parser.add_argument("--experiment", help="the experiment of the --log run (default: the evaluated run's)")
    return parser


def _source(run: str, uri: str) -> tuple[str, str | None]:
    """The evaluated run's id (its dir when it has none) and its MLflow experiment."""
    if Path(run).expanduser().is_dir():
        from omegaconf import OmegaConf

        from nnx.training.resume import RECORD

        record = Path(run).expanduser().resolve() / RECORD
        if not record.is_file():
            return str(Path(run).resolve()), None
        saved = OmegaConf.load(record)
        return str(saved.get("run_id") or Path(run).resolve()), OmegaConf.select(
            saved, "config.tracking.experiment")
    from nnx.tracking.store import Store

    if run.startswith("models:/"):
        run = registered_run(run, uri)
    with Store.of(uri).session() as client:
        return run, client.get_experiment(client.get_run(run).info.experiment_id).name


def _log(report: Report, folder: Path, run: str, uri: str, experiment: str | None,
         input_file: str) -> tuple[str | None, str]:
    """A new MLflow run holding the metrics and the report; its id and the evaluated run's."""
    from nnx.config.schemas import TrackingConfig
    from nnx.tracking import writer
    from nnx.tracking.mlflow_run import make_tracker
    from nnx.training.report import REPORT_DIR

    evaluated, source_experiment = _source(run, uri)
    cfg = TrackingConfig(uri=uri, experiment=experiment or source_experiment or "nnx",
                         run_name=f"evaluate-{Path(evaluated).name[:8]}")
    tracker = make_tracker(cfg)
    tracker.connect()
    with tracker.active({"evaluated_run": evaluated, "input": input_file}, {EVALUATED_TAG: evaluated}):
        tracker.log_metrics(report.metrics, step=0)
        tracker.log_artifacts(folder, REPORT_DIR)
    writer.drain()
    return tracker.run_id, evaluated


def main(argv: list[str] | None = None) -> None:
    """Entry point of `nnx-evaluate`."""
    args = _parser().parse_args(argv)
    try:
        from nnx.models.labelled import encode_labelled
        from nnx.models.predictor import Predictor, read_input
        from nnx.training.evaluation import save_report
        from nnx.training.report import build_report

        data = read_input(args.input)  # a bad input fails before any model is loaded
        labels = read_input(args.labels) if args.labels else None
        with tempfile.TemporaryDirectory() as scratch:
            predictor = Predictor.load(find_predictor(args.run, args.tracking_uri, Path(scratch)))
            x, y = encode_labelled(predictor, data, labels, args.target, where=str(args.input))
            report = build_report(predictor.logits(x), y, predictor.spec, predictor.preprocessing,
                                  predictor.threshold)
            folder = Path(args.output or Path(scratch, "evaluation"))
            if args.output or args.log:
                save_report(report, folder)
            logged = _log(report, folder, args.run, args.tracking_uri, args.experiment,
                          str(args.input)) if args.log else None
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        fail("nnx-evaluate", error)
    print(f"nnx-evaluate: {len(y)} labelled samples of {args.input}", file=sys.stderr)
    print("results  " + "  ".join(f"{k} {v:.4f}" for k, v in sorted(report.metrics.items())))
    if args.output:
        print(f"report   {args.output}")
    if logged:
        print(f"MLflow run {logged[0]} ({EVALUATED_TAG}={logged[1]})")


#: The `nnx-evaluate` console script (`nnx.shutdown.exits_fast`).
console = exits_fast(main)

if __name__ == "__main__":
    console()
