"""MNIST-1D generated locally: 4000 train / 1000 test signals of length 40, 10 classes.

Built with the ``mnist1d`` package's ``make_dataset(get_dataset_args())`` (the published
split, no download) and cached as ``.npz``, so only the first run pays the few seconds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nnx.config import check
from nnx.data import DataConfig
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["Mnist1dConfig", "mnist1d", "default_cache_dir"]


def default_cache_dir() -> Path:
    """``$NNX_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/nnx`` (``~/.cache/nnx``)."""
    if os.environ.get("NNX_CACHE_DIR"):
        return Path(os.environ["NNX_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "nnx"


@dataclass
class Mnist1dConfig(DataConfig):
    batch_size: int = field(default=100, metadata={"help": "samples per optimizer step"})
    val_fraction: float = field(
        default=0.1, metadata={"help": "share of the 4000 training signals held out for validation"}
    )
    split_seed: int = field(default=0, metadata={"help": "fixed, so changing `seed` keeps the same split"})
    cache_dir: str | None = field(default=None, metadata={"help": "None: $NNX_CACHE_DIR or ~/.cache/nnx"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0 < self.val_fraction < 1, "val_fraction", self.val_fraction, "a fraction in (0, 1)")


def _load_or_make(cache: Path) -> dict:
    import numpy as np

    path = cache / "mnist1d.npz"
    if path.exists():
        with np.load(path) as stored:
            return dict(stored)
    from mnist1d.data import get_dataset_args, make_dataset

    made = make_dataset(get_dataset_args())
    arrays = {k: np.asarray(made[k]) for k in ("x", "y", "x_test", "y_test")}
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"mnist1d.{os.getpid()}.tmp.npz"
    np.savez(partial, **arrays)
    partial.replace(path)  # atomic: concurrent runs never read a half-written file
    return arrays


@register_dataset(Mnist1dConfig)
def mnist1d(cfg: Mnist1dConfig) -> Splits:
    """MNIST-1D: 1-D signals of length 40, 10 classes, generated offline."""
    import torch
    from sklearn.model_selection import train_test_split

    from nnx.data import DataSpec, Splits

    arrays = _load_or_make(Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir())
    x_train, x_val, y_train, y_val = train_test_split(
        arrays["x"], arrays["y"], test_size=cfg.val_fraction, random_state=cfg.split_seed,
        stratify=arrays["y"],
    )

    def pair(x, y):
        return torch.tensor(x, dtype=torch.float32).unsqueeze(1), torch.tensor(y, dtype=torch.long)

    spec = DataSpec(input_shape=(1, 40), task="classification", num_classes=10, kind="signal")
    record = {"input": "array", "shape": [1, 40], "classes": [str(i) for i in range(10)],
              "source": "mnist1d.data.make_dataset"}
    return Splits(
        pair(x_train, y_train), pair(x_val, y_val), pair(arrays["x_test"], arrays["y_test"]), spec,
        record,
    )
