"""model=torchvision: local weights only, a new head, the backbone's own learning rate."""

from __future__ import annotations

import re

import pytest
import torch
import torchvision

from nnx.config import to_dataclass
from nnx.data.spec import DataSpec
from nnx.errors import ConfigChoiceError, ConfigValueError
from nnx.models.phases import parameter_groups, phases_of
from nnx.registry import get_plugin

GREY = DataSpec((1, 32, 32), "classification", 3, kind="image", class_names=("a", "b", "c"))


def build(spec=GREY, **overrides):
    plugin = get_plugin("model", "torchvision")
    return plugin(to_dataclass(overrides, plugin.config, "model"), spec)


def test_weights_file_is_loaded_and_the_head_replaced(tmp_path) -> None:
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, tmp_path / "r18.pt")
    model = build(weights=str(tmp_path / "r18.pt"), freeze_backbone_epochs=1)
    assert torch.equal(model.net.conv1.weight, saved["conv1.weight"])
    assert model.net.fc.out_features == 3
    assert model(torch.zeros(2, 1, 32, 32)).shape == (2, 3)  # grey in, 3 channels to the network
    # Frozen for the first phase: the head alone is trainable, then everything.
    frozen, final = phases_of(model)
    assert (frozen.name, frozen.epochs, final.name) == ("frozen", 1, "")
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["net.fc.weight", "net.fc.bias"]
    final.prepare()
    assert all(p.requires_grad for p in model.parameters())


def test_backbone_learns_at_its_own_rate() -> None:
    model = build(arch="resnet18")
    optimizer = get_plugin("optimizer", "sgd")
    cfg = to_dataclass({"lr": 0.1, "backbone_lr_scale": 0.01}, optimizer.config, "optimizer")
    groups = optimizer(cfg, parameter_groups(model)).param_groups
    assert [g["lr"] for g in groups] == pytest.approx([0.001, 0.1])
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))


@pytest.mark.parametrize("overrides, error, message", [
    ({"arch": "resnet19"}, ConfigChoiceError, "Did you mean 'resnet18'"),
    ({"weights": "DEFAULT"}, ConfigValueError, "put resnet18-f37072fd.pth (from https://"),
    ({"weights": "nowhere.pt"}, ConfigValueError, "nowhere.pt does not exist"),
])
def test_missing_weights_and_unknown_arch_fail_in_one_line(tmp_path, monkeypatch, overrides, error,
                                                           message) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache: nothing is downloaded
    with pytest.raises(error, match=re.escape(message)) as caught:
        build(**overrides)
    assert "\n" not in str(caught.value)
    if overrides.get("weights") == "DEFAULT":
        assert str(tmp_path / "hub" / "checkpoints") in str(caught.value)
