"""`data=timeseries`: generators, windows, the chronological split, CSV columns and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from nnx.config import to_dataclass
from nnx.errors import ConfigValueError, DataError
from nnx.registry import get_plugin
from nnx_plugins.datasets.series import ar_process, naive_forecast


def build(**overrides):
    plugin = get_plugin("data", "timeseries")
    return plugin(to_dataclass(overrides, plugin.config, "data"))


def test_windows_and_targets_follow_the_series(tmp_path) -> None:
    values = np.arange(100, dtype=float)
    path = tmp_path / "s.csv"
    path.write_text("step,value\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values)))
    splits = build(source="csv", path=str(path), column="value", window=5, horizon=2,
                   val_fraction=0.2, test_fraction=0.2, standardize=False)
    x, y = splits.train
    assert splits.spec.input_shape == (5, 1) and splits.spec.num_outputs == 2
    assert splits.spec.kind == "sequence" and splits.spec.task == "regression"
    assert x[0, :, 0].tolist() == [0, 1, 2, 3, 4] and y[0].tolist() == [5, 6]
    # Chronological: every train target comes before every val target, val before test.
    assert y.max() < splits.val[1].min() and splits.val[1].max() < splits.test[1].min()
    assert y.max() == 59 and splits.val[1].min() == 60 and splits.test[1].max() == 99
    # A val window may look back into the train stretch, but predicts only val values.
    assert splits.val[0][0, :, 0].tolist() == [55, 56, 57, 58, 59]


def test_standardised_with_the_training_stretch_only() -> None:
    splits = build(source="ar", length=1000, window=10, standardize=True)
    train_values = torch.cat([splits.train[0][0, :, 0], splits.train[1][:, 0]])
    assert abs(float(train_values.mean())) < 1e-4
    assert abs(float(train_values.std(unbiased=False)) - 1) < 1e-3


def test_generators_are_seeded_and_stationary() -> None:
    a = build(source="sine", length=300, series_seed=1)
    b = build(source="sine", length=300, series_seed=1)
    assert torch.equal(a.train[0], b.train[0])
    assert not torch.equal(a.train[0], build(source="sine", length=300, series_seed=2).train[0])
    series = ar_process(5000, [0.6, -0.3, 0.4], 0.2, seed=0)
    assert np.abs(series).max() < 3  # stable coefficients: no blow-up


def test_naive_forecast_repeats_the_last_value() -> None:
    x = torch.arange(12.0).reshape(2, 6, 1)
    assert naive_forecast(x, 3).tolist() == [[5, 5, 5], [11, 11, 11]]


def test_bad_inputs(tmp_path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("value,label\n1.0,a\n,b\n3.0,c\n")
    with pytest.raises(DataError, match=re.escape(f"Column 'valu' (data.column) is not in {path}.")):
        build(source="csv", path=str(path), column="valu")
    with pytest.raises(DataError, match=re.escape(f"Column 'value' in {path} has 1 missing values")):
        build(source="csv", path=str(path), column="value")
    with pytest.raises(DataError, match=re.escape(f"Column 'label' in {path} holds text")):
        build(source="csv", path=str(path), column="label")
    with pytest.raises(DataError, match="too short for window=32"):
        build(length=40)
    with pytest.raises(ConfigValueError, match=re.escape("'data.column': None; expected the CSV column")):
        build(source="csv", path=str(path))


def test_a_path_selects_the_csv_source_and_is_never_ignored(tmp_path) -> None:
    path = tmp_path / "s.csv"
    path.write_text("value\n" + "\n".join(str(i % 7) for i in range(200)))
    splits = build(path=str(path), column="value", window=5)  # source: auto
    assert splits.preprocessing["source"] == str(path)
    assert splits.train[0][0, :, 0].tolist() == pytest.approx(
        ((np.arange(5) % 7 - splits.preprocessing["mean"]) / splits.preprocessing["std"]).tolist())
    assert build().preprocessing["source"] == "sine generator"
    for source in ("sine", "ar"):  # a generator given a file names the key it would ignore
        with pytest.raises(ConfigValueError, match=re.escape(f"'data.path': '{path}'; expected null "
                                                             f"with source={source}")):
            build(source=source, path=str(path), column="value")
    with pytest.raises(ConfigValueError, match=re.escape("'data.path': None; expected the CSV file "
                                                         "holding column 'value'")):
        build(column="value")
