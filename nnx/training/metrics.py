"""Built-in metrics, registered like any plugin (group ``nnx.metrics``, config group ``metrics``).

A metric plugin's config class declares, as class variables, which way the metric improves
(``direction``), what it reads from the model's outputs (``reads``: labels, probabilities or
values) and the tasks it fits (``tasks``). Its builder ``(cfg, spec)`` returns a function of
``(preds, target)`` for a whole epoch's outputs: here torchmetrics' functional API (or a
torchmetrics ``Metric``, which is reset after each use), or a `Counted` for a metric that
torchmetrics reduces from per-class counts, so that one counting pass serves them all. Torch
is imported inside the builders, so listing metrics and asking their direction stays torch-free.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nnx.config.checks import check_choice
from nnx.registry import register_metric

__all__ = [
    "Counted", "AccConfig", "AveragedConfig", "RankingConfig", "ErrorConfig", "R2Config", "task_of",
    "acc", "precision", "recall", "f1", "auroc", "average_precision", "mae", "mse", "rmse", "r2",
]

_CLASSES = ("binary", "multiclass")
_VALUES = ("regression", "forecast")


def task_of(spec: Any) -> str:
    """binary | multiclass | regression | forecast: which metrics fit the data (`nnx.config.metrics.AUTO`)."""
    if spec.task == "regression":
        return "forecast" if spec.forecast else "regression"
    return "binary" if spec.num_outputs == 1 else "multiclass"


@dataclass
class AccConfig:
    direction: ClassVar[str] = "max"
    reads: ClassVar[str] = "labels"
    tasks: ClassVar[tuple[str, ...]] = _CLASSES


@dataclass
class AveragedConfig:
    direction: ClassVar[str] = "max"
    reads: ClassVar[str] = "labels"
    tasks: ClassVar[tuple[str, ...]] = _CLASSES
    average: str = field(default="macro", metadata={
        "help": "3 or more classes: macro (each class counts the same) | weighted (by support) | micro"})

    def __post_init__(self) -> None:
        check_choice("average", self.average, ("macro", "weighted", "micro"))


@dataclass
class RankingConfig:
    direction: ClassVar[str] = "max"
    reads: ClassVar[str] = "probabilities"
    tasks: ClassVar[tuple[str, ...]] = _CLASSES
    average: str = field(default="macro", metadata={
        "help": "3 or more classes, one-vs-rest: macro (each class counts the same) | weighted (by support)"})

    def __post_init__(self) -> None:
        check_choice("average", self.average, ("macro", "weighted"))


@dataclass
class ErrorConfig:
    direction: ClassVar[str] = "min"
    reads: ClassVar[str] = "values"
    tasks: ClassVar[tuple[str, ...]] = _VALUES


@dataclass
class R2Config:
    direction: ClassVar[str] = "max"
    reads: ClassVar[str] = "values"
    tasks: ClassVar[tuple[str, ...]] = _VALUES


MetricFn = Callable[[Any, Any], Any]


@dataclass(frozen=True)
class Counted:
    """A label metric that torchmetrics reduces from per-class counts (tp, fp, tn, fn).

    Called on ``(preds, target)`` it counts and reduces, like any metric; `nnx.training.measure`
    instead counts a split once (`counts`) and gives every `Counted` metric the same counts
    (`reduce`), so acc, f1, precision and recall cost one pass over the outputs, not four.
    """

    reduce: Callable[..., Any]  # (tp=, fp=, tn=, fn=) -> value: torchmetrics' own reduction
    num_classes: int | None  # None: a binary target

    def counts(self, preds: Any, target: Any) -> dict[str, Any]:
        from torchmetrics.functional.classification import binary_stat_scores, multiclass_stat_scores

        if self.num_classes is None:
            found = binary_stat_scores(preds, target, validate_args=False)
        else:
            found = multiclass_stat_scores(preds, target, self.num_classes, average="none",
                                           validate_args=False)
        return dict(zip(("tp", "fp", "tn", "fn"), found[..., :4].unbind(-1), strict=True))

    def __call__(self, preds: Any, target: Any) -> Any:
        return self.reduce(**self.counts(preds, target))


def _counted(spec: Any, module: str, reduce: str, average: str, **options: Any) -> Counted:
    """The metric torchmetrics' ``classification.<module>.<reduce>`` computes with ``average``
    (``binary`` for a binary target), as a `Counted`."""
    import importlib

    function = getattr(importlib.import_module(f"torchmetrics.functional.classification.{module}"), reduce)
    binary = spec.num_outputs == 1
    return Counted(functools.partial(function, average="binary" if binary else average, **options),
                   None if binary else spec.num_classes)


def _classes(spec: Any, binary: str, multiclass: str, **options: Any) -> MetricFn:
    """torchmetrics' binary or multiclass function of that name, arguments bound."""
    from torchmetrics.functional import classification

    if spec.num_outputs == 1:
        return functools.partial(getattr(classification, binary), validate_args=False)
    return functools.partial(getattr(classification, multiclass), num_classes=spec.num_classes,
                             validate_args=False, **options)


