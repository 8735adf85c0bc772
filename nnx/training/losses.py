"""Built-in losses, registered like any plugin (group ``nnx.losses``, config group ``loss``).

Models return raw scores: logits for classification (one per class, or one for a binary
target), values for regression. A loss plugin's builder ``(cfg, spec)`` returns the function
that turns those scores and the targets into a scalar; a loss that does not fit the data's
task fails there, before training, with one line. Torch is imported inside the builders, so
listing and validating losses stays torch-free.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nnx.config.checks import check
from nnx.errors import ConfigValueError
from nnx.registry import Plugin, get_plugin, register_loss

__all__ = [
    "CrossEntropyConfig", "HuberConfig", "FocalConfig", "NoConfig", "make_loss", "auto",
    "cross_entropy", "binary_cross_entropy", "mse", "mae", "huber", "focal", "perceptron",
]

LossFn = Callable[[Any, Any], Any]

_WEIGHTS_HELP = ("null: the data's own (data.class_weights); balanced: inverse class frequency "
                 "in the training split; or one weight per class, binary targets too: [1.0, 5.0]")


def _check_weights(weights: Any) -> None:
    listed = isinstance(weights, (list, tuple)) and bool(weights) and all(
        isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0 for w in weights)
    check(weights is None or weights == "balanced" or listed, "class_weights", weights,
          "null, balanced, or a list of one weight >= 0 per class")


@dataclass
class NoConfig:
    """A loss without options."""


@dataclass
class CrossEntropyConfig:
    class_weights: Any = field(default=None, metadata={"help": _WEIGHTS_HELP})
    label_smoothing: float = field(default=0.0, metadata={
        "help": "in [0, 1): move this much of each target towards the uniform distribution"})

    def __post_init__(self) -> None:
        _check_weights(self.class_weights)
        check(0 <= self.label_smoothing < 1, "label_smoothing", self.label_smoothing, "a number in [0, 1)")


@dataclass
class HuberConfig:
    delta: float = field(default=1.0, metadata={
        "help": "errors above delta count linearly, below quadratically"})

    def __post_init__(self) -> None:
        check(self.delta > 0, "delta", self.delta, "a number > 0")


@dataclass
class FocalConfig:
    gamma: float = field(default=2.0, metadata={
        "help": "how much easy samples are down-weighted; 0: cross-entropy"})
    alpha: float | None = field(default=None, metadata={
        "help": "binary targets: the weight of positives in [0, 1] (negatives 1 - alpha); null: none"})
    class_weights: Any = field(default=None, metadata={"help": _WEIGHTS_HELP})

    def __post_init__(self) -> None:
        check(self.gamma >= 0, "gamma", self.gamma, "a number >= 0")
        check(self.alpha is None or 0 <= self.alpha <= 1, "alpha", self.alpha, "a number in [0, 1], or null")
        _check_weights(self.class_weights)


def _needs(name: str, spec: Any, ok: bool, what: str) -> None:
    if not ok:
        raise ConfigValueError("loss", name, f"a loss that fits the data: {name} needs {what}")


def _binary(spec: Any) -> bool:
    return spec.task == "classification" and spec.num_outputs == 1


def _multiclass(spec: Any) -> bool:
    return spec.task == "classification" and spec.num_outputs > 1


def _usual(spec: Any) -> str:
    if spec.task == "regression":
        return "mse"
    return "binary_cross_entropy" if _binary(spec) else "cross_entropy"


def _weights(cfg: Any, spec: Any) -> Any:
    """The class weights as a tensor (``balanced`` is resolved by `make_loss`), or None."""
    import torch

    weights = cfg.class_weights if cfg.class_weights is not None else spec.class_weights
    if weights is None:
        return None
    if len(weights) != spec.num_classes:
        raise ConfigValueError("loss.class_weights", list(weights),
                               f"one weight per class ({spec.num_classes})")
    return torch.tensor([float(w) for w in weights])


def _targets(out: Any, y: Any, smoothing: float = 0.0) -> Any:
    """Binary targets shaped like the logits, pulled ``smoothing`` towards 0.5."""
    target = y.to(out.dtype).view_as(out)
    return target * (1 - smoothing) + 0.5 * smoothing if smoothing else target


@register_loss(CrossEntropyConfig)
def auto(cfg: CrossEntropyConfig, spec: Any) -> LossFn:
    """The task's usual loss (or the model's own): cross_entropy, binary_cross_entropy or mse."""
    return _carried(get_plugin("loss", _usual(spec)), cfg)(spec)


@register_loss(CrossEntropyConfig)
def cross_entropy(cfg: CrossEntropyConfig, spec: Any) -> LossFn:
    """Softmax cross-entropy over 3 or more classes, with class weights and label smoothing."""
    from torch.nn import functional as F

    _needs("cross_entropy", spec, _multiclass(spec), "a classification task with 3 or more classes")
    weights = _weights(cfg, spec)

    def loss(out: Any, y: Any) -> Any:
        weight = None if weights is None else weights.to(out.device, out.dtype)
        return F.cross_entropy(out, y, weight=weight, label_smoothing=cfg.label_smoothing)

    return loss


@register_loss(CrossEntropyConfig)
def binary_cross_entropy(cfg: CrossEntropyConfig, spec: Any) -> LossFn:
    """Sigmoid cross-entropy of one logit against a binary target, each sample weighted by its class."""
    from torch.nn import functional as F

    _needs("binary_cross_entropy", spec, _binary(spec), "a binary classification task")
    weights = _weights(cfg, spec)

    def loss(out: Any, y: Any) -> Any:
        weight = None if weights is None else weights.to(out.device, out.dtype)[y].view_as(out)
        return F.binary_cross_entropy_with_logits(out, _targets(out, y, cfg.label_smoothing), weight=weight)

    return loss


@register_loss(NoConfig)
def mse(cfg: NoConfig, spec: Any) -> LossFn:
    """Mean squared error; for classification, against one-hot targets (or the binary target)."""
    from torch.nn import functional as F

    if spec.task == "regression" or _binary(spec):
        return lambda out, y: F.mse_loss(out, _targets(out, y))
    return lambda out, y: F.mse_loss(out, F.one_hot(y, spec.num_outputs).to(out.dtype))


@register_loss(NoConfig)
def mae(cfg: NoConfig, spec: Any) -> LossFn:
    """Mean absolute error of a regression: robust to outliers."""
    from torch.nn import functional as F

    _needs("mae", spec, spec.task == "regression", "a regression task")
    return lambda out, y: F.l1_loss(out, _targets(out, y))


@register_loss(HuberConfig)
def huber(cfg: HuberConfig, spec: Any) -> LossFn:
    """Huber loss of a regression: squared near the target, linear beyond ``delta``."""
    from torch.nn import functional as F

    _needs("huber", spec, spec.task == "regression", "a regression task")
    return lambda out, y: F.huber_loss(out, _targets(out, y), delta=cfg.delta)


@register_loss(FocalConfig)
def focal(cfg: FocalConfig, spec: Any) -> LossFn:
    """Focal loss (Lin et al. 2017): cross-entropy that down-weights well-classified samples."""
    import torch
    from torch.nn import functional as F
    from torchvision.ops import sigmoid_focal_loss

    _needs("focal", spec, spec.task == "classification", "a classification task")
    if cfg.alpha is not None and not _binary(spec):
        raise ConfigValueError("loss.alpha", cfg.alpha, "null for 3 or more classes (weight them "
                               "with loss.class_weights)")
    weights = _weights(cfg, spec)

    def loss(out: Any, y: Any) -> Any:
        weight = None if weights is None else weights.to(out.device, out.dtype)[y]
        if _binary(spec):
            alpha = -1 if cfg.alpha is None else cfg.alpha
            each = sigmoid_focal_loss(out.view(-1), y.to(out.dtype), alpha=alpha, gamma=cfg.gamma)
        else:
            ce = F.cross_entropy(out, y, reduction="none")
            each = (1 - torch.exp(-ce)) ** cfg.gamma * ce
        return (each if weight is None else each * weight).mean()

    return loss


@register_loss(NoConfig)
def perceptron(cfg: NoConfig, spec: Any) -> LossFn:
    """Rosenblatt's criterion: misclassified samples are penalised by how far they are wrong."""
    import torch

    _needs("perceptron", spec, _binary(spec), "a binary classification task")

    def loss(out: Any, y: Any) -> Any:
        sign = 2 * _targets(out, y) - 1
        return torch.relu(-sign * out).mean()

    return loss


