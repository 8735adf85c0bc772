"""Config schemas shared by data plugins: batch size and the train/val/test split.

Kept free of torch and sklearn so that listing plugins and validating configs stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nnx.config.checks import check

__all__ = ["DataConfig", "SplitConfig"]


@dataclass
class DataConfig:
    batch_size: int = field(default=64, metadata={"help": "samples per optimizer step"})

    def __post_init__(self) -> None:
        check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")


@dataclass
class SplitConfig(DataConfig):
    val_fraction: float = field(default=0.15, metadata={"help": "share of samples held out for validation"})
    test_fraction: float = field(
        default=0.15, metadata={"help": "share of samples held out for the final test"}
    )
    split_seed: int = field(default=0, metadata={"help": "fixed, so changing `seed` keeps the same split"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("val_fraction", "test_fraction"):
            value = getattr(self, key)
            check(0 < value < 1, key, value, "a fraction in (0, 1)")
        total = self.val_fraction + self.test_fraction
        check(total < 1, "val_fraction", self.val_fraction, "val_fraction + test_fraction < 1")
