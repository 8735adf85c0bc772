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

from collections.abc import Mapping, Sequence
from typing import Any

from nnx.errors import ConfigChoiceError, ConfigValueError, first_line

__all__ = ["AUGMENTS", "check_augment", "parse", "pipeline", "has_random"]

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


def pipeline(items: Sequence[Any], size: Sequence[int], *, train: bool) -> Any:
    """The v2 transforms of ``items`` (all of them for training, else the deterministic ones)
    as one callable on uint8 ``(C, H, W)`` tensors; bad arguments name the item."""
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
            transforms.append(getattr(v2, cls_name)(*args, **kwargs))
        except (TypeError, ValueError) as error:
            raise ConfigValueError("data.augment", item,
                                   f"arguments of torchvision.transforms.v2.{cls_name} "
                                   f"({first_line(error)})") from None
    return v2.Compose(transforms) if transforms else v2.Identity()
