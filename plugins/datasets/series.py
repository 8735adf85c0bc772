"""Time series -> sliding windows, split in time order (the future is never trained on).

A window of ``window`` past values predicts the next ``horizon`` values. Windows are cut
from the whole series and each goes to the split that holds all of its targets, so a
validation window may look back into training values but never predicts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nnx.data import DataSpec, Splits
from nnx.errors import DataError

__all__ = ["noisy_sine", "ar_process", "read_column", "window_splits", "naive_forecast"]


def noisy_sine(length: int, period: float, noise: float, seed: int) -> np.ndarray:
    """``sin(2πt/period)`` plus Gaussian noise of std ``noise``."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    return np.sin(2 * np.pi * t / period) + rng.normal(0, noise, length)


def ar_process(length: int, coefficients: list[float], noise: float, seed: int) -> np.ndarray:
    """``x_t = Σ a_i x_{t-i} + ε_t``, after a burn-in so the start does not matter."""
    rng = np.random.default_rng(seed)
    order, burn_in = len(coefficients), 200
    x = np.zeros(length + burn_in)
    eps = rng.normal(0, noise, length + burn_in)
    a = np.asarray(coefficients)[::-1]
    for t in range(order, len(x)):
        x[t] = a @ x[t - order : t] + eps[t]
    return x[burn_in:]


def read_column(path: str, column: str) -> np.ndarray:
    """One numeric column of a CSV file, in file order, without gaps."""
    import pandas as pd

    from nnx_plugins.datasets.tables import check_columns, read_csv

    frame = read_csv(path)
    check_columns(frame, path, "data.column", [column])
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(f"Column '{column}' in {path} holds text; a time series needs numbers.")
    if values.isna().any():
        raise DataError(
            f"Column '{column}' in {path} has {int(values.isna().sum())} missing values; "
            "fill or interpolate them before forecasting."
        )
    return values.to_numpy(np.float64)


def window_splits(series: np.ndarray, cfg: Any) -> Splits:
    """Sliding windows ``(N, window, 1)`` -> targets ``(N, horizon)``, split chronologically."""
    n, window, horizon = len(series), cfg.window, cfg.horizon
    n_test = int(round(n * cfg.test_fraction))
    n_val = int(round(n * cfg.val_fraction))
    train_end, val_end = n - n_val - n_test, n - n_test
    if train_end < window + horizon or min(n_val, n_test) < horizon:
        raise DataError(
            f"A series of {n} values is too short for window={window}, horizon={horizon} with "
            f"val_fraction={cfg.val_fraction} and test_fraction={cfg.test_fraction}."
        )
    column = getattr(cfg, "column", None) or "value"
    tail = [[float(v)] for v in series[-(window + 4):]]  # raw: a few forecasts' worth
    record = {"input": "series", "column": column, "window": window, "horizon": horizon,
              "mean": 0.0, "std": 1.0, "example": {"columns": [column], "data": tail}}
    if cfg.standardize:
        head = series[:train_end]
        record.update(mean=float(head.mean()), std=float(head.std() or 1.0))
        series = (series - record["mean"]) / record["std"]
    values = torch.tensor(series, dtype=torch.float32)
    starts = torch.arange(n - window - horizon + 1)
    x = values[starts[:, None] + torch.arange(window)].unsqueeze(-1)
    y = values[starts[:, None] + window + torch.arange(horizon)]
    first, last = starts + window, starts + window + horizon - 1  # where each window's targets lie

    def part(lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
        keep = (first >= lo) & (last < hi)
        return x[keep], y[keep]

    spec = DataSpec(input_shape=(window, 1), task="regression", num_targets=horizon, kind="sequence",
                    forecast=True)
    return Splits(part(0, train_end), part(train_end, val_end), part(val_end, n), spec=spec,
                  preprocessing=record)


def naive_forecast(x: torch.Tensor, horizon: int) -> torch.Tensor:
    """The last-value forecast: every future step equals the window's last value."""
    return x[:, -1, :1].expand(-1, horizon)
