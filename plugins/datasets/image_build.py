"""The image files of a `Listing` into train/val/test: in-memory tensors or streams.

``cfg`` is the plugin's `ImageFolderConfig` (not imported: the plugin module imports this one).

Sizes, channels, the deterministic transforms and the normalisation are fixed here, once,
and recorded (``Splits.preprocessing``) so that ``nnx-predict`` reads files the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnx.errors import DataError
from nnx_plugins.datasets.image_files import Listing
from nnx_plugins.datasets.mnist1d_gen import default_cache_dir

if TYPE_CHECKING:
    import torch

    from nnx.data import Splits

__all__ = ["build_splits"]

_STATS_SAMPLES = 1000  # training images the normalisation statistics are measured on


def _cut(files: list[str], labels: list[int], fraction: float, seed: int) -> tuple[list, list]:
    """Split ``(files, labels)`` into the rest and a stratified, seeded ``fraction``."""
    from sklearn.model_selection import train_test_split

    try:
        rest, part = train_test_split(np.arange(len(files)), test_size=fraction,
                                      random_state=seed, stratify=labels)
    except ValueError as error:
        raise DataError(f"Cannot cut {len(files)} images into splits: {error}") from None
    pick = lambda index: ([files[i] for i in index], [labels[i] for i in index])  # noqa: E731
    return pick(sorted(rest)), pick(sorted(part))


def _split(cfg: Any, listing: Listing) -> dict[str, tuple[list[str], list[int]]]:
    """Files and labels per split: the split folders present, the rest cut from train."""
    parts = {s: (listing.files[s], listing.labels[s]) for s in listing.files if listing.files[s]}
    if "train" not in parts:
        raise DataError("The image folder's train/ sub-folder holds no images.")
    val_fraction = cfg.val_fraction
    if "test" not in parts:
        parts["train"], parts["test"] = _cut(*parts["train"], cfg.test_fraction, cfg.split_seed)
        val_fraction /= 1 - cfg.test_fraction  # a share of all images, as the other sources
    if "val" not in parts:
        parts["train"], parts["val"] = _cut(*parts["train"], val_fraction, cfg.split_seed + 1)
    return parts


def _stats(cfg: Any, files: list[str], channels: int, size: tuple[int, int],
           transform: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (pixel units) the inputs are normalised with."""
    import torch

    from nnx.data.images import IMAGENET_MEAN, IMAGENET_STD, channel_stats, decode

    shape = (1, channels, 1, 1)
    if cfg.normalize == "none":
        return torch.zeros(shape), torch.full(shape, 255.0)
    if cfg.normalize == "imagenet":
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        if channels == 1:
            mean, std = mean.mean(), std.mean()
        return mean.view(shape), std.view(shape)
    order = np.random.default_rng(cfg.split_seed).permutation(len(files))[:_STATS_SAMPLES]
    images = torch.stack([transform(decode(files[i], channels, size)) for i in sorted(order)])
    return channel_stats(images)


def _decode_all(stream: Any) -> torch.Tensor:
    """Every image of ``stream`` decoded (by its workers), as uint8, in file order."""
    import torch

    from nnx.data.streaming import stream_loader

    if not len(stream):
        return torch.zeros(0, *stream.input_shape, dtype=torch.uint8)
    return torch.cat([x for x, _ in stream_loader(stream, 256, shuffle=False)])


def _check_memory(count: int, shape: tuple[int, ...]) -> None:
    import psutil

    need = count * int(np.prod(shape)) * 5  # uint8 while decoding, float32 kept
    free = psutil.virtual_memory().available
    if need > free // 2:
        raise DataError(f"Decoding {count} images of shape {shape} into memory needs "
                        f"{need / 2**30:.1f} GiB, more than half the free memory "
                        f"({free / 2**30:.1f} GiB); stream them with data.cache=disk or none.")


def build_splits(cfg: Any, listing: Listing, workers: int, root: Path) -> Splits:
    """Train/val/test of the listed images, with the spec and the recorded preprocessing."""
    import torch

    from nnx.data import DataSpec, Splits
    from nnx.data.augment import batch_pipeline, has_random, pipeline
    from nnx.data.augmented import AugmentedImages
    from nnx.data.images import normalize
    from nnx.data.streaming import DecodedCache, ImageStream

    side = cfg.image_size
    size = (side[0], side[-1]) if side else listing.first_size
    channels = cfg.channels or (3 if listing.colour else 1)
    train_transform = pipeline(cfg.augment, size, train=True)
    eval_transform = pipeline(cfg.augment, size, train=False)
    parts = _split(cfg, listing)
    blank = torch.zeros(channels, *size, dtype=torch.uint8)
    input_shape = tuple(eval_transform(blank).shape)
    if tuple(train_transform(blank).shape) != input_shape:
        raise DataError(f"data.augment makes training images of shape {tuple(train_transform(blank).shape)} "
                        f"but evaluation images of shape {input_shape}; give random crops the "
                        "evaluation size (size=...).")
    mean, std = _stats(cfg, parts["train"][0], channels, size, eval_transform)
    # In memory, random augmentation is drawn batch by batch in the training process.
    augmented = cfg.cache == "memory" and has_random(cfg.augment)

    def stream(split: str) -> ImageStream:
        files, labels = parts[split]
        cache = None
        if cfg.cache == "disk":
            folder = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir() / "images"
            cache = DecodedCache.on_disk(folder, files, blank.shape)
        transform = eval_transform
        if split == "train":
            transform = None if augmented else train_transform
        return ImageStream(files, torch.as_tensor(labels, dtype=torch.long), channels, size,
                           input_shape=input_shape, mean=mean, std=std, transform=transform,
                           cache=cache, workers=workers)

    streams = [stream(split) for split in ("train", "val", "test")]
    if cfg.cache == "memory":
        _check_memory(sum(len(s) for s in streams), input_shape)
        train = _decode_all(streams[0])
        inputs = [AugmentedImages(train, batch_pipeline(cfg.augment, size), mean, std, input_shape)
                  if augmented else normalize(train, mean, std)]
        inputs += [normalize(_decode_all(s), mean, std) for s in streams[1:]]
        splits: list[Any] = [(x, s.labels) for x, s in zip(inputs, streams, strict=True)]
    else:
        splits = [(s, s.labels) for s in streams]
    spec = DataSpec(input_shape=input_shape, task="classification", num_classes=len(listing.classes),
                    kind="image", class_names=tuple(listing.classes))
    record = {"input": "image", "shape": list(input_shape), "channels": channels, "size": list(size),
              "mean": mean.flatten().tolist(), "std": std.flatten().tolist(),
              "augment": list(cfg.augment), "source": str(root)}
    return Splits(*splits, spec=spec, preprocessing=record)
