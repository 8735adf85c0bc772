"""A trained model with its preprocessing: raw inputs in, labels and probabilities out.

Every run saves one in ``<run dir>/predictor/`` (and logs it to the run's ``predictor/``
artifacts): the weights (``model.pt``, a state dict: loading runs no pickled code), the
model plugin's name and config, the data spec and the fitted preprocessing
(``predictor.json``, see `nnx.data.transforms`). `Predictor.load` rebuilds the model from
the plugin registry, so it needs nnx and the plugin installed, and never Lightning.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from nnx.data.images import IMAGE_SUFFIXES, encode_files
from nnx.data.spec import DataSpec
from nnx.data.transforms import encode_array, encode_table, series_windows, stats_like
from nnx.errors import DataError

__all__ = ["PREDICTOR_DIR", "Predictor", "read_input"]

PREDICTOR_DIR = "predictor"
_WEIGHTS, _RECORD = "model.pt", "predictor.json"


@functools.cache
def _labels(classes: tuple[str, ...]) -> pd.api.extensions.ExtensionArray:
    """The class names as the text array a prediction column is taken from (built once)."""
    return pd.array(classes, dtype="str")


def _table_rows(data: Any, columns: list[str], where: str) -> pd.DataFrame:
    """Table rows given as something other than a DataFrame: a dict (of columns, or one row),
    a Series (one row, as ``frame.iloc[0]``), a list of dicts (one per row), rows of values in
    the order of ``columns`` (one row alone too), or a 2-D array. Lists become columns of their
    own types: a NumPy array of mixed rows would turn every number and gap into text."""
    need = f"the model needs rows of the {len(columns)} columns {', '.join(columns)}."
    if isinstance(data, pd.Series):
        data = data.to_dict()
    if isinstance(data, Mapping):
        return pd.DataFrame([data] if all(np.ndim(v) == 0 for v in data.values()) else data)
    if isinstance(data, (list, tuple)):
        rows = list(data)
        if rows and all(isinstance(row, Mapping) for row in rows):
            return pd.DataFrame(rows)
        listed = (list, tuple, np.ndarray)
        if rows and not any(isinstance(row, listed) for row in rows):
            rows = [rows]  # one row's values
        for row in rows:
            width = len(row) if isinstance(row, listed) else 1
            if width != len(columns):
                raise DataError(f"{where} has a row of {width} value{'' if width == 1 else 's'}; {need}")
        return pd.DataFrame(rows, columns=columns)
    array = np.asarray(data)
    if array.ndim != 2 or array.shape[1] != len(columns):
        raise DataError(f"{where} has shape {tuple(array.shape)}; {need}")
    return pd.DataFrame(array, columns=columns)


def read_input(path: str | Path) -> pd.DataFrame | np.ndarray:
    """A CSV file as a DataFrame, a ``.npy`` file as an array, an image file or a folder of
    them as a DataFrame of their ``path``; one `DataError` otherwise."""
    file = Path(path).expanduser()
    if file.is_dir():
        images = sorted(str(p) for p in file.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise DataError(f"Input folder {file} holds no image files ({', '.join(IMAGE_SUFFIXES)}).")
        return pd.DataFrame({"path": images})
    if not file.is_file():
        raise DataError(f"Input file not found: {file}.")
    if file.suffix.lower() in IMAGE_SUFFIXES:
        return pd.DataFrame({"path": [str(file)]})
    if file.suffix == ".npy":
        try:
            return np.load(file, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DataError(f"Input file {file} is not a readable .npy array ({error}).") from None
    try:
        frame = pd.read_csv(file, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "empty"
        raise DataError(f"Input file {file} cannot be read as CSV: {reason}.") from None
    if frame.empty:
        raise DataError(f"Input file {file} has no data rows.")
    if "path" in frame.columns:  # image paths: relative to the CSV's folder
        frame["path"] = [str(p if Path(p).is_absolute() else file.parent / p) for p in frame["path"]]
    return frame


@dataclasses.dataclass
class Predictor:
    """A model, the spec it was built for, and how raw inputs become its inputs."""

    model: torch.nn.Module
    spec: DataSpec
    preprocessing: dict[str, Any]
    model_name: str = ""
    model_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    threshold: float = 0.5  # a binary target's: positive above this probability (eval.threshold)

    # --- saving and loading -------------------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Write the weights and the record into ``folder``; return it."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        torch.save(state, folder / _WEIGHTS)
        spec = {**dataclasses.asdict(self.spec), "class_weights": None}
        record = {"model": {"name": self.model_name, "config": self.model_config}, "spec": spec,
                  "preprocessing": self.preprocessing, "threshold": self.threshold}
        (folder / _RECORD).write_text(json.dumps(record, indent=1, default=str))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Predictor:
        """The predictor saved in ``folder`` (a run's ``predictor/``), ready to predict."""
        from nnx.config.recipe import to_dataclass
        from nnx.registry import get_plugin

        folder = Path(folder)
        if not (folder / _RECORD).is_file() or not (folder / _WEIGHTS).is_file():
            raise DataError(f"{folder} holds no saved model ({_RECORD} and {_WEIGHTS}).")
        record = json.loads((folder / _RECORD).read_text())
        spec_data = dict(record["spec"])
        spec_data["input_shape"] = tuple(spec_data["input_shape"])
        spec_data["class_names"] = tuple(spec_data.get("class_names") or ())
        spec = DataSpec(**spec_data)
        plugin = get_plugin("model", record["model"]["name"])
        model = plugin(to_dataclass(record["model"]["config"], plugin.config, "model"), spec)
        with torch.no_grad():  # lazy layers take their shapes from a first forward pass
            model.eval()(torch.zeros(2, *spec.input_shape))
        state = torch.load(folder / _WEIGHTS, map_location="cpu", weights_only=True)  # noqa: TID251
        model.load_state_dict(state)
        return cls(model.eval(), spec, record["preprocessing"], record["model"]["name"],
                   record["model"]["config"], float(record.get("threshold", 0.5)))

    # --- predicting ---------------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        names = self.spec.class_names or self.preprocessing.get("classes")
        return [str(c) for c in names] if names else self.spec.labels

    def series_values(self, data: Any, where: str = "the input") -> np.ndarray:
        """The raw values of the series a run forecasts: its column of a CSV (or the only
        one), or an array."""
        if not isinstance(data, pd.DataFrame):
            return np.asarray(data, dtype=np.float64).reshape(-1)
        column = self.preprocessing.get("column")
        if column in data.columns:
            values = data[column]
        elif len(data.columns) == 1:
            values = data.iloc[:, 0]
        else:
            raise DataError(f"{where} has no column '{column or 'value'}' (the series to "
                            f"forecast); columns: {', '.join(map(str, data.columns))}.")
        if not pd.api.types.is_numeric_dtype(values):
            raise DataError(f"Column '{values.name}' of {where} holds text; a series needs numbers.")
        return values.to_numpy(np.float64)

    def encode(self, data: Any, where: str = "the input") -> tuple[np.ndarray, list[int] | None]:
        """Raw inputs (DataFrame, array, list; for a table also dicts: `_table_rows`) -> model
        inputs (a table's column-major: see `encode_table`); for a series, also the position
        (1-based) of the last value of each window."""
        record = self.preprocessing
        kind = record.get("input", "array")
        if kind == "series":
            values = self.series_values(data, where)
            windows = series_windows(values, record, where)
            return windows, list(range(int(record["window"]), len(values) + 1))
        if kind == "table":
            if not isinstance(data, pd.DataFrame):
                data = _table_rows(data, record["columns"], where)
            return encode_table(data, record, strict=True, where=where, by_row=False), None
        if kind == "image" and isinstance(data, pd.DataFrame) and "path" in data.columns:
            return encode_files(list(data["path"]), record, where), None
        array = data.to_numpy() if isinstance(data, pd.DataFrame) else np.asarray(data)
        record = record if "shape" in record else {**record, "shape": list(self.spec.input_shape)}
        return encode_array(array, record, where), None

    def logits(self, x: np.ndarray) -> torch.Tensor:
        """The network's raw outputs for encoded inputs ``x`` (see `encode`): what the
        metrics and the evaluation report read (nothing of them is trained: no autograd)."""
        with torch.inference_mode():
            return self.model(torch.from_numpy(x))

    def outputs(self, data: Any, where: str = "the input") -> tuple[np.ndarray, list[int] | None]:
        """The network's answer to raw inputs: class probabilities (one column per class) or
        the predicted values; for a series, also each window's end (see `encode`)."""
        x, ends = self.encode(data, where)
        with torch.inference_mode():  # the probabilities too: nothing of them escapes but NumPy
            return self.activate(self.logits(x)), ends

    def activate(self, out: torch.Tensor) -> np.ndarray:
        """The network's raw output as class probabilities, or values (one row per sample)."""
        out = out.detach().double()
        if self.spec.task != "classification":
            return out.reshape(len(out), -1).numpy()
        if self.spec.num_outputs == 1:
            p1 = torch.sigmoid(out.view(-1)).numpy()
            probabilities = np.empty((len(p1), 2))
            np.subtract(1.0, p1, out=probabilities[:, 0])
            probabilities[:, 1] = p1
            return probabilities
        return torch.softmax(out, dim=-1).numpy()

    def predict(self, data: Any, where: str = "the input") -> pd.DataFrame:
        """One row per input sample (per window of a series): the prediction, and for
        classes the probability of each class (``prob_<class>``); a binary target is
        predicted positive above ``threshold``."""
        frame = self.frame(*self.outputs(data, where))
        if isinstance(data, pd.DataFrame) and self.preprocessing.get("input") == "image":
            frame.insert(0, "path", list(data["path"]))  # which file each row is
        return frame

    def predict_proba(self, data: Any, where: str = "the input") -> pd.DataFrame:
        """One row per input sample, one column per class (named by the class): its probability."""
        if self.spec.task != "classification":
            raise DataError(f"predict_proba needs a classifier; this {self.model_name or 'model'} "
                            "predicts values (use predict).")
        return pd.DataFrame(self.outputs(data, where)[0], columns=self.classes)

    def frame(self, outputs: np.ndarray, ends: list[int] | None = None) -> pd.DataFrame:
        """`outputs` (probabilities or values) as the rows `predict` returns."""
        if self.spec.task == "classification":
            classes = self.classes
            if self.spec.num_outputs == 1:  # binary: positive above the threshold, as in the metrics
                positive = outputs[:, 1] > self.threshold
                chosen, probability = positive.view(np.int8), np.where(positive, outputs[:, 1], outputs[:, 0])
            else:
                chosen, probability = outputs.argmax(1), outputs.max(1)
            return pd.DataFrame({"prediction": _labels(tuple(classes)).take(chosen),
                                 "probability": probability,
                                 **{f"prob_{name}": outputs[:, i] for i, name in enumerate(classes)}},
                                copy=False)  # `outputs` is this call's own: no copy of every value
        values = outputs
        record = self.preprocessing
        if record.get("input") == "series":
            values = values * record.get("std", 1.0) + record.get("mean", 0.0)
            frame = pd.DataFrame({"window_end": ends})
            for i in range(values.shape[1]):
                frame[f"forecast_{i + 1}"] = values[:, i]
            return frame
        if values.shape[1] == 1:
            return pd.DataFrame({"prediction": values[:, 0]})
        return pd.DataFrame({f"prediction_{i + 1}": values[:, i] for i in range(values.shape[1])})

    def raw_example(self, x: torch.Tensor) -> pd.DataFrame | np.ndarray:
        """Raw inputs that encode to the model inputs ``x`` (a few test samples): the input
        example logged with the model. Tables and series keep a recorded raw example."""
        record = self.preprocessing
        if "example" in record:
            example = record["example"]
            return pd.DataFrame(example["data"], columns=example["columns"])
        array = x.detach().cpu().double().numpy()
        shape = tuple(record.get("shape", self.spec.input_shape))
        array = array.reshape(len(array), *shape)
        if record.get("mean") is not None:
            array = array * stats_like(record["std"], shape) + stats_like(record["mean"], shape)
        if record.get("scale"):
            array = array / record["scale"]
        return array
