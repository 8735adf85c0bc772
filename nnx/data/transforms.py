"""Fitted preprocessing as plain data: learned on the training split, applied to any rows.

A data plugin records what it learned (standardisation statistics, category vocabularies,
class names, window and horizon) in ``Splits.preprocessing``, a JSON-able dict; the run
saves it beside its model, so new raw inputs go through exactly the same steps. Three input
kinds exist:

- ``table``: named columns (``columns``), numeric ones scaled by ``mean``/``std``, text ones
  encoded with the training split's ``categories`` (one-hot or integer codes);
- ``array``: samples of a fixed ``shape`` (images, signals, flat features), optionally
  multiplied by ``scale`` and standardised by per-feature ``mean``/``std``;
- ``series``: one column of values cut into windows of ``window`` values that forecast the
  next ``horizon`` values, scaled by the training stretch's ``mean``/``std``.

Applying a record to new inputs (``strict=True``) refuses what the model never saw: a
missing column, a wrong shape, an unseen category, a missing value it cannot fill, each as
one `DataError` naming it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nnx.errors import DataError

__all__ = ["MISSING_CATEGORY", "fit_table", "encode_table", "encode_array", "series_windows",
           "raw_example", "stats_like"]

MISSING_CATEGORY = "<missing>"


def fit_table(train: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], *,
              missing: str = "error", fill_value: float = 0.0, standardize: bool = True,
              encoding: str = "onehot") -> dict[str, Any]:
    """What the training rows teach: fill values, means and stds, category vocabularies."""
    fill: dict[str, Any] = {}
    for column in numeric:
        fill[column] = float(train[column].mean()) if missing == "mean" else float(fill_value)
    for column in categorical:
        mode = train[column].mode()
        fill[column] = str(mode.iloc[0]) if missing == "mean" and len(mode) else MISSING_CATEGORY
    filled = train.fillna(fill)
    values = filled[list(numeric)].astype(float)
    return {
        "input": "table",
        "columns": [str(c) for c in train.columns if c in {*numeric, *categorical}],
        "numeric": list(numeric),
        "mean": {c: float(values[c].mean()) for c in numeric},
        "std": {c: float(values[c].std(ddof=0)) or 1.0 for c in numeric},
        "standardize": bool(standardize),
        "categories": {c: sorted(filled[c].astype(str).unique()) for c in categorical},
        "encoding": encoding,
        "missing": missing,
        "fill": fill,
    }


def _table_columns(frame: pd.DataFrame, record: dict[str, Any], strict: bool,
                   where: str) -> dict[str, pd.Series]:
    """The record's columns of ``frame``, each read once (pandas builds a Series per read).
    Every column must be there; strict, with no gap the run cannot fill (text where the run
    had numbers and unknown categories are found while encoding: `_numbers`, `_category_codes`)."""
    wanted = {*record["numeric"], *record["categories"]}
    # one pass by position: looking each name up builds the column index's hash table first
    columns: dict[str, pd.Series] = {}
    for name, values in frame.items():
        key = str(name)
        if key in wanted:
            if key in columns:
                raise DataError(f"{where} has more than one column '{key}'; the model needs one of each "
                                f"of the columns {', '.join(record['columns'])}.")
            columns[key] = values
    if len(columns) < len(wanted):
        for column in record["columns"]:
            if column not in columns:
                raise DataError(f"{where} has no column '{column}'; the model needs the columns "
                                f"{', '.join(record['columns'])}.")
    if strict and record["missing"] in ("drop", "error"):
        for column in record["columns"]:
            if columns[column].hasnans:
                gaps = columns[column].isna().to_numpy()
                raise DataError(
                    f"Column '{column}' of {where} has {int(gaps.sum())} missing values (first in "
                    f"row {int(np.argmax(gaps)) + 1}); the run was trained with "
                    f"data.missing={record['missing']}, so it cannot fill them."
                )
    return columns


def _numbers(values: pd.Series, fill: Any, where: str | None = None) -> np.ndarray:
    """A numeric column as float64, its gaps filled; given ``where`` (strict), text that is
    no number is one `DataError` naming the column."""
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biu":
        return values.to_numpy(np.float64)  # NumPy integers: no gaps
    if values.dtype == np.float64:
        array = values.to_numpy()  # a gap is a NaN, found without pandas
        gaps = np.isnan(array)
        return np.where(gaps, fill, array) if gaps.any() else array
    if where is not None and not pd.api.types.is_numeric_dtype(values):
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if bad.any():
            raise DataError(f"Column '{values.name}' of {where} holds text ({values[bad].iloc[0]!r}); "
                            "the model was trained on numbers there.")
    if values.hasnans:
        values = values.fillna(fill)
    if not pd.api.types.is_numeric_dtype(values):
        values = pd.to_numeric(values)
    return values.to_numpy(np.float64)


@functools.lru_cache(maxsize=64)
def _value_set(known: tuple[str, ...], text_type: Any) -> Any:
    """A column's known categories as the Arrow array `_text_codes` looks rows up in (built
    once per model, not per call)."""
    import pyarrow as pa

    return pa.array(known, text_type)


def _text_codes(values: pd.Series, known: list[str], fill: Any, strict: bool) -> np.ndarray | None:
    """Each row's index in ``known`` (-1: unseen) in one Arrow lookup, a gap being ``fill``;
    None where ``values`` is not Arrow-backed text (pandas' default for text read from a CSV)
    or, ``strict``, where a row is unseen (`_category_codes` then names it)."""
    if not isinstance(values.dtype, pd.StringDtype) or values.dtype.storage != "pyarrow":
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.array)
    found = pc.index_in(text, value_set=_value_set(tuple(known), text.type))  # null: a gap, or unseen
    fill_at = known.index(str(fill)) if str(fill) in known else -1
    if not found.null_count:
        return found.to_numpy()
    if found.null_count == text.null_count:  # every null is a gap
        return None if strict and fill_at < 0 else pc.fill_null(found, fill_at).to_numpy()
    if strict:
        return None
    gaps = text.is_null().to_numpy(zero_copy_only=False)
    return np.where(gaps, fill_at, pc.fill_null(found, -1).to_numpy())


def _category_codes(values: pd.Series, column: str, record: dict[str, Any], strict: bool,
                    where: str) -> np.ndarray:
    """Each row's index in the training split's categories of ``column`` (-1: unseen); a gap
    is the recorded fill. Only the distinct values are compared, as training spelled them."""
    known = record["categories"][column]
    codes = _text_codes(values, known, record["fill"][column], strict)
    if codes is not None:
        return codes
    codes, distinct = pd.factorize(values)  # a gap: code -1; also what names an unseen category
    names = [*pd.Index(distinct).astype(str), str(record["fill"][column])]
    position = {name: i for i, name in enumerate(known)}
    found = np.array([position.get(name, -1) for name in names])  # found[-1]: the fill, for code -1
    if strict:
        used = names if (codes < 0).any() else names[:-1]
        unseen = sorted(name for name, at in zip(used, found, strict=False) if at < 0)
        if unseen:
            raise DataError(f"Column '{column}' of {where} has the category {unseen[0]!r}, which the "
                            f"training data never held; known: {', '.join(known)}.")
    return found[codes]


def _first_infinite(numbers: np.ndarray, names: Sequence[str]) -> tuple[str, int]:
    """The first column (by name) holding an infinity, and its first such row (1-based)."""
    bad = ~np.isfinite(numbers)
    column = int(np.argmax(bad.any(axis=0)))
    return names[column], int(np.argmax(bad[:, column])) + 1


def encode_table(frame: pd.DataFrame, record: dict[str, Any], *, strict: bool = False,
                 where: str = "the input", by_row: bool = True) -> np.ndarray:
    """Rows -> float32 model inputs ``(N, features)`` with the fitted ``record``.

    ``strict`` refuses what training never saw (see the module doc); without it a category
    the training split never saw is encoded as all zeros (one-hot) or -1 (codes).
    ``by_row=False`` returns the array column-major, as it is filled: a network's forward
    pass reads either layout (the same outputs), and predicting skips a copy of every value.
    """
    columns = _table_columns(frame, record, strict, where)
    numeric, categories = record["numeric"], record["categories"]
    onehot = record["encoding"] != "codes"
    widths = [len(known) if onehot else 1 for known in categories.values()]
    out = np.empty((len(frame), len(numeric) + sum(widths)), np.float32, order="F")  # filled by column
    numbers = np.empty((len(frame), len(numeric)), order="F")  # float64, scaled all at once
    for i, column in enumerate(numeric):
        numbers[:, i] = _numbers(columns[column], record["fill"][column], where if strict else None)
    if strict and not np.isfinite(numbers).all():  # gaps are filled by now: an infinity
        column, row = _first_infinite(numbers, numeric)
        raise DataError(f"Column '{column}' of {where} holds an infinite value (first in row {row}); "
                        "the model needs finite numbers.")
    if record["standardize"]:  # written straight into out as float32
        np.subtract(numbers, [record["mean"][column] for column in numeric], out=numbers)
        np.divide(numbers, [record["std"][column] for column in numeric], out=out[:, :len(numeric)])
    else:
        out[:, :len(numeric)] = numbers
    start = len(numeric)
    for column, width in zip(categories, widths, strict=True):
        codes = _category_codes(columns[column], column, record, strict, where)
        if onehot:  # one column per category; an unseen one (-1) leaves its row all zeros
            for code in range(width):
                np.equal(codes, code, out=out[:, start + code], casting="unsafe")
        else:
            out[:, start] = codes
        start += width
    return np.ascontiguousarray(out) if by_row else out


def encode_array(x: np.ndarray, record: dict[str, Any], where: str = "the input") -> np.ndarray:
    """Samples -> float32 model inputs of the recorded ``shape`` (a flat row per sample is
    reshaped when its size matches)."""
    shape = tuple(record["shape"])
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DataError(f"{where} holds {x.dtype} values; the model needs numbers.")
    size = math.prod(shape)
    if tuple(x.shape) == shape or x.ndim == 1 and x.size == size:  # one sample, no batch axis
        x = x[None]
    if x.ndim < 2 or math.prod(x.shape[1:]) != size:  # (N, *shape), or the same values laid out flat
        raise DataError(f"{where} has shape {tuple(x.shape)}; the model needs samples of shape "
                        f"{shape} (an array of shape (N, {', '.join(map(str, shape))}))"
                        + (f" or flat rows (N, {size})" if len(shape) > 1 else "") + ".")
    x = x.reshape(len(x), *shape).astype(np.float64)
    if record.get("scale") is not None:
        x = x * record["scale"]
    if record.get("mean") is not None:
        x = (x - stats_like(record["mean"], shape)) / stats_like(record["std"], shape)
    return x.astype(np.float32)


def stats_like(values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Recorded means or stds laid out to broadcast over samples of ``shape``: one per value,
    one per channel (the first axis), or one for all."""
    array = np.asarray(values, dtype=np.float64)
    if array.size == math.prod(shape):
        return array.reshape(shape)
    if array.size == shape[0]:
        return array.reshape(shape[0], *([1] * (len(shape) - 1)))
    return array.reshape(-1)[:1].reshape([1] * len(shape)) if array.size == 1 else array.reshape(shape)


def series_windows(values: np.ndarray, record: dict[str, Any], where: str = "the input") -> np.ndarray:
    """A series -> every window of ``window`` consecutive values ``(N, window, 1)``, scaled."""
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    window = int(record["window"])
    if len(values) < window:
        raise DataError(f"{where} has {len(values)} values; the model reads windows of {window}.")
    if np.isnan(values).any():
        raise DataError(f"{where} has missing values (first at position "
                        f"{int(np.argmax(np.isnan(values))) + 1}); fill them before forecasting.")
    values = (values - record.get("mean", 0.0)) / (record.get("std", 1.0) or 1.0)
    starts = np.arange(len(values) - window + 1)
    return values[starts[:, None] + np.arange(window)][..., None].astype(np.float32)


def raw_example(frame: pd.DataFrame, rows: int = 5) -> dict[str, Any]:
    """A few raw rows as plain data (``columns``, ``data``): a model's input example."""
    import json

    return json.loads(frame.head(rows).to_json(orient="split", index=False))
