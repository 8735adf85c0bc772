"""Image files into model inputs: decode, resize, per-channel statistics, normalisation.

One decoder serves training, the caches and ``nnx-predict``, so a file becomes the same
tensor everywhere: ``uint8 (channels, height, width)`` at the run's image size. Statistics
are kept in pixel units (0-255), as the image sets record them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnx.errors import DataError, first_line

__all__ = ["IMAGE_SUFFIXES", "IMAGENET_MEAN", "IMAGENET_STD", "decode", "channel_stats",
           "normalize", "encode_files"]

#: What counts as an image file (Pillow reads all of them).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm")
#: ImageNet's per-channel statistics (RGB, pixel units): what pretrained backbones expect.
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def decode(path: str | Path, channels: int, size: Sequence[int]) -> torch.Tensor:
    """The image at ``path`` as ``uint8 (channels, height, width)``: grey (1) or RGB (3),
    resized (bilinear) to ``size`` ``(height, width)``; one `DataError` if it is not an image."""
    from PIL import Image

    height, width = int(size[0]), int(size[1])
    try:
        with Image.open(path) as image:
            image = image.convert("L" if channels == 1 else "RGB")
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.array(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:
        raise DataError(f"{path} is not a readable image ({first_line(error)}).") from None
    tensor = torch.from_numpy(array)
    return tensor.unsqueeze(0) if channels == 1 else tensor.permute(2, 0, 1).contiguous()


def channel_stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 images ``(N, C, H, W)``, exact, from 256-bin histograms
    (several times faster than reducing the float images); shaped ``(1, C, 1, 1)``."""
    levels = torch.arange(256, dtype=torch.float64)
    counts = torch.stack([torch.bincount(images[:, c].reshape(-1), minlength=256)
                          for c in range(images.shape[1])]).double()
    n = counts.sum(1)
    mean = (counts * levels).sum(1) / n
    var = (counts * (levels - mean[:, None]) ** 2).sum(1) / (n - 1).clamp_min(1)
    shape = (1, -1, 1, 1)
    return mean.float().view(shape), var.sqrt().clamp_min(1e-6).float().view(shape)


def normalize(images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float model inputs: ``(x - mean) / std`` per channel, in pixel units."""
    return images.float().sub_(mean.to(images.device)).div_(std.to(images.device))


def encode_files(paths: Sequence[str | Path], record: dict[str, Any], where: str = "the input",
                 ) -> np.ndarray:
    """Image files -> float32 model inputs with a run's recorded image preprocessing: decoded
    at its size and channels, its deterministic transforms applied, normalised."""
    from nnx.data.augment import pipeline

    if not len(paths):
        raise DataError(f"{where} names no image files.")
    channels, size = int(record["channels"]), record["size"]
    transform = pipeline(record.get("augment") or [], size, train=False)
    images = torch.stack([transform(decode(p, channels, size)) for p in paths])
    shape = (1, -1, 1, 1)
    mean = torch.tensor(record["mean"], dtype=torch.float32).view(shape)
    std = torch.tensor(record["std"], dtype=torch.float32).view(shape)
    return normalize(images, mean, std).numpy()
