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
from nnx.data.transforms import encode_table, fit_table, raw_example
from nnx.errors import DataError, did_you_mean

__all__ = ["read_csv", "check_columns", "table_splits"]


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
    if len(frame.columns) == 1:  # the fields may be separated by something else
        header = str(frame.columns[0])
        found = next((sep for sep in (";", "\t", "|", ",") if sep != separator and sep in header), None)
        if found is not None:
            raise DataError(f"CSV file {file} reads as one column ({header!r}) with data.separator="
                            f"{separator!r}; its fields look separated by {found!r}: set "
                            f"data.separator={found!r}.")
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


def _class_labels(target: pd.Series, classes: list[str] | None, file: str) -> tuple[np.ndarray, list[str]]:
    """Target values -> class indices 0..k-1 and the class names, in class order.

    ``classes`` fixes the order; otherwise text labels are sorted as text and numeric ones
    as numbers.
    """
    name = str(target.name)
    given = classes is not None
    if classes is None:
        if pd.api.types.is_numeric_dtype(target):
            values = target.to_numpy()
            if not np.all(np.equal(np.mod(values, 1), 0)):
                raise DataError(
                    f"Target column '{name}' in {file} holds non-integer numbers; "
                    "use data.task=regression to predict them."
                )
            target = target.astype(np.int64)
            classes = [str(v) for v in sorted(np.unique(target.to_numpy()))]
        else:
            classes = sorted(target.astype(str).unique())
    else:
        classes = [str(c) for c in classes]
        if pd.api.types.is_numeric_dtype(target) and np.all(np.equal(np.mod(target, 1), 0)):
            target = target.astype(np.int64)
    text = target.astype(str)
    unknown = sorted(set(text) - set(classes))
    if unknown:
        raise DataError(
            f"Target column '{name}' in {file} has labels {unknown} that are not in "
            f"data.classes={classes}."
        )
    present = text.unique()
    if not given and len(present) > max(20, len(text) // 2):
        raise DataError(
            f"Target column '{name}' in {file} has {len(present)} different values in {len(text)} "
            "rows: too many to be classes. To predict the numbers set data.task=regression "
            "(or list the classes: data.classes=[...])."
        )
    if len(present) < 2:
        raise DataError(
            f"Target column '{name}' in {file} holds a single class ({present[0]!r}) in every "
            f"row: a classifier needs at least two. Pick another data.target, or "
            f"data.task=regression for a numeric target."
        )
    return text.map({label: i for i, label in enumerate(classes)}).to_numpy(np.int64), classes


def _missing(frame: pd.DataFrame, features: list[str], file: str, policy: str) -> pd.DataFrame:
    counts = frame[features].isna().sum()
    if policy == "error" and counts.any():
        column = str(counts[counts > 0].index[0])
        raise DataError(
            f"Column '{column}' in {file} has {int(counts[column])} missing values "
            "(data.missing=error). Choose data.missing=drop, mean or constant to handle them."
        )
    return frame.dropna(subset=features) if policy == "drop" else frame


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
    classes = None
    if classification:
        y, classes = _class_labels(frame[cfg.target], cfg.classes, file)
    elif pd.api.types.is_numeric_dtype(frame[cfg.target]):
        y = frame[cfg.target].to_numpy(np.float32)
    else:
        raise DataError(
            f"Target column '{cfg.target}' in {file} holds text; regression needs numbers."
        )
    rows = np.arange(len(frame))
    parts = split_arrays(rows, y, cfg.val_fraction, cfg.test_fraction, cfg.split_seed,
                         stratify=classification)
    frames = [frame.iloc[index] for index, _ in parts]
    record = fit_table(frames[0], numeric, categorical, missing=cfg.missing,
                       fill_value=cfg.fill_value, standardize=cfg.standardize, encoding=cfg.encoding)
    xs = [encode_table(part, record) for part in frames]
    ys = [torch.from_numpy(t) for _, t in parts]
    tensors = [(torch.from_numpy(x), t) for x, t in zip(xs, ys, strict=True)]
    num_classes = len(classes) if classes else 0
    weights = None
    if classification and cfg.class_weights == "balanced":
        counts = np.bincount(parts[0][1], minlength=num_classes).astype(float)
        weights = tuple(float(w) for w in len(parts[0][1]) / (num_classes * np.maximum(counts, 1)))
    spec = DataSpec(input_shape=(xs[0].shape[1],), task=cfg.task, num_classes=num_classes,
                    class_weights=weights)
    record.update(target=cfg.target, classes=classes, example=raw_example(frames[2][record["columns"]]),
                  source=str(Path(cfg.path).expanduser().resolve()))
    return Splits(*tensors, spec=spec, preprocessing=record)
