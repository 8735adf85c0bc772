"""`nnx.load`: a trained model, by run dir, run id or registered name, ready to predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load"]


def load(ref: str | Path, *, tracking_uri: str | None = None) -> Any:
    """The trained model of a run, ready to predict: ``ref`` is a run dir, an MLflow run id
    or a registered model (``models:/NAME@champion``, ``models:/NAME/3``)
    (looked up in ``tracking_uri``; by default ``MLFLOW_TRACKING_URI``, else nnx's local store).

    A k-fold (``eval.folds``) or multi-seed (``eval.seeds``) run gives the `Ensemble` of its
    models: the mean of their probabilities (regression: values); ``len()`` says how many.

    ``predict(data)`` returns one row per sample (the class name, its probability and each
    class's); ``predict_proba(data)`` the class probabilities. ``data`` is raw: a DataFrame
    of the training columns, or an array of samples; the run's preprocessing is applied.
    """
    from nnx.cli.predict import load as load_run
    from nnx.config.schemas import default_uri

    return load_run(str(ref), tracking_uri or default_uri())
