"""Several trained models of one run as one predictor: the folds of ``eval.folds`` and the
seeds of ``eval.seeds`` (each fold of each seed when both), averaged.

Each member applies its own preprocessing (a fold's statistics are its own training
folds'); the ensemble averages their class probabilities (regression: their values), so its
answers have the same columns as a single model's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nnx.errors import DataError
from nnx.models.predictor import Predictor

__all__ = ["Ensemble", "load_predictor"]


@dataclasses.dataclass
class Ensemble:
    """The mean of its members' outputs; ``members`` were trained on the same task and data."""

    members: list[Predictor]

    @property
    def classes(self) -> list[str]:
        return self.members[0].classes

    @property
    def spec(self) -> Any:
        return self.members[0].spec

    def __len__(self) -> int:
        return len(self.members)

    def outputs(self, data: Any, where: str = "the input") -> tuple[np.ndarray, list[int] | None]:
        """The members' mean class probabilities (or values), and a series' window ends."""
        answers = [member.outputs(data, where) for member in self.members]
        return np.mean([values for values, _ in answers], axis=0), answers[0][1]

    def predict(self, data: Any, where: str = "the input") -> pd.DataFrame:
        """As `Predictor.predict`, from the mean of the members' outputs (a binary target:
        positive above the mean of their decision thresholds)."""
        threshold = float(np.mean([member.threshold for member in self.members]))
        return dataclasses.replace(self.members[0], threshold=threshold).frame(*self.outputs(data, where))

    def predict_proba(self, data: Any, where: str = "the input") -> pd.DataFrame:
        """As `Predictor.predict_proba`: the members' mean probability of each class."""
        if self.spec.task != "classification":
            raise DataError("predict_proba needs a classifier; this ensemble predicts values (use predict).")
        return pd.DataFrame(self.outputs(data, where)[0], columns=self.classes)


def load_predictor(folders: list[Path]) -> Predictor | Ensemble:
    """One saved predictor as itself; several (a run's folds or seeds) as their `Ensemble`."""
    members = [Predictor.load(folder) for folder in folders]
    return members[0] if len(members) == 1 else Ensemble(members)
