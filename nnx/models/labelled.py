"""Labelled data for `nnx-evaluate`: raw samples and their targets, encoded as the run's
model saw its own (`nnx.models.predictor.Predictor`: the run's preprocessing).

Targets come from a column of a CSV (``target``: the run's target column by default), from
a separate ``labels`` array or file, or, for a series, from the series itself (each
window's next values). Anything the run cannot score is one `DataError` naming it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from nnx.errors import DataError, did_you_mean
from nnx.models.predictor import Predictor

__all__ = ["encode_labelled"]


def encode_labelled(predictor: Predictor, data: Any, labels: Any = None, target: str | None = None,
                    where: str = "the input") -> tuple[np.ndarray, torch.Tensor]:
    """``(model inputs, targets)`` of labelled ``data``, one target row per sample."""
    if predictor.preprocessing.get("input") == "series":
        return _series(predictor, data, where)
    if labels is None:
        data, labels = _target_column(predictor, data, target, where)
    elif isinstance(labels, pd.DataFrame):
        if len(labels.columns) != 1:
            raise DataError(f"The labels file has {len(labels.columns)} columns; it needs one, the targets.")
        labels = labels.iloc[:, 0]
    array = np.asarray(labels)
    if array.ndim > 1 and array.size != len(array):
        raise DataError(f"The targets of {where} have shape {array.shape}; give one per sample.")
    values = pd.Series(array.reshape(-1))
    x, _ = predictor.encode(data, where)
    if len(values) != len(x):
        raise DataError(f"{where} has {len(x)} samples but {len(values)} targets; give one per sample.")
    if predictor.spec.task == "classification":
        return x, torch.from_numpy(_class_indices(values, predictor.classes, where))
    if not pd.api.types.is_numeric_dtype(values) or values.isna().any():
        raise DataError(f"The targets of {where} must be numbers without gaps (regression).")
    return x, torch.from_numpy(values.to_numpy(np.float32))


def _target_column(predictor: Predictor, data: Any, target: str | None,
                   where: str) -> tuple[pd.DataFrame, pd.Series]:
    name = target or predictor.preprocessing.get("target") or "target"
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{where} holds samples without targets; pass them with --labels FILE "
                        "(a .npy or one-column CSV, one per sample).")
    if name not in data.columns:
        columns = [str(c) for c in data.columns]
        raise DataError(f"{where} has no target column '{name}'.{did_you_mean(name, columns)} "
                        f"Columns: {', '.join(columns)}; name the target with --target.")
    return data.drop(columns=[name]), data[name]


def _label_text(value: Any) -> str:
    """A label as the run's class names spell it: ``1.0`` read from a CSV is class ``1``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _class_indices(values: pd.Series, classes: list[str], where: str) -> np.ndarray:
    """Class names (or, for names that are not numbers, the class indices) -> indices."""
    text = [_label_text(v) for v in values]
    index = {name: i for i, name in enumerate(classes)}
    unseen = sorted(set(text) - set(index))
    if unseen and not any(c.isdigit() for c in classes) and all(
            t.isdigit() and int(t) < len(classes) for t in set(text)):
        return np.asarray([int(t) for t in text], dtype=np.int64)  # codes 0..k-1 of named classes
    if unseen:
        raise DataError(f"The targets of {where} hold the class '{unseen[0]}', which the run never "
                        f"trained on.{did_you_mean(unseen[0], classes)} Known: {', '.join(classes)}.")
    return np.asarray([index[t] for t in text], dtype=np.int64)


def _series(predictor: Predictor, data: Any, where: str) -> tuple[np.ndarray, torch.Tensor]:
    """Every window of the series with the next ``horizon`` values as its targets, scaled."""
    record = predictor.preprocessing
    values = predictor.series_values(data, where)
    window, horizon = int(record["window"]), int(record.get("horizon", 1))
    if len(values) < window + horizon:
        raise DataError(f"{where} has {len(values)} values; scoring a forecast needs at least "
                        f"{window + horizon} (a window of {window} and the {horizon} after it).")
    x, _ = predictor.encode(values[:-horizon], where)
    scaled = (values - record.get("mean", 0.0)) / (record.get("std", 1.0) or 1.0)
    starts = np.arange(len(x))[:, None] + window + np.arange(horizon)
    return x, torch.from_numpy(scaled[starts].astype(np.float32))
