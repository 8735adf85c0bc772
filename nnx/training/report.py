"""The evaluation report of a model on labelled data: its numbers, per task.

Made from the model's raw outputs and the targets as the model sees them (scaled as in
training), with scikit-learn. A report is plain data: metrics, CSV tables and the numbers
behind each figure, which the tracker draws (`nnx.tracking.report_figures`). The run's test
split gets one (`nnx.training.evaluation.log_report`), new labelled data another
(`nnx-evaluate`); both compute it here, so their numbers agree with each other and with
the logged test metrics (acc, precision, recall, f1, auroc, average_precision; mae, rmse, r2).
Imports neither Lightning nor MLflow.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nnx.data.spec import DataSpec
from nnx.tracking.figures import REPORT_DIR

__all__ = ["REPORT_DIR", "Report", "build_report", "class_names", "frame_keys", "probabilities"]

#: The folder of a run's report: ``<run dir>/evaluation/`` and the run's ``evaluation/`` artifacts.
_CURVE_CLASSES = 10  # ROC and PR curves up to this many classes
_CURVE_POINTS = 400  # points per drawn curve (the metrics use every point)
_SCATTER_POINTS = 2000
_BINS = 10  # reliability diagram


@dataclass
class Report:
    """A report's numbers: ``metrics`` (``test/<name>``), ``tables`` (file -> CSV text) and
    ``plots`` (file -> (plot kind, its data)), all plain data."""

    metrics: dict[str, float]
    tables: dict[str, str] = field(default_factory=dict)
    plots: dict[str, tuple[str, Any]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)  # the threshold, calibration error

    def summary_json(self) -> str:
        return json.dumps({**self.metrics, **self.extra}, indent=1, sort_keys=True) + "\n"


def class_names(spec: DataSpec, preprocessing: dict[str, Any]) -> list[str]:
    """The data's class names (the spec's, else recorded by its plugin), else the indices."""
    names = list(spec.class_names) or [str(c) for c in preprocessing.get("classes") or ()]
    count = max(spec.num_classes, 2)
    return names if len(names) == count else [str(i) for i in range(count)]


def frame_keys(spec: DataSpec, preprocessing: dict[str, Any]) -> list[tuple[str, tuple]]:
    """The frames of the figures `build_report` will give for this data, as
    ``(plot, frame key)`` (`nnx.tracking.figures.frame_key`): the tracker draws them while
    the run trains. A regression's figure has none (its axes follow its numbers)."""
    if spec.task != "classification":
        return []
    classes = class_names(spec, preprocessing)
    curves = [] if len(classes) > _CURVE_CLASSES else classes[1:] if spec.num_outputs == 1 else classes
    return [("confusion_matrix", (tuple(classes),)), ("classifier_curves", (tuple(curves),))]


def probabilities(outputs: torch.Tensor, spec: DataSpec) -> np.ndarray:
    """Each class's probability ``(N, classes)`` from raw outputs (one logit when binary)."""
    out = outputs.detach().float().cpu()
    if spec.num_outputs == 1:
        p1 = torch.sigmoid(out.reshape(-1))
        return torch.stack([1 - p1, p1], dim=1).numpy()
    return torch.softmax(out.reshape(len(out), -1), dim=-1).numpy()


def build_report(
    outputs: torch.Tensor, targets: torch.Tensor, spec: DataSpec, preprocessing: dict[str, Any],
    threshold: float = 0.5, prefix: str = "test/",
) -> Report:
    """The report of ``outputs`` (raw, one row per sample) against ``targets``.

    scikit-learn's argument checks are off here (the arrays are made here, finite and 1-d):
    for a few hundred rows they took most of the report's time, in the training process."""
    from sklearn import config_context

    with config_context(skip_parameter_validation=True, assume_finite=True):
        if spec.task == "classification":
            return _classification(outputs, targets, spec, class_names(spec, preprocessing),
                                   threshold, prefix)
        return _regression(outputs, targets, spec, preprocessing, prefix)


# --- classification -------------------------------------------------------------------------


