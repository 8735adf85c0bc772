"""scikit-learn's bundled datasets (digits, iris, wine, breast cancer): offline, in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.data import SplitConfig
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["DigitsConfig", "TableConfig", "digits", "iris", "wine", "breast_cancer"]


@dataclass
class DigitsConfig(SplitConfig):
    as_image: bool = field(default=True, metadata={"help": "(1, 8, 8) images; false gives 64 flat features"})


@dataclass
class TableConfig(SplitConfig):
    batch_size: int = field(default=32, metadata={"help": "samples per optimizer step"})
    standardize: bool = field(default=True, metadata={"help": "scale features by train-split mean and std"})


def _splits(loader_name: str, cfg: SplitConfig, image: bool) -> Splits:
    import numpy as np
    import pandas as pd
    import sklearn.datasets
    import torch

    from nnx.data import DataSpec, Splits, split_arrays
    from nnx.data.transforms import encode_array, encode_table, fit_table, raw_example

    bunch = getattr(sklearn.datasets, loader_name)()
    x, y = bunch.data.astype(np.float32), bunch.target
    parts = split_arrays(x, y, cfg.val_fraction, cfg.test_fraction, cfg.split_seed)
    classes = [str(name) for name in bunch.target_names]
    shape: tuple[int, ...] = (1, 8, 8) if image and getattr(cfg, "as_image", False) else (x.shape[1],)
    if image:  # digits' pixels run 0..16
        record = {"input": "array", "shape": list(shape), "scale": 1 / 16.0}
        xs = [encode_array(p[0], record) for p in parts]
    else:  # a table with named columns: raw rows can be predicted from a CSV
        columns = [str(c) for c in bunch.feature_names]
        frames = [pd.DataFrame(p[0], columns=columns) for p in parts]
        record = fit_table(frames[0], columns, [], standardize=getattr(cfg, "standardize", False))
        xs = [encode_table(frame, record) for frame in frames]
        record["example"] = raw_example(frames[2])
    tensors = [
        (torch.tensor(a, dtype=torch.float32).reshape(-1, *shape), torch.tensor(p[1]))
        for a, p in zip(xs, parts, strict=True)
    ]
    kind = "image" if len(shape) == 3 else "table"
    spec = DataSpec(input_shape=shape, task="classification", num_classes=int(y.max()) + 1, kind=kind)
    record.update(classes=classes, source=f"sklearn.datasets.{loader_name}")
    return Splits(*tensors, spec=spec, preprocessing=record)


@register_dataset(DigitsConfig)
def digits(cfg: DigitsConfig) -> Splits:
    """sklearn digits: 1797 handwritten 8x8 images of 0-9."""
    return _splits("load_digits", cfg, image=True)


@register_dataset(TableConfig)
def iris(cfg: TableConfig) -> Splits:
    """sklearn iris: 150 flowers, 4 features, 3 species."""
    return _splits("load_iris", cfg, image=False)


@register_dataset(TableConfig)
def wine(cfg: TableConfig) -> Splits:
    """sklearn wine: 178 wines, 13 chemical features, 3 cultivars."""
    return _splits("load_wine", cfg, image=False)


@register_dataset(TableConfig)
def breast_cancer(cfg: TableConfig) -> Splits:
    """sklearn breast cancer (Wisconsin): 569 tumours, 30 features, malignant or benign."""
    return _splits("load_breast_cancer", cfg, image=False)
