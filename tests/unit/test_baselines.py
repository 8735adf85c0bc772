"""The baseline to beat: trivial predictors fitted on the training split, scored on test by
every metric of the run (``test/baseline_<name>``)."""

from __future__ import annotations

import math

import pytest
import torch

from nnx.data.spec import DataSpec, Splits
from nnx.training.measure import build_scores


def _splits(spec: DataSpec, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor) -> Splits:
    x_train = torch.zeros(len(y_train), *spec.input_shape)
    return Splits((x_train, y_train), (x_test[:1], y_test[:1]), (x_test, y_test), spec)


def _baselines(splits: Splits, *names: str) -> dict[str, float]:
    return build_scores(((n, None) for n in names), not names, splits.spec).baselines(splits)


def test_majority_class_uses_the_training_split() -> None:
    spec = DataSpec((2,), "classification", num_classes=3)
    y_test = torch.tensor([1, 1, 0, 2])
    metrics = _baselines(_splits(spec, torch.tensor([1, 1, 1, 0, 2]), torch.zeros(4, 2), y_test))
    assert metrics["test/baseline_acc"] == 0.5
    assert metrics["test/baseline_auroc"] == 0.5  # the same probabilities for every sample
    assert metrics["test/baseline_recall"] == pytest.approx(1 / 3)  # class 1 all found, 0 and 2 never


def test_binary_prior_predicts_the_majority_and_ranks_nothing() -> None:
    spec = DataSpec((2,), "classification", num_classes=2)
    y_test = torch.tensor([1, 0, 0, 0])
    metrics = _baselines(_splits(spec, torch.tensor([0, 0, 0, 1]), torch.zeros(4, 2), y_test))
    assert metrics["test/baseline_acc"] == 0.75 and metrics["test/baseline_f1"] == 0.0
    assert metrics["test/baseline_average_precision"] == pytest.approx(0.25)  # the positive rate


def test_mean_predictor_errors() -> None:
    spec = DataSpec((1,), "regression")
    splits = _splits(spec, torch.tensor([1.0, 3.0]), torch.zeros(2, 1), torch.tensor([2.0, 4.0]))
    metrics = _baselines(splits, "mae", "mse", "rmse", "r2")
    assert metrics["test/baseline_mae"] == pytest.approx(1.0)  # the mean 2 misses by 0 and 2
    assert metrics["test/baseline_mse"] == pytest.approx(2.0)
    assert metrics["test/baseline_rmse"] == pytest.approx(math.sqrt(2.0))
    assert metrics["test/baseline_r2"] == pytest.approx(-1.0)  # 1 - 4 / 2
    assert not any("last" in k for k in metrics)


def test_forecast_adds_the_last_value_baseline() -> None:
    spec = DataSpec((3, 1), "regression", num_targets=1, kind="sequence", forecast=True)
    x_test = torch.tensor([[[0.0], [1.0], [2.0]], [[1.0], [2.0], [5.0]]])
    metrics = _baselines(_splits(spec, torch.zeros(4, 1), x_test, torch.tensor([[3.0], [3.0]])))
    assert metrics["test/baseline_last_mae"] == pytest.approx(1.5)  # 2 -> 3 and 5 -> 3
    assert metrics["test/baseline_last_rmse"] == pytest.approx(math.sqrt((1 + 4) / 2))
    assert set(metrics) == {"test/baseline_mae", "test/baseline_rmse", "test/baseline_last_mae",
                            "test/baseline_last_rmse"}