def _classification(outputs: torch.Tensor, targets: torch.Tensor, spec: DataSpec,
                    classes: list[str], threshold: float, prefix: str) -> Report:
    from sklearn.metrics import confusion_matrix

    probs = probabilities(outputs, spec)
    y = targets.detach().reshape(-1).long().cpu().numpy()
    binary = probs.shape[1] == 2 and spec.num_outputs == 1
    predicted = (probs[:, 1] > threshold).astype(np.int64) if binary else probs.argmax(1)
    labels = list(range(len(classes)))
    counts = confusion_matrix(y, predicted, labels=labels)
    per_class = _per_class(counts)
    scored = [1] if binary else np.union1d(y, predicted)  # what scikit-learn's macro mean averages
    metrics = {f"{prefix}acc": float((predicted == y).mean()),
               **{f"{prefix}{name}": float(values[scored].mean())
                  for name, values in zip(("precision", "recall", "f1"), per_class, strict=False)}}
    ranking = _ranking(y, probs, binary)
    metrics.update({f"{prefix}{k}": v for k, v in ranking.summary.items()})
    report = Report(metrics, extra={"threshold": threshold} if binary else {})
    report.tables["per_class.csv"] = _csv(
        ["class", "precision", "recall", "f1", "support", "auroc", "average_precision"],
        [[name, *(float(v[i]) for v in per_class[:3]), int(per_class[3][i]),
          ranking.auroc.get(i, math.nan), ranking.ap.get(i, math.nan)]
         for i, name in enumerate(classes)])
    report.tables["confusion_matrix.csv"] = _csv(
        ["true \\ predicted", *classes],
        [[name, *map(int, row)] for name, row in zip(classes, counts, strict=True)])
    report.plots["confusion_matrix.png"] = ("confusion_matrix", {
        "classes": classes, "counts": counts.tolist()})
    calibration = _calibration(y, probs, binary)
    report.plots["roc_pr_calibration.png"] = ("classifier_curves", {
        "roc": _named(ranking.roc, classes), "pr": _named(ranking.pr, classes),
        "calibration": calibration})
    report.extra["ece"] = calibration["ece"]
    return report


@dataclass
class _Ranking:
    """How well the probabilities rank: per-class AUROC/AP, their summary, curve points."""

    summary: dict[str, float] = field(default_factory=dict)
    auroc: dict[int, float] = field(default_factory=dict)
    ap: dict[int, float] = field(default_factory=dict)
    roc: dict[int, dict[str, Any]] = field(default_factory=dict)
    pr: dict[int, dict[str, Any]] = field(default_factory=dict)


def _ranking(y: np.ndarray, probs: np.ndarray, binary: bool) -> _Ranking:
    """One-vs-rest per class (the positive class only when binary); macro means. Each class's
    two curves are computed once and scored as scikit-learn's ``roc_auc_score`` and
    ``average_precision_score`` score them (the area under the ROC curve; precision summed
    over the recall steps)."""
    from sklearn.metrics import auc, precision_recall_curve, roc_curve

    ranking = _Ranking()
    draw = probs.shape[1] <= _CURVE_CLASSES
    for c in [1] if binary else range(probs.shape[1]):
        hits = y == c
        if hits.all() or not hits.any():  # AUROC needs both; AP needs a positive
            continue
        fpr, tpr, _ = roc_curve(hits, probs[:, c])
        precision, recall, _ = precision_recall_curve(hits, probs[:, c])
        ranking.auroc[c] = float(auc(fpr, tpr))
        ranking.ap[c] = float(-np.sum(np.diff(recall) * precision[:-1]))
        if draw:
            ranking.roc[c] = {"x": _thin(fpr), "y": _thin(tpr), "score": ranking.auroc[c]}
            ranking.pr[c] = {"x": _thin(recall), "y": _thin(precision), "score": ranking.ap[c],
                             "prevalence": float(hits.mean())}
    if ranking.auroc:
        ranking.summary = {"auroc": float(np.mean(list(ranking.auroc.values()))),
                           "average_precision": float(np.mean(list(ranking.ap.values())))}
    return ranking


