"""The evaluation report's numbers (scikit-learn's, on the same predictions), the tuned
threshold, labelled data for nnx-evaluate, and every report figure drawn."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn import metrics as skm

from nnx.config import to_dataclass
from nnx.data.spec import DataSpec
from nnx.data.transforms import fit_table
from nnx.errors import DataError
from nnx.models.labelled import encode_labelled
from nnx.models.predictor import Predictor
from nnx.registry import get_plugin
from nnx.tracking.figures import draw_frame, frame_key, render
from nnx.training.evaluation import save_report
from nnx.training.report import build_report, frame_keys
from nnx.training.threshold import best_f1_threshold

BINARY = DataSpec((3,), "classification", num_classes=2)
THREE = DataSpec((3,), "classification", num_classes=3)
TWELVE = DataSpec((3,), "classification", num_classes=12)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_binary_report_equals_sklearn_at_the_threshold() -> None:
    torch.manual_seed(0)
    logits, y = torch.randn(200, 1), torch.randint(0, 2, (200,))
    p1 = torch.sigmoid(logits.view(-1)).numpy()
    report = build_report(logits, y, BINARY, {"classes": ["no", "yes"]}, threshold=0.7)
    predicted = (p1 > 0.7).astype(int)
    expected = {"acc": skm.accuracy_score(y, predicted), "precision": skm.precision_score(y, predicted),
                "recall": skm.recall_score(y, predicted), "f1": skm.f1_score(y, predicted),
                "auroc": skm.roc_auc_score(y, p1), "average_precision": skm.average_precision_score(y, p1)}
    assert report.metrics == pytest.approx({f"test/{k}": v for k, v in expected.items()}, abs=1e-9)
    assert report.extra["threshold"] == 0.7
    yes = next(row for row in _rows(report.tables["per_class.csv"]) if row["class"] == "yes")
    assert float(yes["f1"]) == pytest.approx(expected["f1"], abs=1e-12)
    assert int(yes["support"]) == int(y.sum())
    matrix = _rows(report.tables["confusion_matrix.csv"])
    assert [row["true \\ predicted"] for row in matrix] == ["no", "yes"]
    assert int(matrix[1]["yes"]) == int(((predicted == 1) & (y.numpy() == 1)).sum())
    assert set(report.plots) == {"confusion_matrix.png", "roc_pr_calibration.png"}


def test_multiclass_report_is_macro_and_its_table_adds_up() -> None:
    torch.manual_seed(1)
    logits, y = torch.randn(300, 3), torch.randint(0, 3, (300,))
    probs = torch.softmax(logits, 1).numpy()
    report = build_report(logits, y, THREE, {"classes": ["a", "b", "c"]})
    predicted = probs.argmax(1)
    assert report.metrics["test/f1"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert report.metrics["test/precision"] == pytest.approx(
        skm.precision_score(y, predicted, average="macro"))
    assert report.metrics["test/auroc"] == pytest.approx(
        skm.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
    table = _rows(report.tables["per_class.csv"])
    assert [row["class"] for row in table] == ["a", "b", "c"]
    assert np.mean([float(row["f1"]) for row in table]) == pytest.approx(report.metrics["test/f1"])
    assert sum(int(row["support"]) for row in table) == 300
    assert json.loads(report.summary_json())["test/acc"] == report.metrics["test/acc"]


def test_absent_and_never_predicted_classes_are_scored_as_sklearn_scores_them() -> None:
    """The report computes precision/recall/F1 from its confusion matrix and scores each
    class's curves once: the same numbers as scikit-learn's own functions, also where a class
    is never predicted (its precision is 0) or absent from the split (left out of the means)."""
    torch.manual_seed(2)
    y = torch.randint(0, 3, (150,))  # class 3 of 4 never occurs
    logits = torch.randn(150, 4) + 3 * torch.nn.functional.one_hot(y, 4)
    logits[:, 2] -= 9  # class 2 is never predicted
    probs = torch.softmax(logits, 1).numpy()
    predicted = probs.argmax(1)
    report = build_report(logits, y, DataSpec((3,), "classification", num_classes=4), {})
    for name, score in (("precision", skm.precision_score), ("recall", skm.recall_score),
                        ("f1", skm.f1_score)):
        assert report.metrics[f"test/{name}"] == pytest.approx(
            score(y, predicted, average="macro", zero_division=0), abs=1e-12)
    table = _rows(report.tables["per_class.csv"])
    assert float(table[2]["precision"]) == 0.0 and math.isnan(float(table[3]["auroc"]))
    for c in range(3):
        assert float(table[c]["auroc"]) == pytest.approx(skm.roc_auc_score(y == c, probs[:, c]), abs=1e-12)
        assert float(table[c]["average_precision"]) == pytest.approx(
            skm.average_precision_score(y == c, probs[:, c]), abs=1e-12)


def test_regression_report_equals_sklearn() -> None:
    torch.manual_seed(2)
    out, y = torch.randn(50, 1), torch.randn(50)
    report = build_report(out, y, DataSpec((3,), "regression"), {})
    pred, true = out.view(-1).double().numpy(), y.double().numpy()
    assert report.metrics == pytest.approx({
        "test/mae": skm.mean_absolute_error(true, pred),
        "test/rmse": math.sqrt(skm.mean_squared_error(true, pred)), "test/r2": skm.r2_score(true, pred)})
    assert set(report.plots) == {"predicted_vs_actual.png"}


def test_every_report_figure_draws(tmp_path) -> None:
    torch.manual_seed(3)
    series = DataSpec((4, 1), "regression", kind="sequence", forecast=True)
    reports = [build_report(torch.randn(40, 1), torch.randint(0, 2, (40,)), BINARY, {}),
               build_report(torch.randn(40, 12), torch.randint(0, 12, (40,)), TWELVE, {}),
               build_report(torch.randn(40, 1), torch.randn(40), DataSpec((3,), "regression"), {}),
               build_report(torch.randn(40, 1), torch.randn(40, 1), series, {"mean": 5.0, "std": 2.0})]
    for i, report in enumerate(reports):
        save_report(report, tmp_path / str(i))
        for name in [*report.plots, *report.tables, "metrics.json"]:
            assert (tmp_path / str(i) / name).stat().st_size > 0
    assert (tmp_path / "3" / "forecast.png").read_bytes().startswith(b"\x89PNG")
    many = build_report(torch.randn(40, 12), torch.randint(0, 12, (40,)), TWELVE, {})
    assert many.plots["roc_pr_calibration.png"][1]["roc"] == []  # curves up to 10 classes
    render("confusion_matrix", many.plots["confusion_matrix.png"][1], tmp_path / "twelve.png")


@pytest.mark.parametrize("spec", [BINARY, DataSpec((3,), "classification", 4), TWELVE], ids=["2", "4", "12"])
def test_a_figure_finished_on_its_frame_has_the_pixels_of_the_whole_figure(spec, tmp_path) -> None:
    from PIL import Image

    torch.manual_seed(5)
    outputs = torch.randn(60, spec.num_outputs)
    report = build_report(outputs, torch.randint(0, max(spec.num_classes, 2), (60,)), spec, {})
    frames = {(plot, key): draw_frame(plot, key) for plot, key in frame_keys(spec, {})}
    assert len(frames) == len(report.plots) == 2
    for name, (plot, data) in report.plots.items():
        render(plot, data, tmp_path / f"whole-{name}")
        render(plot, data, tmp_path / f"framed-{name}", frames.pop((plot, frame_key(plot, data))))
        whole, framed = (np.asarray(Image.open(tmp_path / f"{kind}-{name}")) for kind in ("whole", "framed"))
        assert whole.shape == framed.shape and (whole == framed).all(), name


def test_a_frame_whose_limits_moved_is_drawn_whole(tmp_path) -> None:
    from PIL import Image

    report = build_report(torch.randn(30, 1), torch.randint(0, 2, (30,)), BINARY, {})
    data = report.plots["roc_pr_calibration.png"][1]
    (figure, axes), kept = draw_frame("classifier_curves", frame_key("classifier_curves", data))
    axes[0].set_xlim(0, 2)  # its ticks, drawn in the frame, no longer fit
    render("classifier_curves", data, tmp_path / "framed.png", ((figure, axes), kept))
    expected = io.BytesIO()
    figure.savefig(expected, format="png", dpi=100)
    assert (np.asarray(Image.open(tmp_path / "framed.png")) == np.asarray(Image.open(expected))).all()


def test_the_tuned_threshold_maximises_f1_and_splits_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.round(np.clip(0.35 * y + rng.random(300) * 0.65, 0, 1), 2)  # many ties
    threshold = best_f1_threshold(y, p)
    best = max(skm.f1_score(y, p > t) for t in np.unique(np.r_[0.0, p]))
    assert skm.f1_score(y, p > threshold) == pytest.approx(best)
    assert threshold not in set(p)  # halfway between two probabilities: ties fall on one side
    assert best_f1_threshold(np.zeros(5), rng.random(5)) == 0.5  # no positive: the default


def _predictor(record: dict, spec: DataSpec, threshold: float = 0.5) -> Predictor:
    plugin = get_plugin("model", "mlp")
    torch.manual_seed(0)
    model = plugin(to_dataclass({"hidden": [4]}, plugin.config, "model"), spec)
    with torch.no_grad():
        model.eval()(torch.zeros(2, *spec.input_shape))
    return Predictor(model.eval(), spec, record, "mlp", {"hidden": [4]}, threshold)


def test_a_predictor_decides_with_its_saved_threshold(tmp_path) -> None:
    frame = pd.DataFrame({"a": np.linspace(-2, 2, 40), "b": np.linspace(1, -1, 40)})
    record = {**fit_table(frame, ["a", "b"], []), "classes": ["no", "yes"]}
    spec = DataSpec((2,), "classification", num_classes=2)
    predictor = _predictor(record, spec, threshold=0.5)
    middle = float(np.median(predictor.predict(frame)["prob_yes"]))
    predictor.threshold = middle
    predictor.save(tmp_path / "p")
    loaded = Predictor.load(tmp_path / "p")
    assert loaded.threshold == middle
    out = loaded.predict(frame)
    assert (out["prediction"] == "yes").tolist() == (out["prob_yes"] > middle).tolist()
    assert 0 < (out["prediction"] == "yes").sum() < len(frame)


@pytest.fixture
def iris_like() -> tuple[Predictor, pd.DataFrame]:
    frame = pd.DataFrame({"a": [0.1, 0.5, 0.9, 0.2], "b": [1.0, 2.0, 3.0, 4.0]})
    record = {**fit_table(frame, ["a", "b"], []), "classes": ["setosa", "versicolor", "virginica"],
              "target": "species"}
    return _predictor(record, DataSpec((2,), "classification", num_classes=3)), frame


def test_labelled_rows_by_name_or_by_code(iris_like) -> None:
    predictor, frame = iris_like
    x, y = encode_labelled(predictor, frame.assign(species=["virginica", "setosa", "setosa", "versicolor"]))
    assert x.shape == (4, 2) and y.tolist() == [2, 0, 0, 1]
    _, codes = encode_labelled(predictor, frame.assign(label=[2, 0, 0, 1]), target="label")
    assert codes.tolist() == [2, 0, 0, 1]
    _, from_file = encode_labelled(predictor, frame, labels=np.array([[1], [1], [0], [2]]))
    assert from_file.tolist() == [1, 1, 0, 2]


@pytest.mark.parametrize(("data", "labels", "message"), [
    ("frame", None, "the input has no target column 'species'."),
    ("labelled", None, "hold the class 'virginic', which the run never trained on. Did you mean 'virg"),
    ("frame", np.zeros(3), "the input has 4 samples but 3 targets"),
    ("frame", np.zeros((4, 2)), "have shape (4, 2); give one per sample"),
    ("array", None, "holds samples without targets; pass them with --labels"),
])
def test_bad_labelled_data_is_one_line(iris_like, data, labels, message) -> None:
    predictor, frame = iris_like
    given = {"frame": frame, "array": frame.to_numpy(),
             "labelled": frame.assign(species=["virginic", "setosa", "setosa", "setosa"])}[data]
    with pytest.raises(DataError) as caught:
        encode_labelled(predictor, given, labels)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_series_is_scored_on_each_windows_next_values() -> None:
    record = {"input": "series", "column": "v", "window": 3, "horizon": 2, "mean": 1.0, "std": 2.0}
    predictor = _predictor(record, DataSpec((3, 1), "regression", num_targets=2, kind="sequence",
                                            forecast=True))
    values = np.arange(8.0)
    x, y = encode_labelled(predictor, pd.DataFrame({"v": values}))
    assert x.shape == (4, 3, 1) and y.shape == (4, 2)
    assert y[0].tolist() == [(3 - 1) / 2, (4 - 1) / 2] and y[-1].tolist() == [(6 - 1) / 2, (7 - 1) / 2]
    with pytest.raises(DataError, match="needs at least 5"):
        encode_labelled(predictor, pd.DataFrame({"v": values[:4]}))


def test_nnx_evaluate_writes_its_report_without_importing_lightning(iris_like, tmp_path) -> None:
    predictor, frame = iris_like
    predictor.save(tmp_path / "run" / "predictor")
    frame.assign(species=["virginica", "setosa", "setosa", "versicolor"]).to_csv(tmp_path / "rows.csv",
                                                                                 index=False)
    code = (
        "import sys\nfrom nnx.cli.evaluate import main\n"
        f"main([{str(tmp_path / 'run')!r}, '--input', {str(tmp_path / 'rows.csv')!r}, '--output', "
        f"{str(tmp_path / 'report')!r}])\n"
        "assert 'pytorch_lightning' not in sys.modules and 'mlflow' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("results  test/acc ")
    assert {"metrics.json", "per_class.csv", "confusion_matrix.png"} <= {
        p.name for p in (tmp_path / "report").iterdir()}


def test_the_threshold_reaches_the_logged_metrics_and_they_equal_the_report() -> None:
    from nnx.training.measure import build_scores

    torch.manual_seed(4)
    logits, y = torch.randn(120, 1), torch.randint(0, 2, (120,))
    scores = build_scores((), True, BINARY)
    scores.threshold = 0.8
    logged = scores.values(logits, y, "test")
    report = build_report(logits, y, BINARY, {}, threshold=0.8)
    assert logged["test/f1"] == pytest.approx(skm.f1_score(y, torch.sigmoid(logits.view(-1)) > 0.8), abs=1e-6)
    assert {k: logged[k] for k in report.metrics} == pytest.approx(report.metrics, abs=1e-6)
