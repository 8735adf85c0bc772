"""`data=csv`: tables written here (and the shipped churn example) through the real loader."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from nnx.config import to_dataclass
from nnx.data import DataSpec
from nnx.errors import ConfigValueError, DataError
from nnx.registry import get_plugin
from nnx.training.losses import make_loss

CHURN = Path(__file__).parents[2] / "examples" / "data" / "churn.csv"


def build(**overrides):
    plugin = get_plugin("data", "csv")
    return plugin(to_dataclass(overrides, plugin.config, "data"))


def write(tmp_path: Path, text: str, name: str = "t.csv") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


@pytest.fixture
def table(tmp_path: Path) -> str:
    """60 rows: two numeric columns (one with gaps), one text column, a text target."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "age": rng.integers(20, 70, 60).astype(float),
        "income": rng.normal(50, 10, 60).round(1),
        "city": rng.choice(["paris", "rome", "oslo"], 60),
        "label": np.where(np.arange(60) % 3 == 0, "sick", "well"),
    })
    frame.loc[[3, 10, 20], "income"] = np.nan
    path = tmp_path / "patients.csv"
    frame.to_csv(path, index=False)
    return str(path)


def test_shipped_churn_example_loads(tmp_path) -> None:
    splits = build(path=str(CHURN), target="churned", classes=["no", "yes"], missing="mean")
    x, y = splits.train
    # 5 numeric columns + one-hot contract (3), internet (3), payment_method (4).
    assert splits.spec.input_shape == (15,) and splits.spec.num_outputs == 1
    rows = len(pd.read_csv(CHURN))
    assert len(y) + len(splits.val[1]) + len(splits.test[1]) == rows  # every row in one split
    assert not torch.isnan(x).any() and set(y.tolist()) == {0, 1}
    # Numeric columns are standardised with the training split's statistics only.
    assert torch.allclose(x[:, :5].mean(0), torch.zeros(5), atol=1e-5)
    assert torch.allclose(x[:, :5].std(0, unbiased=False), torch.ones(5), atol=1e-4)
    assert not torch.allclose(splits.val[0][:, :5].mean(0), torch.zeros(5), atol=1e-5)
    assert CHURN.stat().st_size < 100_000


def test_text_columns_are_one_hot_or_codes(table) -> None:
    onehot = build(path=table, target="label", classes=["well", "sick"])
    assert onehot.spec.input_shape == (5,)  # age, income + 3 cities
    assert set(onehot.train[0][:, 2:].sum(1).tolist()) == {1.0}
    codes = build(path=table, target="label", classes=["well", "sick"], encoding="codes")
    assert codes.spec.input_shape == (3,)
    assert set(codes.train[0][:, 2].tolist()) == {0.0, 1.0, 2.0}


def test_missing_value_policies(table) -> None:
    common = {"path": table, "target": "label", "classes": ["well", "sick"]}
    total = lambda s: sum(len(part[1]) for part in (s.train, s.val, s.test))  # noqa: E731
    assert total(build(**common)) == 57  # drop: the three rows with a gap are gone
    mean = build(**common, missing="mean")
    assert total(mean) == 60 and not torch.isnan(mean.train[0]).any()
    constant = build(**common, missing="constant", fill_value=-1000.0, standardize=False)
    assert (constant.train[0][:, 1] == -1000.0).sum() + (constant.val[0][:, 1] == -1000.0).sum() \
        + (constant.test[0][:, 1] == -1000.0).sum() == 3
    with pytest.raises(DataError, match=re.escape(
        f"Column 'income' in {table} has 3 missing values (data.missing=error)"
    )):
        build(**common, missing="error")


def test_numeric_multiclass_target_and_regression(tmp_path) -> None:
    rows = "\n".join(f"{i % 7},{i * 0.5},{i % 3}" for i in range(90))
    path = write(tmp_path, "a,b,kind\n" + rows)
    splits = build(path=path, target="kind")
    assert splits.spec.num_classes == 3 and splits.spec.num_outputs == 3
    regression = build(path=path, target="b", task="regression")
    assert regression.spec.task == "regression" and regression.train[1].dtype == torch.float32


def test_balanced_class_weights_come_from_the_training_split(table) -> None:
    splits = build(path=table, target="label", classes=["well", "sick"], class_weights="balanced")
    counts = torch.bincount(splits.train[1]).double()
    expected = (len(splits.train[1]) / (2 * counts)).tolist()
    assert splits.spec.class_weights == pytest.approx(expected)
    assert splits.spec.class_weights[1] > splits.spec.class_weights[0]  # 'sick' is rarer


