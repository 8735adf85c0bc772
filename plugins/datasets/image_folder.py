"""Your own images: one sub-folder per class (or a CSV index), decoded, resized, normalised.

With ``data.cache=memory`` the images are decoded once into memory and batched like the
other sources (random augmentation drawn batch by batch in the training process); otherwise
each split streams from its files through DataLoader workers, decoded images kept on disk
(``data.cache=disk``) or decoded every epoch (``none``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnx.config import check, check_choice
from nnx.data import SplitConfig
from nnx.data.augment import check_augment
from nnx.registry import register_dataset

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["ImageFolderConfig", "image_folder"]


@dataclass
class ImageFolderConfig(SplitConfig):
    path: str | None = field(default=None, metadata={
        "help": "the image folder, required: one sub-folder per class, optionally under "
                "train/ val/ test/ (those present fix the split)"})
    index: str | None = field(default=None, metadata={
        "help": "a CSV of path,label rows (paths relative to data.path) instead of class folders"})
    image_size: list[int] | None = field(default=None, metadata={
        "help": "[height, width] or [side] every image is resized to; null: the first image's"})
    channels: int | None = field(default=None, metadata={
        "help": "1 (grey) or 3 (RGB); null: 3 if any image has colour, else 1"})
    normalize: str = field(default="train", metadata={
        "help": "train (per-channel mean/std of up to 1000 training images) | imagenet "
                "(pretrained backbones) | none (pixels scaled to [0, 1])"})
    augment: list[Any] = field(default_factory=list, metadata={
        "help": "torchvision.transforms.v2 by name, e.g. [horizontal_flip,{rotation:15}]; random "
                "ones train only, center_crop/resize/pad every split"})
    cache: str = field(default="memory", metadata={
        "help": "memory | disk | none: keep decoded images (in memory, or in data.cache_dir) "
                "after their first read, or decode every epoch"})
    cache_dir: str | None = field(default=None, metadata={
        "help": "folder of data.cache=disk; null: $NNX_CACHE_DIR/images or ~/.cache/nnx/images"})
    workers: int | None = field(default=None, metadata={
        "help": "processes that decode images; null: one per CPU core (at most 8); 0: none"})
    on_bad_image: str = field(default="error", metadata={
        "help": "error | skip: what to do with a file that is not an image"})

    def __post_init__(self) -> None:
        super().__post_init__()
        size = self.image_size
        check(size is None or len(size) in (1, 2) and min(size) >= 1, "image_size", size,
              "[height, width] or [side], sizes >= 1, or null")
        check(self.channels in (None, 1, 3), "channels", self.channels, "1, 3 or null")
        check_choice("normalize", self.normalize, ("train", "imagenet", "none"))
        check_choice("cache", self.cache, ("memory", "disk", "none"))
        check_choice("on_bad_image", self.on_bad_image, ("error", "skip"))
        check(self.workers is None or self.workers >= 0, "workers", self.workers,
              "an integer >= 0, or null")
        check_augment(self.augment)


@register_dataset(ImageFolderConfig)
def image_folder(cfg: ImageFolderConfig) -> Splits:
    """Images in class folders (or a path,label CSV): PNG, JPEG, grey or RGB, any size."""
    from nnx.errors import ConfigValueError
    from nnx_plugins.datasets.image_build import build_splits
    from nnx_plugins.datasets.image_files import list_images

    if not cfg.path:
        raise ConfigValueError("data.path", cfg.path,
                               "required: nnx data=image_folder data.path=DIR")
    listing = list_images(cfg.path, cfg.index, cfg.on_bad_image)
    workers = min(os.cpu_count() or 1, 8) if cfg.workers is None else cfg.workers
    return build_splits(cfg, listing, workers, Path(cfg.path).expanduser().resolve())
