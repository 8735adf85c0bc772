"""Your own table from a CSV file: a target column, numeric and categorical features.

Numeric columns are standardised and categorical ones one-hot (or integer) encoded with the
training split's statistics; missing values are dropped, filled or refused by policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nnx.config import check, check_choice
from nnx.data import SplitConfig
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["CsvConfig", "csv"]


@dataclass
class CsvConfig(SplitConfig):
    batch_size: int = field(default=32, metadata={"help": "samples per optimizer step"})
    path: str | None = field(
        default=None, metadata={"help": "the CSV file, required (relative paths start from where nnx runs)"}
    )
    target: str | None = field(default=None, metadata={"help": "the column to predict, required"})
    features: list[str] | None = field(
        default=None, metadata={"help": "input columns; None: every column but the target"}
    )
    categorical: list[str] | None = field(
        default=None, metadata={"help": "None: the feature columns that hold text"}
    )
    encoding: str = field(default="onehot", metadata={"help": "onehot | codes (one integer per category)"})
    missing: str = field(
        default="drop",
        metadata={"help": "drop | mean | constant | error: what to do with empty feature cells"},
    )
    fill_value: float = field(
        default=0.0, metadata={"help": "the constant of missing=constant (text columns get '<missing>')"}
    )
    standardize: bool = field(
        default=True, metadata={"help": "scale numeric columns by the training split's mean and std"}
    )
    task: str = field(default="classification", metadata={"help": "classification | regression"})
    classes: list[str] | None = field(
        default=None, metadata={"help": "target labels in class order; None: inferred, sorted"}
    )
    class_weights: str = field(
        default="none", metadata={"help": "none | balanced: weight the loss by inverse class frequency"}
    )
    separator: str = field(default=",", metadata={"help": "the field separator"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("encoding", self.encoding, ("onehot", "codes"))
        check_choice("missing", self.missing, ("drop", "mean", "constant", "error"))
        check_choice("task", self.task, ("classification", "regression"))
        check_choice("class_weights", self.class_weights, ("none", "balanced"))
        if self.task == "regression":  # keys only classification reads would be ignored
            check(self.classes is None, "classes", self.classes, "null with task=regression")
            check(self.class_weights == "none", "class_weights", self.class_weights,
                  "none with task=regression")


@register_dataset(CsvConfig)
def csv(cfg: CsvConfig) -> Splits:
    """A CSV table: pick the target and feature columns; text columns are encoded."""
    from nnx.errors import ConfigValueError
    from nnx_plugins.datasets.tables import table_splits

    for key in ("path", "target"):
        if not getattr(cfg, key):
            usage = "required: nnx data=csv data.path=FILE.csv data.target=COLUMN"
            raise ConfigValueError(f"data.{key}", getattr(cfg, key), usage)
    return table_splits(cfg)