def test_losses_apply_class_weights() -> None:
    out, y = torch.tensor([[0.3], [-1.2], [2.0]]), torch.tensor([1, 0, 0])
    spec = DataSpec((4,), "classification", num_classes=2, class_weights=(1.0, 3.0))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    plain = bce(out.view(-1), y.float(), reduction="none")
    weighted = make_loss(spec, "binary_cross_entropy")[1](out, y)
    assert weighted.item() == pytest.approx((plain * torch.tensor([3.0, 1, 1])).mean().item())
    logits, labels = torch.randn(5, 3), torch.tensor([0, 1, 2, 2, 1])
    spec3 = DataSpec((4,), "classification", num_classes=3, class_weights=(1.0, 2.0, 0.5))
    weight = torch.tensor([1.0, 2.0, 0.5])
    expected = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
    loss = make_loss(spec3, "cross_entropy")[1](logits, labels)
    assert loss.item() == pytest.approx(expected.item())


@pytest.mark.parametrize(("overrides", "message"), [
    ({"target": "lable"}, "Column 'lable' (data.target) is not in {path}. Did you mean 'label'?"),
    ({"target": "label", "features": ["age", "incme"]},
     "Column 'incme' (data.features) is not in {path}. Did you mean 'income'?"),
    ({"target": "label", "classes": ["well", "ill"]},
     "Target column 'label' in {path} has labels ['sick'] that are not in data.classes"),
    ({"target": "label", "classes": ["well", "sick"], "features": ["age"], "categorical": ["city"]},
     "Column 'city' of {path} is in data.categorical but not among the features (age)"),
    ({"target": "label", "classes": ["well", "sick"], "categorical": []},
     "Column 'city' in {path} holds text; list it in data.categorical"),
])
def test_bad_columns_name_the_file_and_column(table, overrides, message) -> None:
    with pytest.raises(DataError, match=re.escape(message.format(path=table))):
        build(path=table, **overrides)


def test_bad_files(tmp_path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=re.escape(f"CSV file not found: {missing}.")):
        build(path=str(missing), target="y")
    empty = write(tmp_path, "", "empty.csv")
    with pytest.raises(DataError, match=re.escape(f"CSV file {empty} is empty")):
        build(path=empty, target="y")
    header = write(tmp_path, "x,y\n", "header.csv")
    with pytest.raises(DataError, match=re.escape(f"CSV file {header} has a header but no data")):
        build(path=header, target="y")


def test_config_is_checked_before_reading() -> None:
    schema = get_plugin("data", "csv").config
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'data.missing': 'fill'")):
        to_dataclass({"path": "a.csv", "target": "y", "missing": "fill"}, schema, "data")
    with pytest.raises(ConfigValueError, match=re.escape("'data.path': None; expected required")):
        get_plugin("data", "csv")(to_dataclass({"target": "y"}, schema, "data"))


def test_text_target_classes_are_inferred_sorted_and_recorded(table) -> None:
    splits = build(path=table, target="label")
    assert splits.spec.num_classes == 2
    assert splits.preprocessing["classes"] == ["sick", "well"]  # sorted as text
    assert splits.preprocessing["target"] == "label"
    fixed = build(path=table, target="label", classes=["well", "sick"])  # data.classes: the order
    assert fixed.preprocessing["classes"] == ["well", "sick"]
    counts = torch.bincount(torch.cat([y for _, y in (splits.train, splits.val, splits.test)]))
    fixed_counts = torch.bincount(torch.cat([y for _, y in (fixed.train, fixed.val, fixed.test)]))
    assert fixed_counts.tolist() == counts.flip(0).tolist()


def test_fitted_transforms_are_recorded(table) -> None:
    record = build(path=table, target="label").preprocessing
    assert record["input"] == "table" and set(record["categories"]) == {"city"}
    assert set(record["numeric"]) == set(record["mean"]) == set(record["std"])


def test_single_class_target_is_refused(tmp_path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("a,b,y\n1,2,yes\n3,4,yes\n5,6,yes\n")
    with pytest.raises(DataError, match=re.escape("Target column 'y' in " + str(path)
                                                  + " holds a single class ('yes')")):
        build(path=str(path), target="y")


def test_classification_keys_are_refused_with_regression(table) -> None:
    from nnx.errors import ConfigValueError

    with pytest.raises(ConfigValueError, match="data.classes|classes"):
        build(path=table, target="age", task="regression", classes=["a", "b"])


def test_misreads_are_one_line(tmp_path) -> None:
    semicolons = write(tmp_path, "a;b;y\n1;2;0\n3;4;1\n", "semi.csv")
    with pytest.raises(DataError, match=re.escape("reads as one column ('a;b;y') with data.separator=','; "
                                                  "its fields look separated by ';'")):
        build(path=semicolons, target="y")
    prices = write(tmp_path, "x,price\n" + "\n".join(f"{i},{100 + i}" for i in range(60)), "p.csv")
    with pytest.raises(DataError, match=re.escape("Target column 'price' in " + prices + " has 60 "
                                                  "different values in 60 rows: too many to be classes")):
        build(path=prices, target="price")