@register_metric(AccConfig)
def acc(cfg: AccConfig, spec: Any) -> MetricFn:
    """Accuracy: the share of samples whose predicted class is right."""
    return _counted(spec, "accuracy", "_accuracy_reduce", "micro")


@register_metric(AveragedConfig)
def precision(cfg: AveragedConfig, spec: Any) -> MetricFn:
    """Precision: of the samples predicted positive (each class in turn), the share that are."""
    return _counted(spec, "precision_recall", "_precision_recall_reduce", cfg.average, stat="precision")


@register_metric(AveragedConfig)
def recall(cfg: AveragedConfig, spec: Any) -> MetricFn:
    """Recall: of the positive samples (each class in turn), the share predicted positive."""
    return _counted(spec, "precision_recall", "_precision_recall_reduce", cfg.average, stat="recall")


@register_metric(AveragedConfig)
def f1(cfg: AveragedConfig, spec: Any) -> MetricFn:
    """F1 score: the harmonic mean of precision and recall (macro over classes by default)."""
    return _counted(spec, "f_beta", "_fbeta_reduce", cfg.average, beta=1.0)


@register_metric(RankingConfig)
def auroc(cfg: RankingConfig, spec: Any) -> MetricFn:
    """Area under the ROC curve of the predicted probabilities (one-vs-rest for 3+ classes)."""
    return _classes(spec, "binary_auroc", "multiclass_auroc", average=cfg.average)


@register_metric(RankingConfig)
def average_precision(cfg: RankingConfig, spec: Any) -> MetricFn:
    """Average precision: the area under the precision-recall curve of the probabilities."""
    return _classes(spec, "binary_average_precision", "multiclass_average_precision",
                    average=cfg.average)


@register_metric(ErrorConfig)
def mae(cfg: ErrorConfig, spec: Any) -> MetricFn:
    """Mean absolute error over every predicted value."""
    from torchmetrics.functional import mean_absolute_error

    return mean_absolute_error


@register_metric(ErrorConfig)
def mse(cfg: ErrorConfig, spec: Any) -> MetricFn:
    """Mean squared error over every predicted value."""
    from torchmetrics.functional import mean_squared_error

    return mean_squared_error


@register_metric(ErrorConfig)
def rmse(cfg: ErrorConfig, spec: Any) -> MetricFn:
    """Root mean squared error over every predicted value, in the target's units."""
    from torchmetrics.functional import mean_squared_error

    return functools.partial(mean_squared_error, squared=False)


@register_metric(R2Config)
def r2(cfg: R2Config, spec: Any) -> MetricFn:
    """Coefficient of determination: 1 is perfect, 0 is the target's mean (averaged over targets)."""
    from torchmetrics.functional import r2_score

    return r2_score
