"""The baseline to beat: what a trivial predictor scores on the same test split.

A model is worth its training only if it beats these. Each is fitted on the training split
alone and scored on the test split: the majority class (accuracy), the training mean
(MSE, MAE, RMSE) and, for forecasts, the last value of each window (MAE, RMSE).
"""

from __future__ import annotations

import math

import torch

from nnx.data.spec import Splits

__all__ = ["baselines"]


def _errors(prefix: str, predicted: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    error = (predicted - y).double()
    mse = float(error.square().mean())
    return {f"{prefix}mse": mse, f"{prefix}mae": float(error.abs().mean()), f"{prefix}rmse": math.sqrt(mse)}


def baselines(splits: Splits) -> dict[str, float]:
    """``test/baseline_*`` metrics of trivial predictors fitted on ``splits.train``.

    Classification: ``test/baseline_acc`` (always the training split's most frequent class).
    Regression: ``test/baseline_mse|mae|rmse`` (always the training targets' mean); a
    forecast (``spec.forecast``) adds ``test/baseline_last_mae|rmse`` (the window's last value).
    """
    spec = splits.spec
    y_train, (x_test, y_test) = splits.train[1], splits.test
    if len(y_test) == 0 or len(y_train) == 0:
        return {}
    if spec.task == "classification":
        majority = torch.bincount(y_train.view(-1).long().cpu()).argmax()
        return {"test/baseline_acc": float((y_test.view(-1).cpu() == majority).double().mean())}
    y_test = y_test.double().cpu().reshape(len(y_test), -1)
    mean = y_train.double().cpu().reshape(len(y_train), -1).mean(0, keepdim=True)
    metrics = _errors("test/baseline_", mean.expand_as(y_test), y_test)
    if spec.forecast:
        last = x_test.double().cpu().reshape(len(x_test), -1)[:, -1:].expand_as(y_test)
        metrics.update({k: v for k, v in _errors("test/baseline_last_", last, y_test).items()
                        if not k.endswith("_mse")})
    return metrics
