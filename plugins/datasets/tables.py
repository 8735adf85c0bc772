"""CSV tables -> in-memory tensors: column checks, missing values, encoding, scaling.

Everything learned from the data (fill values, categories, means and stds, class weights)
comes from the training split only, so validation and test scores are not inflated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nnx.data import DataSpec, Splits, split_arrays
from nnx.errors import DataError, did_you_mean

__all__ = ["read_csv", "check_columns", "table_splits"]

_MISSING_CATEGORY = "<missing>"


def read_csv(path: str, separator: str = ",") -> pd.DataFrame:
    """The file as a DataFrame; a missing, empty or unparsable file is one `DataError`."""
    file = Path(path).expanduser()
    if not file.is_file():
        where = "" if file.is_absolute() else f" (relative paths start from {Path.cwd()})"
        raise DataError(f"CSV file not found: {file}{where}. Set data.path to an existing file.")
    try:
        frame = pd.read_csv(file, sep=separator, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise DataError(f"CSV file {file} is empty: it needs a header row and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0]
        raise DataError(f"CSV file {file} cannot be parsed: {reason}") from None
    if frame.empty:
        raise DataError(f"CSV file {file} has a header but no data rows.")
    return frame


def check_columns(frame: pd.DataFrame, file: str, key: str, names: Sequence[str]) -> None:
    """Every name must be a column of ``frame``; else say which, with a did-you-mean."""
    columns = [str(c) for c in frame.columns]
    for name in names:
        if name not in columns:
            raise DataError(
                f"Column '{name}' ({key}) is not in {file}.{did_you_mean(name, columns)} "
                f"Columns: {', '.join(columns)}."
            )


def _class_labels(target: pd.Series, classes: list[str] | None, file: str) -> np.ndarray:
    """Target values -> class indices 0..k-1, by ``classes`` or by the sorted numeric values."""
    name = str(target.name)
    if classes is None:
        if not pd.api.types.is_numeric_dtype(target):
            shown = ", ".join(repr(v) for v in sorted(target.astype(str).unique())[:5])
            raise DataError(
                f"Target column '{name}' in {file} holds text ({shown}) and no mapping to classes "
                f"was given. Set data.classes=[...] with its labels in class order, e.g. "
                f"data.classes=[{','.join(sorted(target.astype(str).unique())[:2])}]."
            )
        values = target.to_numpy()
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise DataError(
                f"Target column '{name}' in {file} holds non-integer numbers; "
                "use data.task=regression to predict them."
            )
        classes = [str(v) for v in sorted(np.unique(values.astype(np.int64)))]
        target = target.astype(np.int64)
    text = target.astype(str)
    unknown = sorted(set(text) - set(classes))
    if unknown:
        raise DataError(
            f"Target column '{name}' in {file} has labels {unknown} that are not in "
            f"data.classes={classes}."
        )
    return text.map({label: i for i, label in enumerate(classes)}).to_numpy(np.int64)


def _missing(frame: pd.DataFrame, features: list[str], file: str, policy: str) -> pd.DataFrame:
    counts = frame[features].isna().sum()
    if policy == "error" and counts.any():
        column = str(counts[counts > 0].index[0])
        raise DataError(
            f"Column '{column}' in {file} has {int(counts[column])} missing values "
            "(data.missing=error). Choose data.missing=drop, mean or constant to handle them."
        )
    return frame.dropna(subset=features) if policy == "drop" else frame


def _encode(
    parts: list[pd.DataFrame], numeric: list[str], categorical: list[str], cfg: Any
) -> list[np.ndarray]:
    """Fill, scale and encode each split with what the training split (``parts[0]``) holds."""
    train = parts[0]
    fill: dict[str, Any] = {}
    for column in numeric:
        fill[column] = train[column].mean() if cfg.missing == "mean" else cfg.fill_value
    for column in categorical:
        mode = train[column].mode()
        use_mode = cfg.missing == "mean" and len(mode)
        fill[column] = mode.iloc[0] if use_mode else _MISSING_CATEGORY
    mean = train[numeric].fillna(fill).mean() if numeric else None
    std = train[numeric].fillna(fill).std(ddof=0).replace(0, 1) if numeric else None
    categories = {c: sorted(train[c].fillna(fill[c]).astype(str).unique()) for c in categorical}
    arrays = []
    for part in parts:
        part = part.fillna(fill)
        blocks = []
        if numeric:
            values = part[numeric].astype(float)
            blocks.append((values - mean) / std if cfg.standardize else values)
        for column in categorical:
            codes = pd.Categorical(part[column].astype(str), categories=categories[column]).codes
            if cfg.encoding == "codes":
                blocks.append(pd.DataFrame({column: codes}, index=part.index))
            else:  # one-hot; a category the training split never saw gets all zeros
                onehot = np.eye(len(categories[column]))[codes] * (codes >= 0)[:, None]
                blocks.append(pd.DataFrame(onehot, index=part.index))
        arrays.append(np.concatenate([np.asarray(b, dtype=np.float32) for b in blocks], axis=1))
    return arrays


def table_splits(cfg: Any) -> Splits:
    """Read ``cfg.path`` and return standardised, encoded train/val/test tensors."""
    frame = read_csv(cfg.path, cfg.separator)
    file = str(Path(cfg.path).expanduser())
    check_columns(frame, file, "data.target", [cfg.target])
    features = list(cfg.features) if cfg.features else [c for c in frame.columns if c != cfg.target]
    check_columns(frame, file, "data.features", features)
    categorical = cfg.categorical
    if categorical is None:
        categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    check_columns(frame, file, "data.categorical", categorical)
    outside = [c for c in categorical if c not in features]
    if outside:
        raise DataError(
            f"Column '{outside[0]}' of {file} is in data.categorical but not among the features "
            f"({', '.join(features)}); add it to data.features or drop it from data.categorical."
        )
    numeric = [c for c in features if c not in categorical]
    for column in numeric:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise DataError(
                f"Column '{column}' in {file} holds text; list it in data.categorical "
                "(or leave data.categorical=null to detect text columns)."
            )
    frame = _missing(frame, features, file, cfg.missing)
    frame = frame[frame[cfg.target].notna()]
    if frame.empty:
        raise DataError(f"No rows of {file} are left after dropping rows with missing values.")
    classification = cfg.task == "classification"
    if classification:
        y = _class_labels(frame[cfg.target], cfg.classes, file)
    elif pd.api.types.is_numeric_dtype(frame[cfg.target]):
        y = frame[cfg.target].to_numpy(np.float32)
    else:
        raise DataError(
            f"Target column '{cfg.target}' in {file} holds text; regression needs numbers."
        )
    rows = np.arange(len(frame))
    parts = split_arrays(rows, y, cfg.val_fraction, cfg.test_fraction, cfg.split_seed,
                         stratify=classification)
    xs = _encode([frame.iloc[index] for index, _ in parts], numeric, categorical, cfg)
    ys = [torch.from_numpy(t) for _, t in parts]
    tensors = [(torch.from_numpy(x), t) for x, t in zip(xs, ys, strict=True)]
    num_classes = int(y.max()) + 1 if classification else 0
    if cfg.classes:
        num_classes = len(cfg.classes)
    weights = None
    if classification and cfg.class_weights == "balanced":
        counts = np.bincount(parts[0][1], minlength=num_classes).astype(float)
        weights = tuple(float(w) for w in len(parts[0][1]) / (num_classes * np.maximum(counts, 1)))
    spec = DataSpec(input_shape=(xs[0].shape[1],), task=cfg.task, num_classes=num_classes,
                    class_weights=weights)
    return Splits(*tensors, spec=spec)
