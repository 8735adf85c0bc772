"""Forecasting a time series (built-in noisy sine or AR process, or a CSV column) from windows.

Regression with sliding windows (``window`` past values -> ``horizon`` next ones) and a
chronological train/val/test split; models see inputs of shape ``(window, 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import check, check_choice
from nnx.data import DataConfig
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["TimeSeriesConfig", "timeseries"]


@dataclass
class TimeSeriesConfig(DataConfig):
    source: str = field(
        default="auto", metadata={"help": "auto | sine | ar | csv; auto: csv when `path` is set, else sine"}
    )
    path: str | None = field(default=None, metadata={"help": "the CSV file, for source=csv (or auto)"})
    column: str | None = field(
        default=None, metadata={"help": "the CSV column holding the series, for source=csv"}
    )
    length: int = field(default=2000, metadata={"help": "values the generator makes (sine, ar)"})
    period: float = field(default=50.0, metadata={"help": "steps per cycle of the sine"})
    noise: float = field(default=0.2, metadata={"help": "std of the generator's Gaussian noise"})
    coefficients: list[float] = field(
        default_factory=lambda: [0.6, -0.3, 0.4], metadata={"help": "AR weights a_1..a_p"}
    )
    series_seed: int = field(default=0, metadata={"help": "seed of the generator's noise"})
    window: int = field(default=32, metadata={"help": "past values one sample holds"})
    horizon: int = field(default=1, metadata={"help": "next values to predict"})
    val_fraction: float = field(default=0.15, metadata={"help": "the stretch before the test stretch"})
    test_fraction: float = field(default=0.15, metadata={"help": "the last stretch of the series"})
    standardize: bool = field(default=True, metadata={"help": "scale by the training stretch's mean and std"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("source", self.source, ("auto", "sine", "ar", "csv"))
        if self.source != "csv" and self.source != "auto":
            for key in ("path", "column"):  # a file given to a generator would be ignored
                check(getattr(self, key) is None, key, getattr(self, key),
                      f"null with source={self.source} (it generates its series; source=csv reads "
                      f"data.path); drop data.{key} or set data.source=csv")
        if self.source == "auto" and self.column is not None:
            check(bool(self.path), "path", self.path, f"the CSV file holding column '{self.column}'")
        if self.source == "csv" or self.path:
            check(bool(self.path), "path", self.path, "a CSV file when source=csv")
            check(bool(self.column), "column", self.column, "the CSV column that holds the series")
        check(self.length >= 10, "length", self.length, "an integer >= 10")
        check(self.window >= 1, "window", self.window, "an integer >= 1")
        check(self.horizon >= 1, "horizon", self.horizon, "an integer >= 1")
        for key in ("val_fraction", "test_fraction"):
            check(0 < getattr(self, key) < 0.5, key, getattr(self, key), "a fraction in (0, 0.5)")


@register_dataset(TimeSeriesConfig)
def timeseries(cfg: TimeSeriesConfig) -> Splits:
    """Time-series forecasting: sliding windows over a sine, AR process or CSV column."""
    from nnx_plugins.datasets import series

    if cfg.source == "csv" or cfg.source == "auto" and cfg.path:
        values = series.read_column(cfg.path, cfg.column)
    elif cfg.source == "ar":
        values = series.ar_process(cfg.length, cfg.coefficients, cfg.noise, cfg.series_seed)
    else:
        values = series.noisy_sine(cfg.length, cfg.period, cfg.noise, cfg.series_seed)
    splits = series.window_splits(values, cfg)
    source = str(cfg.path) if cfg.path else f"{cfg.source if cfg.source != 'auto' else 'sine'} generator"
    splits.preprocessing["source"] = source
    return splits
