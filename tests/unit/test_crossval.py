"""k-fold splitting and the mean ± std summary (no training here)."""

from __future__ import annotations

import re

import pytest
import torch

from nnx.config import RunConfig, to_dataclass
from nnx.data import DataSpec, Splits
from nnx.data.splits import fold_splits
from nnx.errors import ConfigValueError, DataError
from nnx.training.kfold import summarize


def _splits(task: str = "classification", n: int = 100) -> Splits:
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1)
    y = torch.arange(n) % 4 if task == "classification" else x.squeeze(1)
    spec = DataSpec((1,), task, num_classes=4 if task == "classification" else 0)
    test = (torch.zeros(7, 1), torch.zeros(7, dtype=y.dtype))
    return Splits((x[:80], y[:80]), (x[80:], y[80:]), test, spec)


def test_folds_partition_train_and_val_and_keep_the_test_split() -> None:
    splits = _splits()
    folds = fold_splits(splits, 5, seed=0)
    assert len(folds) == 5
    held_out = torch.cat([f.val[0] for f in folds]).squeeze(1).sort().values
    assert held_out.tolist() == list(range(100))  # every sample validates exactly once
    for fold in folds:
        assert len(fold.train[1]) == 80 and len(fold.val[1]) == 20
        assert not set(fold.train[0].squeeze(1).tolist()) & set(fold.val[0].squeeze(1).tolist())
        assert torch.bincount(fold.val[1]).tolist() == [5, 5, 5, 5]  # stratified
        assert fold.test is splits.test


def test_folds_are_seeded() -> None:
    first = [f.val[0] for f in fold_splits(_splits(), 5, seed=1)]
    again = [f.val[0] for f in fold_splits(_splits(), 5, seed=1)]
    other = [f.val[0] for f in fold_splits(_splits(), 5, seed=2)]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))


def test_regression_folds_are_contiguous_blocks() -> None:
    folds = fold_splits(_splits("regression"), 4, seed=0)
    assert folds[1].val[0].squeeze(1).tolist() == list(range(25, 50))


def test_too_many_folds_for_a_class() -> None:
    with pytest.raises(DataError, match="Cannot cut 100 samples into 30 folds"):
        fold_splits(_splits(), 30, seed=0)


def test_summary_is_mean_and_std_of_shared_metrics() -> None:
    summary = summarize([{"val/acc": 0.8, "x": 1.0}, {"val/acc": 0.9}, {"val/acc": 1.0}])
    assert summary == pytest.approx({"val/acc": 0.9, "val/acc_std": (0.02 / 3) ** 0.5})


def test_eval_folds_is_checked() -> None:
    assert to_dataclass({"eval": {"folds": 5}}, RunConfig, "").eval.cross_validate
    assert not to_dataclass({"eval": {"folds": 1}}, RunConfig, "").eval.cross_validate
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'eval.folds': 0")):
        to_dataclass({"eval": {"folds": 0}}, RunConfig, "")
