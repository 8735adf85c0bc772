"""The network of `model=torchvision`: a torchvision builder, local weights, a new head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from nnx.data.spec import DataSpec
from nnx.errors import ConfigChoiceError, ConfigValueError, first_line
from nnx.models.phases import Phase

__all__ = ["Backbone", "build", "read_weights"]


def read_weights(arch: str, weights: str) -> dict[str, Any]:
    """The state dict ``weights`` names (``DEFAULT``: torchvision's file in torch hub's cache),
    from a local file only; one error naming the file and where it goes otherwise."""
    import torchvision.models

    if weights == "DEFAULT":
        url = torchvision.models.get_model_weights(arch).DEFAULT.url
        file = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
        if not file.is_file():
            raise ConfigValueError("model.weights", weights, f"a weights file on this machine: put "
                                   f"{file.name} (from {url}) in {file.parent}, or pass "
                                   "model.weights=PATH; nnx never downloads weights")
    else:
        file = Path(weights).expanduser()
        if not file.is_file():
            raise ConfigValueError("model.weights", weights, f"a state-dict file; {file} does not "
                                   "exist (write one with torch.save(model.state_dict(), PATH))")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)  # noqa: TID251
    except Exception as error:  # noqa: BLE001 - torch raises many kinds for a bad file
        raise ConfigValueError("model.weights", weights,
                               f"a state dict saved with torch.save ({first_line(error)})") from None


class Backbone(nn.Module):
    """A torchvision network whose last linear layer (the head) was replaced for the classes.

    Grey images are repeated to the three channels the network was built for. With
    ``freeze_epochs`` the backbone is frozen for a first phase ``frozen`` that trains the
    head alone, then unfrozen.
    """

    def __init__(self, net: nn.Module, head: str, grey: bool, freeze_epochs: int) -> None:
        super().__init__()
        self.net, self.head, self.grey, self.freeze_epochs = net, head, grey, freeze_epochs
        if freeze_epochs:
            self._set_backbone(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.expand(-1, 3, -1, -1) if self.grey else x)

    def backbone_parameters(self) -> list[nn.Parameter]:
        """Every parameter but the head's (``optimizer.backbone_lr_scale`` scales their rate)."""
        return [p for name, p in self.net.named_parameters() if not name.startswith(self.head + ".")]

    def _set_backbone(self, trainable: bool) -> None:
        for p in self.backbone_parameters():
            p.requires_grad_(trainable)

    def training_phases(self) -> list[Phase]:
        if not self.freeze_epochs:
            return [Phase("", self)]
        return [Phase("frozen", self, self.freeze_epochs, lambda: self._set_backbone(False)),
                Phase("", self, None, lambda: self._set_backbone(True))]


def _replace(net: nn.Module, name: str, layer: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, leaf, layer)


def build(arch: str, weights: str | None, freeze_epochs: int, spec: DataSpec) -> Backbone:
    """``arch`` built (and loaded with ``weights``) for 3 channels, its head sized to ``spec``."""
    import torchvision.models

    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        raise ConfigChoiceError("model.arch", arch, names)
    if spec.kind != "image" or len(spec.input_shape) != 3 or spec.input_shape[0] not in (1, 3):
        raise ConfigValueError("model", "torchvision", f"grey or RGB images (channels, height, "
                               f"width); the data has {spec.kind} inputs of shape {spec.input_shape}")
    builder = torchvision.models.get_model_builder(arch)
    extra = {"aux_logits": False, "init_weights": True} if arch in ("googlenet", "inception_v3") else {}
    net = builder(weights=None, **extra)
    counting = torch.empty(0).device.type == "meta"  # built only to count its parameters
    if weights is not None and not counting:
        state = read_weights(arch, weights)
        try:
            net.load_state_dict(state, strict=not extra)
        except RuntimeError as error:
            raise ConfigValueError("model.weights", weights,
                                   f"a state dict of {arch} ({first_line(error)})") from None
    linears = [name for name, module in net.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigValueError("model.arch", arch, "an architecture whose classifier ends in a "
                               "linear layer (squeezenet's is a convolution)")
    head = linears[-1]
    _replace(net, head, nn.Linear(net.get_submodule(head).in_features, spec.num_outputs))
    if not counting:
        _check_size(net.eval(), arch, spec.input_shape[1:])
    return Backbone(net.train(), head, spec.input_shape[0] == 1, freeze_epochs)


def _check_size(net: nn.Module, arch: str, size: tuple[int, ...]) -> None:
    """An image too small for the network's downsampling fails here, naming the size."""
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, *size))
    except RuntimeError as error:
        raise ConfigValueError("data.image_size", list(size), f"a size {arch} can take "
                               f"({first_line(error)}); set data.image_size larger, e.g. [224]"
                               ) from None
