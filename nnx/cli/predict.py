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
import contextlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from nnx.cli.errors import fail
from nnx.config.schemas import default_uri
from nnx.errors import NnxError
from nnx.shutdown import exits_fast
from nnx.tracking.store import Store

__all__ = ["main", "console", "find_predictors", "find_predictor", "registered_run", "load", "DEFAULT_URI",
           "add_run_arguments"]

#: The store that holds a run id unless --tracking-uri names one (MLFLOW_TRACKING_URI, else local).
DEFAULT_URI = default_uri()


def _from_dir(folder: Path) -> list[Path]:
    from nnx.models.predictor import PREDICTOR_DIR

    for candidate in (folder / PREDICTOR_DIR, folder):
        if (candidate / "predictor.json").is_file():
            return [candidate]
    parts = sorted(p.parent for p in folder.glob(f"**/{PREDICTOR_DIR}/predictor.json"))
    if parts:  # a k-fold or multi-seed run: each fold's and seed's model
        return parts
    raise NnxError(f"Run dir {folder} holds no saved model ({PREDICTOR_DIR}/predictor.json): "
                   "it was trained by an nnx older than nnx-predict, or did not finish.")


def _from_run_id(run_id: str, store: Store, scratch: Path) -> list[Path]:
    if not store.exists():
        raise NnxError(f"'{run_id}' is not a run dir, and there is no MLflow store at {store} to find "
                       "it in; pass a run dir, or --tracking-uri of the store that holds the run.")
    with store.session() as client:
        return _predictors_of(client, run_id, store, scratch)


def _predictors_of(client: Any, run_id: str, store: Store, scratch: Path) -> list[Path]:
    from mlflow.exceptions import MlflowException

    from nnx.models.predictor import PREDICTOR_DIR
    from nnx.tracking.tracker import PARENT_TAG
    from nnx.training.resume import OUTPUT_DIR_TAG

    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise NnxError(f"'{run_id}' is neither a run dir nor a run id in {store}.") from None
    folder = Path(run.data.tags.get(OUTPUT_DIR_TAG, ""))
    if run.data.tags.get(OUTPUT_DIR_TAG) and folder.is_dir():
        with contextlib.suppress(NnxError):
            return _from_dir(folder)
    if any(a.path == PREDICTOR_DIR for a in client.list_artifacts(run_id)):
        return [Path(client.download_artifacts(run_id, PREDICTOR_DIR, str(scratch / run_id)))]
    children = client.search_runs([run.info.experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{run_id}'", max_results=1000)
    if children:  # a k-fold or multi-seed parent: its children's models (a seed's folds too)
        return [path for child in children
                for path in _predictors_of(client, child.info.run_id, store, scratch)]
    raise NnxError(f"Run {run_id} has no saved model (no {PREDICTOR_DIR}/ artifact).")


def registered_run(ref: str, uri: str) -> str:
    """The run id behind ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``."""
    from mlflow.exceptions import MlflowException

    store = Store.of(uri)
    name, at, alias = ref.removeprefix("models:/").partition("@")
    if not at:
        name, _, alias = name.partition("/")
    try:
        with store.session() as client:
            found = (client.get_model_version_by_alias(name, alias) if at
                     else client.get_model_version(name, alias or "1"))
    except MlflowException:
        raise NnxError(f"'{ref}' names no registered model version in {store} "
                       "(models:/NAME@ALIAS or models:/NAME/VERSION).") from None
    return str(found.run_id)


def _run_dir(run: str) -> Path | None:
    """``run`` as a local run dir, when it names one."""
    folder = Path(run).expanduser()
    return folder.resolve() if folder.is_dir() else None


def find_predictors(run: str, uri: str, scratch: Path) -> list[Path]:
    """The folders of the predictors that ``run`` (a run dir, run id or ``models:/...``)
    saved: one, or each fold's and seed's of a k-fold or multi-seed run."""
    if run.startswith("models:/"):
        run = registered_run(run, uri)
    folder = _run_dir(run)
    if folder is not None:
        return _from_dir(folder)
    return _from_run_id(run, Store.of(uri), scratch)


def find_predictor(run: str, uri: str, scratch: Path) -> Path:
    """The folder of the one predictor ``run`` saved; a k-fold or multi-seed run's parts are
    named in the error (one of them is a run of its own)."""
    folders = find_predictors(run, uri, scratch)
    if len(folders) > 1:
        raise NnxError(f"{run} trained {len(folders)} models (folds or seeds); use one of them: "
                       f"{', '.join(str(f.parent) for f in folders[:5])}.")
    return folders[0]


def load(run: str, uri: str) -> Any:
    """The predictor of ``run``: a `Predictor`, or the `Ensemble` of a k-fold or multi-seed run."""
    from nnx.models.ensemble import load_predictor

    folder = _run_dir(run)
    if folder is not None:  # read in place: no scratch folder to make for downloads
        return load_predictor(_from_dir(folder))
    with tempfile.TemporaryDirectory() as scratch:
        return load_predictor(find_predictors(run, uri, Path(scratch)))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The trained model a command reads: the ``run`` and the ``--tracking-uri`` of its store
    (`nnx-predict`, `nnx-evaluate` and `nnx-export` name a model the same way)."""
    parser.add_argument("run", help="a run dir (outputs/runs/...), an MLflow run id, or a registered "
                        "model: models:/NAME@champion, models:/NAME/VERSION")
    parser.add_argument("--tracking-uri", default=DEFAULT_URI,
                        help="the MLflow store that holds a run id (default: $MLFLOW_TRACKING_URI, "
                        "else sqlite:///outputs/mlflow.db)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnx-predict", description="Predict with a trained run's model on new raw data.")
    add_run_arguments(parser)
    parser.add_argument("--input", "-i", required=True,
                        help="a CSV with the training columns, a .npy array of samples, an "
                        "image file, a folder of images, or a CSV with a path column of images")
    parser.add_argument("--output", "-o", help="where to write the predictions (CSV); default: stdout")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of `nnx-predict`."""
    import os

    args = _parser().parse_args(argv)
    try:
        from nnx.models.predictor import read_input

        data = read_input(args.input)  # a bad input fails before any model is loaded
        predictor = load(args.run, args.tracking_uri)
        predictions = predictor.predict(data, where=str(args.input))
    except NnxError as error:
        if os.environ.get("NNX_FULL_ERROR") == "1":
            raise
        fail("nnx-predict", error)
    if hasattr(predictor, "members"):
        print(f"nnx-predict: the mean of {len(predictor)} models (the run's folds or seeds)", file=sys.stderr)
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
