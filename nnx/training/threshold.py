"""The binary decision threshold (``eval.threshold``): a fixed probability, or ``tuned``.

A binary model outputs one logit; a sample is predicted positive when its probability is
above the threshold. ``tuned`` picks, just before the test, the threshold that maximises F1
on the validation split (never the test split): the test metrics, the evaluation report and
the saved predictor (`nnx-predict`, the logged pyfunc) all use it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch

__all__ = ["TUNED", "best_f1_threshold", "TuneThreshold"]

TUNED = "tuned"


def best_f1_threshold(y: np.ndarray, p: np.ndarray, default: float = 0.5) -> float:
    """The threshold with the best F1 of ``p > threshold`` against the 0/1 targets ``y``.

    Candidates lie halfway between consecutive distinct probabilities, so ties fall on one
    side; the highest of equally good ones wins. ``default`` when ``y`` has no positive.
    """
    y, p = np.asarray(y).reshape(-1).astype(float), np.asarray(p, dtype=np.float64).reshape(-1)
    if not y.any():
        return default
    order = np.argsort(-p, kind="stable")
    ranked, hits = p[order], y[order]
    true_pos, predicted = np.cumsum(hits), np.arange(1, len(hits) + 1)
    cut = np.r_[ranked[1:] < ranked[:-1], True]  # the last of a run of equal probabilities
    f1 = np.where(cut, 2 * true_pos / (predicted + hits.sum()), -1.0)
    best = int(np.argmax(f1))
    below = ranked[best + 1] if best + 1 < len(ranked) else 0.0
    return float((ranked[best] + below) / 2)


class TuneThreshold(pl.Callback):
    """Sets the threshold of the task's metrics from the validation split ``val`` before
    each test."""

    def __init__(self, val: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.val = val

    def on_test_start(self, trainer: pl.Trainer, pl_module: Any) -> None:
        from nnx.training.evaluation import split_outputs

        if len(self.val[1]) == 0:
            return
        logits, y = split_outputs(pl_module.model, self.val)
        p = torch.sigmoid(logits.float()).cpu().numpy()
        pl_module.scores.threshold = best_f1_threshold(y.cpu().numpy(), p)