def _per_class(counts: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each class's precision, recall, F1 and support from the confusion matrix ``counts``
    (rows true, columns predicted), 0 where undefined: scikit-learn's
    ``precision_recall_fscore_support(zero_division=0)`` without its per-call checks."""
    hits, support, predicted = np.diag(counts), counts.sum(1), counts.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        recall = np.where(support > 0, hits / support, 0.0)
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), 0.0)
    return precision, recall, f1, support


def _named(curves: dict[int, dict[str, Any]], classes: list[str]) -> list[dict[str, Any]]:
    return [{"label": classes[c], **curve} for c, curve in curves.items()]


def _calibration(y: np.ndarray, probs: np.ndarray, binary: bool) -> dict[str, Any]:
    """Reliability in ``_BINS`` equal bins: the positive class's frequency against its
    probability (binary), or top-label accuracy against confidence; and the calibration
    error (ECE, the bins' count-weighted gap)."""
    if binary:
        confidence, outcome = probs[:, 1], (y == 1).astype(float)
    else:
        confidence, outcome = probs.max(1), (probs.argmax(1) == y).astype(float)
    bins = np.minimum((confidence * _BINS).astype(int), _BINS - 1)
    count = np.bincount(bins, minlength=_BINS)
    mean_conf = np.bincount(bins, confidence, _BINS) / np.maximum(count, 1)
    rate = np.bincount(bins, outcome, _BINS) / np.maximum(count, 1)
    used = count > 0
    ece = float((count[used] * np.abs(rate[used] - mean_conf[used])).sum() / max(len(y), 1))
    return {"confidence": mean_conf[used].tolist(), "observed": rate[used].tolist(),
            "count": count[used].tolist(), "ece": ece,
            "axis": "fraction positive" if binary else "accuracy"}


# --- regression and forecasts ---------------------------------------------------------------


def _regression(outputs: torch.Tensor, targets: torch.Tensor, spec: DataSpec,
                preprocessing: dict[str, Any], prefix: str) -> Report:
    from sklearn.metrics import r2_score

    n = len(targets)
    predicted = outputs.detach().double().cpu().reshape(n, -1).numpy()
    actual = targets.detach().double().cpu().reshape(n, -1).numpy()
    error = predicted - actual
    metrics = {f"{prefix}mae": float(np.abs(error).mean()),
               f"{prefix}rmse": float(np.sqrt(np.square(error).mean())),
               f"{prefix}r2": float(r2_score(actual, predicted)) if n >= 2 else math.nan}
    counts, edges = np.histogram(error.reshape(-1), bins=min(40, max(5, int(math.sqrt(error.size)))))
    data = {"counts": counts.tolist(), "edges": edges.tolist(), "mae": metrics[f"{prefix}mae"],
            "r2": metrics[f"{prefix}r2"], "forecast": spec.forecast}
    if spec.forecast:  # in the series' own units; step 1 of each window's forecast
        mean, std = preprocessing.get("mean", 0.0), preprocessing.get("std", 1.0)
        data.update(actual=(actual[:, 0] * std + mean).tolist(),
                    predicted=(predicted[:, 0] * std + mean).tolist())
    else:
        pick = _sample(n * actual.shape[1], _SCATTER_POINTS)
        data.update(actual=actual.reshape(-1)[pick].tolist(), predicted=predicted.reshape(-1)[pick].tolist())
    return Report(metrics, plots={"forecast.png" if spec.forecast else "predicted_vs_actual.png":
                                  ("predictions", data)})


# --- helpers --------------------------------------------------------------------------------


def _thin(values: np.ndarray) -> list[float]:
    """At most ``_CURVE_POINTS`` points of a curve, its ends kept: what is drawn, not scored."""
    return values[_sample(len(values), _CURVE_POINTS)].tolist()


def _sample(n: int, most: int) -> np.ndarray:
    return np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).round().astype(int))


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    import csv

    text = io.StringIO()
    out = csv.writer(text, lineterminator="\n")
    out.writerow(header)
    out.writerows([[repr(v) if isinstance(v, float) else v for v in row] for row in rows])
    return text.getvalue()
