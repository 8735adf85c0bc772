"""`nnx-predict RUN --input FILE [--output FILE]`: predict with a trained run's model.

``RUN`` is a run dir (``outputs/runs/...``) or an MLflow run id (looked up in
``--tracking-uri``, nnx's default store unless given). The input is a CSV with the training
columns (tables; a series' column for forecasts), a ``.npy`` array of samples (images,
signals, flat features), or for image data an image file, a folder of images or a CSV whose
``path`` column names image files (relative to the CSV). The run's own preprocessing is
applied, so raw values go in; the output has one row per sample: the class name and each
class's probability, or the values.
Imports neither Lightning nor (for a run dir) MLflow.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from nnx.cli.errors import fail
from nnx.errors import NnxError
from nnx.shutdown import exits_fast

__all__ = ["main", "console", "find_predictor"]

_DEFAULT_URI = "sqlite:///outputs/mlflow.db"


def _from_dir(folder: Path) -> Path:
    from nnx.models.predictor import PREDICTOR_DIR

    for candidate in (folder / PREDICTOR_DIR, folder):
        if (candidate / "predictor.json").is_file():
            return candidate
    parts = sorted(p.parent.parent.name for p in folder.glob(f"*/{PREDICTOR_DIR}/predictor.json"))
    if parts:
        raise NnxError(f"Run dir {folder} trained several models (folds or seeds); predict with one "
                       f"of them: {', '.join(str(folder / p) for p in parts)}.")
    raise NnxError(f"Run dir {folder} holds no saved model ({PREDICTOR_DIR}/predictor.json): "
                   "it was trained by an nnx older than nnx-predict, or did not finish.")


def _from_run_id(run_id: str, uri: str, scratch: Path) -> Path:
    from nnx.models.predictor import PREDICTOR_DIR
    from nnx.tracking.store import missing_sqlite_store, open_client
    from nnx.tracking.tracker import PARENT_TAG
    from nnx.training.resume import OUTPUT_DIR_TAG

    if missing_sqlite_store(uri):
        raise NnxError(f"'{run_id}' is not a run dir, and there is no MLflow store at {uri} to find "
                       "it in; pass a run dir, or --tracking-uri of the store that holds the run.")
    from mlflow.exceptions import MlflowException

    client = open_client(uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise NnxError(f"'{run_id}' is neither a run dir nor a run id in {uri}.") from None
    folder = Path(run.data.tags.get(OUTPUT_DIR_TAG, "")) / PREDICTOR_DIR
    if run.data.tags.get(OUTPUT_DIR_TAG) and (folder / "predictor.json").is_file():
        return folder
    if any(a.path == PREDICTOR_DIR for a in client.list_artifacts(run_id)):
        return Path(client.download_artifacts(run_id, PREDICTOR_DIR, str(scratch)))
    children = client.search_runs([run.info.experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{run_id}'", max_results=20)
    if children:
        names = ", ".join(f"{c.info.run_name} {c.info.run_id}" for c in children)
        raise NnxError(f"Run {run_id} trained several models (folds or seeds); predict with one of "
                       f"its child runs: {names}.")
    raise NnxError(f"Run {run_id} has no saved model (no {PREDICTOR_DIR}/ artifact).")


def find_predictor(run: str, uri: str, scratch: Path) -> Path:
    """The folder of the predictor that ``run`` (a run dir or run id) saved."""
    folder = Path(run).expanduser()
    return _from_dir(folder.resolve()) if folder.is_dir() else _from_run_id(run, uri, scratch)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-predict", description="Predict with a trained run's model on new raw data.")
    parser.add_argument("run", help="a run dir (outputs/runs/...) or an MLflow run id")
    parser.add_argument("--input", "-i", required=True,
                        help="a CSV with the training columns, a .npy array of samples, an "
                        "image file, a folder of images, or a CSV with a path column of images")
    parser.add_argument("--output", "-o", help="where to write the predictions (CSV); default: stdout")
    parser.add_argument("--tracking-uri", default=_DEFAULT_URI,
                        help=f"the MLflow store that holds a run id (default {_DEFAULT_URI})")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of `nnx-predict`."""
    import os

    args = _parser().parse_args(argv)
    try:
        from nnx.models.predictor import Predictor, read_input

        data = read_input(args.input)  # a bad input fails before any model is loaded
        with tempfile.TemporaryDirectory() as scratch:
            predictor = Predictor.load(find_predictor(args.run, args.tracking_uri, Path(scratch)))
        predictions = predictor.predict(data, where=str(args.input))
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        fail("nnx-predict", error)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        predictions.to_csv(args.output, index=False)
        print(f"nnx-predict: {len(predictions)} predictions -> {args.output}", file=sys.stderr)
    else:
        predictions.to_csv(sys.stdout, index=False)


#: The `nnx-predict` console script (`nnx.shutdown.exits_fast`).
console = exits_fast(main)

if __name__ == "__main__":
    console()
