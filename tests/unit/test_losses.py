"""Losses as plugins: the task's usual one for ``auto``, class weights, label smoothing, focal
and Huber options, and one line for a loss that does not fit the data."""

from __future__ import annotations

import re

import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight
from torch.nn import functional as F

from nnx.config import validate
from nnx.data.spec import DataSpec
from nnx.errors import ConfigValueError
from nnx.training.losses import CrossEntropyConfig, FocalConfig, HuberConfig, make_loss

BINARY = DataSpec((4,), "classification", num_classes=2)
MULTICLASS = DataSpec((4,), "classification", num_classes=3)
REGRESSION = DataSpec((4,), "regression")
#: An imbalanced binary set: 1 positive in 10, scored so that positives are badly predicted.
Y = torch.tensor([0] * 9 + [1])
OUT = torch.tensor([[-2.0]] * 9 + [[-1.0]])


@pytest.mark.parametrize(("spec", "name"), [
    (BINARY, "binary_cross_entropy"), (MULTICLASS, "cross_entropy"), (REGRESSION, "mse")])
def test_auto_is_the_tasks_usual_loss(spec: DataSpec, name: str) -> None:
    assert make_loss(spec)[0] == name


def test_auto_prefers_the_models_own_loss() -> None:
    model = torch.nn.Linear(4, 1)
    model.default_loss = "perceptron"
    assert make_loss(BINARY, "auto", model=model)[0] == "perceptron"


def test_balanced_class_weights_change_the_loss_on_an_imbalanced_set() -> None:
    plain = make_loss(BINARY, "binary_cross_entropy")[1](OUT, Y)
    config = CrossEntropyConfig(class_weights="balanced")
    name, weighted = make_loss(BINARY, "auto", config, targets=Y)
    expected = compute_class_weight("balanced", classes=torch.arange(2).numpy(), y=Y.numpy())
    each = F.binary_cross_entropy_with_logits(OUT.view(-1), Y.float(), reduction="none")
    assert name == "binary_cross_entropy"
    assert weighted(OUT, Y).item() == pytest.approx((each * torch.tensor(expected)[Y]).mean().item())
    assert weighted(OUT, Y).item() > 2 * plain.item()  # the missed positive now weighs 5x


def test_class_weights_as_a_list_for_three_classes() -> None:
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    loss = make_loss(MULTICLASS, "cross_entropy", CrossEntropyConfig(class_weights=[1.0, 2.0, 0.5]))[1]
    expected = F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 2.0, 0.5]))
    assert loss(logits, labels).item() == pytest.approx(expected.item())
    with pytest.raises(ConfigValueError, match=re.escape(
            "Bad value for 'loss.class_weights': [1.0, 2.0]; expected one weight per class (3).")):
        make_loss(MULTICLASS, "cross_entropy", CrossEntropyConfig(class_weights=[1.0, 2.0]))


def test_label_smoothing_is_torchs() -> None:
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    loss = make_loss(MULTICLASS, "auto", CrossEntropyConfig(label_smoothing=0.2))[1]
    assert loss(logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels, label_smoothing=0.2).item())
    binary = make_loss(BINARY, "binary_cross_entropy", CrossEntropyConfig(label_smoothing=0.2))[1]
    smoothed = Y.float() * 0.8 + 0.1
    assert binary(OUT, Y).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(OUT.view(-1), smoothed).item())


def test_focal_without_focusing_is_cross_entropy_and_focusing_lowers_easy_samples() -> None:
    logits, labels = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    flat = make_loss(MULTICLASS, "focal", FocalConfig(gamma=0.0))[1]
    assert flat(logits, labels).item() == pytest.approx(F.cross_entropy(logits, labels).item())
    binary_flat = make_loss(BINARY, "focal", FocalConfig(gamma=0.0))[1]
    assert binary_flat(OUT, Y).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(OUT.view(-1), Y.float()).item(), rel=1e-5)
    focused = make_loss(BINARY, "focal", FocalConfig(gamma=2.0, alpha=0.9))[1]
    assert focused(OUT, Y).item() < binary_flat(OUT, Y).item()
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'loss.alpha': 0.5; expected null")):
        make_loss(MULTICLASS, "focal", FocalConfig(alpha=0.5))


def test_huber_delta() -> None:
    out, y = torch.tensor([[0.0], [3.0]]), torch.tensor([0.5, 0.0])
    loss = make_loss(REGRESSION, "huber", HuberConfig(delta=1.0))[1]
    assert loss(out, y).item() == pytest.approx((0.5 * 0.25 + (3.0 - 0.5)) / 2)


@pytest.mark.parametrize(("spec", "name", "needs"), [
    (BINARY, "cross_entropy", "a classification task with 3 or more classes"),
    (MULTICLASS, "binary_cross_entropy", "a binary classification task"),
    (REGRESSION, "focal", "a classification task"),
    (MULTICLASS, "huber", "a regression task"),
])
def test_a_loss_that_does_not_fit_the_data_is_one_line(spec: DataSpec, name: str, needs: str) -> None:
    with pytest.raises(ConfigValueError, match=re.escape(
            f"Bad value for 'loss': '{name}'; expected a loss that fits the data: {name} needs {needs}.")):
        make_loss(spec, name)


def test_auto_refuses_an_option_the_chosen_loss_lacks() -> None:
    model = torch.nn.Linear(4, 1)
    model.default_loss = "perceptron"
    with pytest.raises(ConfigValueError, match=re.escape(
            "Bad value for 'loss.label_smoothing': 0.1; expected its default: loss=auto picked perceptron")):
        make_loss(BINARY, "auto", CrossEntropyConfig(label_smoothing=0.1), model=model)


def test_loss_group_is_validated_before_the_data(make_cfg) -> None:
    recipe = validate(make_cfg("loss=focal", "loss.gamma=1.5", "loss.class_weights=[1,2,3]", tracking=False))
    assert recipe.loss.plugin.name == "focal" and recipe.loss.config.gamma == 1.5
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'loss.class_weights': 'even'")):
        validate(make_cfg("loss.class_weights=even", tracking=False))
    with pytest.raises(ConfigValueError, match=re.escape("Bad value for 'loss.delta': 0.0")):
        validate(make_cfg("loss=huber", "loss.delta=0", tracking=False))
