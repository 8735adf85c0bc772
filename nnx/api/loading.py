"""`nnx.load`: a trained model, by run dir, run id or registered name, ready to predict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["load"]


def load(ref: str | Path, *, tracking_uri: str | None = None) -> Any:
    """The trained model of a run, ready to predict: ``ref`` is a run dir or an MLflow run id
    (looked up in ``tracking_uri``, nnx's default store unless given).

    ``predict(data)`` returns one row per sample (the class name, its probability and each
    class's); ``predict_proba(data)`` the class probabilities. ``data`` is raw: a DataFrame
    of the training columns, or an array of samples; the run's preprocessing is applied.
    """
    import tempfile

    from nnx.cli.predict import find_predictor
    from nnx.config.schemas import TrackingConfig
    from nnx.models.predictor import Predictor

    uri = tracking_uri or TrackingConfig.uri
    with tempfile.TemporaryDirectory() as scratch:
        return Predictor.load(find_predictor(str(ref), uri, Path(scratch)))
