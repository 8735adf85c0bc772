"""The model a run logs (``tracking.log_model=true``): an MLflow pyfunc that applies the run's
preprocessing, so raw rows go in and labels and probabilities come out.

``mlflow models serve -m runs:/<id>/model --env-manager local`` serves it over HTTP, and
``mlflow.pyfunc.load_model`` loads it in Python; both need nnx (and the model's plugin)
installed. The weights and the preprocessing are the run's ``predictor/`` folder
(`nnx.models.predictor`), carried as the pyfunc's artifact.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow.pyfunc
import pandas as pd

from nnx.models.ensemble import Ensemble, load_predictor
from nnx.models.predictor import PREDICTOR_DIR, Predictor

__all__ = ["NnxModel"]


class NnxModel(mlflow.pyfunc.PythonModel):
    """Raw inputs (a DataFrame of the training columns, or an array of samples) -> predictions."""

    predictor: Predictor | Ensemble | None = None

    def load_context(self, context: Any) -> None:
        """The run's predictor, or (``predictor-1``, ``predictor-2``...) its folds' and seeds' ensemble."""
        folders = [Path(path) for key, path in sorted(context.artifacts.items())
                   if key.partition("-")[0] == PREDICTOR_DIR]
        self.predictor = load_predictor(folders)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        """One row per sample: ``prediction``, and ``probability``/``prob_<class>`` for classes
        (a binary target is positive above the run's ``eval.threshold``, saved with the predictor).

        ``model_input`` may also be an array of samples (MLflow takes its schema from the
        input example logged with the model, not from this hint).
        """
        if self.predictor is None:
            self.load_context(context)
        if isinstance(model_input, dict):  # a named tensor input
            model_input = next(iter(model_input.values()))
        if isinstance(model_input, list):
            model_input = pd.DataFrame(model_input)
        return self.predictor.predict(model_input)
