"""Augmentation from config: ``data.augment=[horizontal_flip,{rotation:15}]`` as a
torchvision.transforms.v2 pipeline.

An item is a name, or a one-key mapping from a name to the transform's arguments (a mapping of
keyword arguments, or one value for the first argument). Random transforms apply to the
training split only; deterministic ones (``center_crop``, ``resize``, ``pad``) to every split
and to what ``nnx-predict`` and the logged model read, so a sample always has the same shape.
Names are checked when the config is validated (no torch import); arguments when the data
is built, before training.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nnx.errors import ConfigChoiceError, ConfigValueError, first_line

__all__ = ["AUGMENTS", "check_augment", "parse", "pipeline", "batch_pipeline", "has_random"]

#: Config name -> (torchvision.transforms.v2 class, random?).
AUGMENTS: dict[str, tuple[str, bool]] = {
    "horizontal_flip": ("RandomHorizontalFlip", True),
    "vertical_flip": ("RandomVerticalFlip", True),
    "rotation": ("RandomRotation", True),
    "affine": ("RandomAffine", True),
    "random_crop": ("RandomCrop", True),
    "random_resized_crop": ("RandomResizedCrop", True),
    "color_jitter": ("ColorJitter", True),
    "gaussian_blur": ("GaussianBlur", True),
    "random_erasing": ("RandomErasing", True),
    "auto_augment": ("AutoAugment", True),
    "trivial_augment": ("TrivialAugmentWide", True),
    "center_crop": ("CenterCrop", False),
    "resize": ("Resize", False),
    "pad": ("Pad", False),
}
_SIZED = ("random_crop", "random_resized_crop")  # ``size`` defaults to the image size
_FLIPS = {"horizontal_flip": -1, "vertical_flip": -2}  # the axis each one flips


def parse(item: Any) -> tuple[str, dict[str, Any]]:
    """One config item -> (name, keyword arguments); a value stands for the first argument."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, Mapping) and len(item) == 1:
        name, args = next(iter(item.items()))
        if args is None:
            return str(name), {}
        if isinstance(args, Mapping):
            return str(name), dict(args)
        return str(name), {"": args}
    raise ConfigValueError("augment", item, "a transform name, or {name: arguments}")


def check_augment(items: Sequence[Any]) -> None:
    """Every item names a known transform (a did-you-mean otherwise)."""
    for item in items:
        name, _ = parse(item)
        if name not in AUGMENTS:
            raise ConfigChoiceError("augment", name, AUGMENTS)


def has_random(items: Sequence[Any]) -> bool:
    return any(AUGMENTS[parse(item)[0]][1] for item in items)


def _transforms(items: Sequence[Any], size: Sequence[int], *, train: bool,
                ) -> list[tuple[str, Any]]:
    """``(name, v2 transform)`` of each item (the random ones for training only); bad
    arguments name the item."""
    from torchvision.transforms import v2

    transforms = []
    for item in items:
        name, kwargs = parse(item)
        cls_name, random = AUGMENTS[name]
        if random and not train:
            continue
        args = [kwargs.pop("")] if "" in kwargs else []
        if name in _SIZED and not args and "size" not in kwargs:
            kwargs["size"] = list(size)
        try:
            transforms.append((name, getattr(v2, cls_name)(*args, **kwargs)))
        except (TypeError, ValueError) as error:
            raise ConfigValueError("data.augment", item,
                                   f"arguments of torchvision.transforms.v2.{cls_name} "
                                   f"({first_line(error)})") from None
    return transforms


def pipeline(items: Sequence[Any], size: Sequence[int], *, train: bool) -> Any:
    """The v2 transforms of ``items`` (all of them for training, else the deterministic ones)
    as one callable on uint8 ``(C, H, W)`` tensors; bad arguments name the item."""
    from torchvision.transforms import v2

    transforms = [t for _, t in _transforms(items, size, train=train)]
    return v2.Compose(transforms) if transforms else v2.Identity()


def batch_pipeline(items: Sequence[Any], size: Sequence[int]) -> Callable[[Any], Any]:
    """The training transforms of ``items`` as one callable on a uint8 batch ``(N, C, H, W)``
    that draws each sample's randomness apart, as `pipeline` on each sample would: a flip as
    one masked operation on the batch, a deterministic transform on the whole batch at once,
    any other random transform sample by sample."""
    import torch

    steps = [(_FLIPS.get(name), AUGMENTS[name][1], t) for name, t in _transforms(items, size, train=True)]

    def apply(x: torch.Tensor) -> torch.Tensor:
        for axis, random, transform in steps:
            if axis is not None:
                chosen = torch.rand(len(x), device=x.device) < transform.p
                x = torch.where(chosen.view(-1, *[1] * (x.dim() - 1)), x.flip(axis), x)
            elif random:
                x = torch.stack([transform(sample) for sample in x])
            else:
                x = transform(x)
        return x

    return apply
