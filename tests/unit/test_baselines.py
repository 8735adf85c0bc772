"""The baseline to beat: trivial predictors fitted on the training split, scored on test."""

from __future__ import annotations

import math

import pytest
import torch

from nnx.data.baselines import baselines
from nnx.data.spec import DataSpec, Splits


def _splits(spec: DataSpec, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor) -> Splits:
    x_train = torch.zeros(len(y_train), *spec.input_shape)
    return Splits((x_train, y_train), (x_test[:1], y_test[:1]), (x_test, y_test), spec)


def test_majority_class_accuracy_uses_the_training_split() -> None:
    spec = DataSpec((2,), "classification", num_classes=3)
    y_test = torch.tensor([1, 1, 0, 2])
    metrics = baselines(_splits(spec, torch.tensor([1, 1, 1, 0, 2]), torch.zeros(4, 2), y_test))
    assert metrics == {"test/baseline_acc": 0.5}


def test_mean_predictor_errors() -> None:
    spec = DataSpec((1,), "regression")
    metrics = baselines(_splits(spec, torch.tensor([1.0, 3.0]), torch.zeros(2, 1), torch.tensor([2.0, 4.0])))
    assert metrics["test/baseline_mae"] == pytest.approx(1.0)  # the mean 2 misses by 0 and 2
    assert metrics["test/baseline_mse"] == pytest.approx(2.0)
    assert metrics["test/baseline_rmse"] == pytest.approx(math.sqrt(2.0))
    assert not any("last" in k for k in metrics)


def test_forecast_adds_the_last_value_baseline() -> None:
    spec = DataSpec((3, 1), "regression", num_targets=1, kind="sequence", forecast=True)
    x_test = torch.tensor([[[0.0], [1.0], [2.0]], [[1.0], [2.0], [5.0]]])
    metrics = baselines(_splits(spec, torch.zeros(4, 1), x_test, torch.tensor([[3.0], [3.0]])))
    assert metrics["test/baseline_last_mae"] == pytest.approx(1.5)  # 2 -> 3 and 5 -> 3
    assert metrics["test/baseline_last_rmse"] == pytest.approx(math.sqrt((1 + 4) / 2))
