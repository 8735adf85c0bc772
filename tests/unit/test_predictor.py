"""A model saved with its preprocessing predicts raw inputs; bad inputs are one line naming them."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from nnx.config import to_dataclass
from nnx.data.spec import DataSpec
from nnx.data.transforms import encode_table, fit_table
from nnx.errors import DataError
from nnx.models.predictor import Predictor
from nnx.registry import get_plugin

FRAME = pd.DataFrame({"age": [20.0, 40.0, 60.0, 30.0], "city": ["rome", "oslo", "rome", "oslo"]})


def _predictor(tmp_path, record: dict, spec: DataSpec) -> Predictor:
    plugin = get_plugin("model", "mlp")
    config = {"hidden": [4]}
    torch.manual_seed(0)
    model = plugin(to_dataclass(config, plugin.config, "model"), spec)
    Predictor(model, spec, record, "mlp", config).save(tmp_path / "predictor")
    return Predictor.load(tmp_path / "predictor")


@pytest.fixture
def table(tmp_path) -> Predictor:
    record = fit_table(FRAME, ["age"], ["city"])
    record["classes"] = ["no", "yes"]
    return _predictor(tmp_path, record, DataSpec((3,), "classification", num_classes=2))


def test_raw_rows_in_class_names_and_probabilities_out(table) -> None:
    out = table.predict(FRAME)
    assert list(out.columns) == ["prediction", "probability", "prob_no", "prob_yes"]
    assert set(out["prediction"]) <= {"no", "yes"}
    assert np.allclose(out["prob_no"] + out["prob_yes"], 1)
    with torch.no_grad():  # the same numbers as the model on the encoded rows
        logits = table.model(torch.from_numpy(encode_table(FRAME, table.preprocessing))).view(-1)
    assert np.allclose(out["prob_yes"], torch.sigmoid(logits).numpy(), atol=1e-6)


@pytest.mark.parametrize("encoding", ["onehot", "codes"])
@pytest.mark.parametrize("standardize", [True, False])
def test_table_encoding_is_each_value_in_its_column(encoding, standardize) -> None:
    train = pd.DataFrame({"age": [20.0, 40.0, None], "visits": [1, 2, 3], "city": ["rome", "oslo", "rome"]})
    record = fit_table(train, ["age", "visits"], ["city"], missing="mean", standardize=standardize,
                       encoding=encoding)
    rows = pd.DataFrame({"age": [None, 60.0], "visits": [4, 0], "city": ["oslo", "berlin"]})
    x = encode_table(rows, record)  # not strict: the unseen 'berlin' is no category (zeros, or -1)
    numbers = np.array([[30.0, 4.0], [60.0, 0.0]])  # the gap filled with the training mean
    if standardize:
        numbers = (numbers - [30.0, 2.0]) / [np.std([20, 40, 30]), np.std([1, 2, 3])]
    city = [[1.0, 0.0], [0.0, 0.0]] if encoding == "onehot" else [[0.0], [-1.0]]
    assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    assert np.array_equal(x, np.hstack([numbers, city]).astype(np.float32))


@pytest.mark.parametrize("text", ["str", object])  # Arrow-backed text (read_csv's) or Python objects
@pytest.mark.parametrize("encoding", ["onehot", "codes"])
def test_table_columns_are_read_by_name_with_gaps_filled_and_unseen_categories_zero(text, encoding) -> None:
    train = pd.DataFrame({"size": [1.0, 2.0, 3.0], "city": ["rome", "oslo", "rome"],
                          "tier": ["b", "a", None]})
    record = fit_table(train, ["size"], ["city", "tier"], missing="mean", standardize=False,
                       encoding=encoding)  # a text gap is filled with the most frequent category
    rows = pd.DataFrame({"tier": ["b", None, "c", "a"], "extra": [9, 9, 9, 9], "size": [4.0, 5.0, 6.0, 7.0],
                         "city": [None, "oslo", "rome", "paris"]}).astype({"tier": text, "city": text})
    x = encode_table(rows, record)  # not strict: 'c' and 'paris' were never seen
    city = [[0, 1], [1, 0], [0, 1], [0, 0]] if encoding == "onehot" else [[1], [0], [1], [-1]]
    tier = [[0, 1], [1, 0], [0, 0], [1, 0]] if encoding == "onehot" else [[1], [0], [-1], [0]]
    assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    assert np.array_equal(x, np.hstack([[[4.0], [5.0], [6.0], [7.0]], city, tier]).astype(np.float32))
    with pytest.raises(DataError, match=re.escape("Column 'city' of the input has the category 'paris'")):
        encode_table(rows, record, strict=True)
    assert np.array_equal(encode_table(rows.iloc[:2], record, strict=True), x[:2])


@pytest.mark.parametrize("text", ["str", object])
def test_a_gap_the_run_never_filled_is_named_when_strict(text) -> None:
    """missing=constant fills a text gap with '<missing>', a category only if training had gaps."""
    record = fit_table(pd.DataFrame({"city": ["rome", "oslo"]}), [], ["city"], missing="constant")
    rows = pd.DataFrame({"city": ["oslo", None]}).astype({"city": text})
    assert encode_table(rows, record).tolist() == [[1, 0], [0, 0]]
    with pytest.raises(DataError, match=re.escape("Column 'city' of the input has the category '<missing>'")):
        encode_table(rows, record, strict=True)


def test_rows_given_as_dicts_or_lists_predict_as_the_same_dataframe(table) -> None:
    expected = table.predict(FRAME)
    rows = FRAME.to_dict("records")
    for data in (rows, FRAME.to_dict("list"), FRAME.values.tolist(), FRAME.to_numpy()):
        assert table.predict(data).equals(expected)
    assert table.predict(rows[0]).equals(expected.iloc[:1])  # one row: a dict or its values
    assert table.predict(FRAME.iloc[0].tolist()).equals(expected.iloc[:1])
    assert table.predict(FRAME.iloc[0]).equals(expected.iloc[:1])
    assert table.predict([]).empty
    with pytest.raises(DataError, match=re.escape("the input has a row of 1 value; the model needs "
                                                  "rows of the 2 columns age, city.")):
        table.predict([[20.0, "rome"], [40.0]])


def test_the_prediction_is_the_chosen_class_with_its_probability(table, tmp_path) -> None:
    rows = pd.concat([FRAME] * 3, ignore_index=True).assign(age=np.linspace(0, 90, 12))
    for threshold in (0.2, 0.5, 0.8):  # binary: positive above the threshold
        out = dataclasses.replace(table, threshold=threshold).predict(rows)
        positive = out["prob_yes"] > threshold
        assert out["prediction"].dtype == "str"
        assert out["prediction"].tolist() == np.where(positive, "yes", "no").tolist()
        assert out["probability"].tolist() == np.where(positive, out["prob_yes"], out["prob_no"]).tolist()
    record = {"input": "array", "shape": [4], "classes": ["a", "b", "c"]}
    three = _predictor(tmp_path, record, DataSpec((4,), "classification", num_classes=3))
    out = three.predict(np.random.default_rng(0).normal(size=(50, 4)))
    probabilities = out[["prob_a", "prob_b", "prob_c"]].to_numpy()
    assert out["prediction"].tolist() == [["a", "b", "c"][i] for i in probabilities.argmax(1)]
    assert out["probability"].tolist() == probabilities.max(1).tolist()


@pytest.mark.parametrize(("frame", "message"), [
    (FRAME.drop(columns=["city"]), "the input has no column 'city'; the model needs the columns age, city."),
    (pd.concat([FRAME, FRAME[["city"]]], axis=1),
     "the input has more than one column 'city'; the model needs one of each of the columns age, city."),
    (FRAME.assign(city=["rome", "oslo", "berlin", "rome"]),
     "Column 'city' of the input has the category 'berlin', which the training data never held; "
     "known: oslo, rome."),
    (FRAME.assign(age=[1.0, None, 2.0, 3.0]),
     "Column 'age' of the input has 1 missing values (first in row 2); the run was trained with "
     "data.missing=error"),
    (FRAME.assign(age=["x", "1", "2", "3"]), "Column 'age' of the input holds text ('x')"),
    (FRAME.assign(age=[1.0, 2.0, np.inf, -np.inf]),
     "Column 'age' of the input holds an infinite value (first in row 3); the model needs finite numbers."),
])
def test_bad_rows_name_what_is_wrong(table, frame, message) -> None:
    with pytest.raises(DataError, match=re.escape(message)):
        table.predict(frame)


def test_arrays_take_the_recorded_shape_and_scale(tmp_path) -> None:
    record = {"input": "array", "shape": [1, 2, 2], "scale": 0.5, "classes": ["a", "b", "c"]}
    predictor = _predictor(tmp_path, record, DataSpec((1, 2, 2), "classification", num_classes=3,
                                                      kind="image"))
    images = np.arange(12.0).reshape(3, 2, 2)
    out = predictor.predict(images)  # (N, 2, 2) and (N, 4) are the same samples
    assert out.equals(predictor.predict(images.reshape(3, 4)))
    with torch.no_grad():
        expected = predictor.model(torch.tensor(images * 0.5, dtype=torch.float32).view(3, 1, 2, 2))
    assert out["prediction"].tolist() == [["a", "b", "c"][i] for i in expected.argmax(1).tolist()]
    with pytest.raises(DataError, match=re.escape("has shape (3, 5); the model needs samples of "
                                                  "shape (1, 2, 2) (an array of shape (N, 1, 2, 2)) "
                                                  "or flat rows (N, 4).")):
        predictor.predict(np.zeros((3, 5)))


def test_series_forecasts_every_window_in_the_original_units(tmp_path) -> None:
    record = {"input": "series", "column": "v", "window": 3, "horizon": 2, "mean": 10.0, "std": 2.0}
    predictor = _predictor(tmp_path, record, DataSpec((3, 1), "regression", num_targets=2,
                                                      kind="sequence", forecast=True))
    out = predictor.predict(pd.DataFrame({"v": [10.0, 12.0, 8.0, 10.0]}))
    assert out["window_end"].tolist() == [3, 4] and list(out.columns)[1:] == ["forecast_1", "forecast_2"]
    with torch.no_grad():
        raw = predictor.model(torch.tensor([[[0.0], [1.0], [-1.0]]]))[0]
    assert out.iloc[0, 1:].tolist() == pytest.approx((raw * 2 + 10).tolist(), abs=1e-5)
    with pytest.raises(DataError, match="has 2 values; the model reads windows of 3"):
        predictor.predict(pd.DataFrame({"v": [1.0, 2.0]}))


def test_nnx_predict_writes_predictions_without_importing_lightning(table, tmp_path) -> None:
    FRAME.to_csv(tmp_path / "rows.csv", index=False)
    FRAME.drop(columns=["age"]).to_csv(tmp_path / "bad.csv", index=False)
    code = (
        "import sys\nfrom nnx.cli.predict import main\n"
        f"main([{str(tmp_path)!r}, '--input', {str(tmp_path / 'rows.csv')!r}, '--output', "
        f"{str(tmp_path / 'out.csv')!r}])\n"
        "assert 'pytorch_lightning' not in sys.modules and 'mlflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(tmp_path / "out.csv").equals(table.predict(FRAME))
    bad = subprocess.run([sys.executable, "-m", "nnx.cli.predict", str(tmp_path), "-i",
                          str(tmp_path / "bad.csv")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.strip() == (f"nnx-predict: error: {tmp_path / 'bad.csv'} has no column 'age'; "
                                  "the model needs the columns age, city.")