def _carried(plugin: Plugin, cfg: Any) -> Callable[[Any], LossFn]:
    """``plugin`` built with the options of ``auto``'s config that it has; an option it lacks
    that was changed from its default fails with one line."""
    mine = {f.name for f in dataclasses.fields(plugin.config)}
    given = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
    for key, value in given.items():
        if key not in mine and value != getattr(type(cfg)(), key):
            raise ConfigValueError(f"loss.{key}", value, f"its default: loss=auto picked {plugin.name}, "
                                   f"which has no {key} (pick a loss that has it: loss=cross_entropy)")
    config = plugin.config(**{k: v for k, v in given.items() if k in mine})
    return lambda spec: plugin(config, spec)


def _balanced(cfg: Any, spec: Any, targets: Any) -> Any:
    """``class_weights: balanced`` as sklearn computes it on the training targets."""
    if getattr(cfg, "class_weights", None) != "balanced":
        return cfg
    if targets is None or spec.task != "classification":
        raise ConfigValueError("loss.class_weights", "balanced", "class weights of a classification "
                               "task's training split (or a list of weights)")
    import numpy as np
    from sklearn.utils.class_weight import compute_class_weight

    labels = targets.view(-1).cpu().numpy()
    classes = np.arange(spec.num_classes)
    present = np.isin(classes, labels)
    weights = np.ones(spec.num_classes)
    weights[present] = compute_class_weight("balanced", classes=classes[present], y=labels)
    return dataclasses.replace(cfg, class_weights=[float(w) for w in weights])


def make_loss(spec: Any, name: str = "auto", config: Any = None, model: Any = None,
              targets: Any = None) -> tuple[str, LossFn]:
    """The loss a run trains with, and the name it is recorded under.

    ``name`` and ``config`` come from the ``loss`` group (the plugin's defaults when
    ``config`` is None); ``auto`` becomes the model's preferred loss (``model.default_loss``)
    when it has one, else the task's usual one. ``targets`` (the training split's) resolve
    ``class_weights: balanced``.
    """
    plugin = get_plugin("loss", name)
    cfg = _balanced(plugin.config() if config is None else config, spec, targets)
    if plugin.name != "auto":
        return plugin.name, plugin(cfg, spec)
    chosen = get_plugin("loss", getattr(model, "default_loss", None) or _usual(spec))
    return chosen.name, _carried(chosen, cfg)(spec)
