"""Cutting data into train/val/test (and k folds) without leaking the evaluation splits.

Everything is reproducible from a seed of its own (``split_seed``, ``fold_seed``), so
changing the training seed keeps the same samples in each split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnx.data.spec import Splits
from nnx.errors import DataError

__all__ = ["split_arrays", "standardize", "fold_splits", "check_learnable"]


def split_arrays(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
    stratify: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split into train/val/test, stratified by ``y`` when asked, reproducibly from ``seed``."""
    from sklearn.model_selection import train_test_split

    def cut(a: np.ndarray, b: np.ndarray, fraction: float, salt: int) -> list[np.ndarray]:
        return train_test_split(
            a, b, test_size=fraction, random_state=seed + salt, stratify=b if stratify else None
        )

    try:
        x_rest, x_test, y_rest, y_test = cut(x, y, test_fraction, 0)
        x_train, x_val, y_train, y_val = cut(
            x_rest, y_rest, val_fraction / (1.0 - test_fraction), 1
        )
    except ValueError as error:
        raise DataError(f"Cannot split {len(x)} samples into train/val/test: {error}") from error
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def standardize(
    train: np.ndarray, *others: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Scale every array by the mean and std of the training array only (no leakage)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return tuple((a - mean) / std for a in (train, *others))


def fold_splits(splits: Splits, folds: int, seed: int) -> list[Splits]:
    """k ``Splits`` whose train/val are the pooled train+val cut into folds; test is kept."""
    import torch
    from sklearn.model_selection import KFold, StratifiedKFold

    if not isinstance(splits.train[0], torch.Tensor):
        raise DataError("Cross-validation (eval.folds) cuts in-memory tensors; this data streams "
                        "from files or is augmented batch by batch (for images: data.cache=memory "
                        "without random augmentation).")
    x = torch.cat([splits.train[0], splits.val[0]])
    y = torch.cat([splits.train[1], splits.val[1]])
    if splits.spec.task == "classification":
        cutter: Any = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        cutter = KFold(folds)  # contiguous blocks: no shuffling of time-ordered samples
    try:
        parts = list(cutter.split(np.zeros(len(y)), y.cpu().numpy()))
    except ValueError as error:
        raise DataError(f"Cannot cut {len(y)} samples into {folds} folds: {error}") from error
    return [
        Splits((x[torch.as_tensor(train)], y[torch.as_tensor(train)]),
               (x[torch.as_tensor(val)], y[torch.as_tensor(val)]), splits.test, splits.spec,
               splits.preprocessing)
        for train, val in parts
    ]


def check_learnable(splits: Splits, name: str) -> None:
    """A classifier needs two classes in its training split; refuse data that has one."""
    if splits.spec.task != "classification" or len(splits.train[1]) == 0:
        return
    present = splits.train[1].view(-1).unique()
    if len(present) < 2:
        classes = splits.preprocessing.get("classes") or []
        index = int(present[0])
        label = classes[index] if index < len(classes) else str(index)
        raise DataError(
            f"Data '{name}': every training sample has the class {label!r}, so there is nothing "
            "to learn; a classifier needs at least two classes."
        )
