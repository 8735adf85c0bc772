"""A split read from image files while training: for folders larger than memory.

Files are decoded in DataLoader worker processes (``data.workers``), a whole batch per task,
by persistent workers. ``data.cache=disk`` keeps each decoded image after its first read in
a file mapped into memory, which every worker fills and later runs on the same files reuse.
Batches reach the task as the in-memory ones do (`nnx.data.batches.Chunk`). Training on the
CPU, the workers also normalise them, so the training process spends its cores on the model
only; for a GPU they cross as ``uint8`` (a quarter of the bytes of float, through pinned
memory) and are normalised there.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnx.data.batches import Chunk
from nnx.data.images import decode, normalize

__all__ = ["DecodedCache", "ImageStream", "StreamBatches", "stream_loader", "is_stream",
           "split_batches"]


class DecodedCache:
    """Decoded uint8 images by index, filled on first read, shared by every worker process."""

    def __init__(self, images: torch.Tensor, filled: torch.Tensor) -> None:
        self.images, self.filled = images, filled

    @classmethod
    def on_disk(cls, folder: Path, files: Sequence[str], shape: Sequence[int]) -> DecodedCache:
        """A cache in ``folder`` keyed by the files (paths, sizes, times) and the image shape."""
        stamp = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
        key = hashlib.sha256(json.dumps([stamp, list(shape)]).encode()).hexdigest()[:16]
        folder.mkdir(parents=True, exist_ok=True)
        arrays = []
        for suffix, dims in (("images", (len(files), *shape)), ("filled", (len(files),))):
            path = folder / f"{key}.{suffix}.u8"
            mode = "r+" if path.is_file() else "w+"
            arrays.append(torch.from_numpy(np.memmap(path, np.uint8, mode, shape=dims)))
        return cls(*arrays)

    def get(self, index: int) -> torch.Tensor | None:
        return self.images[index] if self.filled[index] else None

    def put(self, index: int, image: torch.Tensor) -> None:
        self.images[index] = image
        self.filled[index] = 1  # after the pixels: a reader never sees a half-written image


class ImageStream(torch.utils.data.Dataset):
    """Image files and their labels as a dataset of ``(uint8 image, label)`` samples.

    ``transform`` (the augmentation of the training split) runs on the decoded, cached image,
    so each epoch draws new random transforms. ``mean``/``std`` (pixel units, ``(1, C, 1, 1)``)
    normalise its batches on the device; ``workers`` decode them.
    """

    def __init__(self, files: Sequence[str], labels: torch.Tensor, channels: int,
                 size: Sequence[int], *, input_shape: Sequence[int], mean: torch.Tensor,
                 std: torch.Tensor,
                 transform: Any = None, cache: DecodedCache | None = None, workers: int = 0,
                 ) -> None:
        self.files, self.labels = list(files), labels
        self.channels, self.size, self.input_shape = channels, tuple(size), tuple(input_shape)
        self.mean, self.std, self.workers = mean, std, workers
        self.transform, self.cache = transform, cache

    def __len__(self) -> int:
        return len(self.files)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(samples, *input shape)``, as the decoded split's tensor would have."""
        return (len(self), *self.input_shape)

    dtype = torch.float32  # what its batches become on the device

    def decoded(self, index: int) -> torch.Tensor:
        image = self.cache.get(index) if self.cache is not None else None
        if image is None:
            image = decode(self.files[index], self.channels, self.size)
            if self.cache is not None:
                self.cache.put(index, image)
        return image

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.decoded(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def batch(self, indices: Sequence[int], normalized: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The samples at ``indices`` as one ``(x, y)`` batch: ``x`` uint8, or the float model
        inputs when ``normalized``."""
        x = torch.stack([self[i][0] for i in indices])
        if normalized:
            x = normalize(x, self.mean, self.std)
        return x, self.labels[indices]


class _BatchReader(torch.utils.data.Dataset):
    """A stream read a batch at a time (a DataLoader's index is a list of sample indices)."""

    def __init__(self, stream: ImageStream, normalized: bool) -> None:
        self.stream, self.normalized = stream, normalized

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.stream.batch(indices, self.normalized)


def is_stream(x: Any) -> bool:
    """Whether a split's inputs are streamed from files (not in-memory tensors)."""
    return isinstance(x, ImageStream)


def stream_loader(stream: ImageStream, batch_size: int, *, shuffle: bool, seed: int = 0,
                  pin_memory: bool = False, normalized: bool = False, rank: int = 0,
                  world_size: int = 1) -> torch.utils.data.DataLoader:
    """``(x, y)`` batches of ``stream``, each read whole by one of its worker processes
    (`ImageStream.batch`); shuffled in the order the in-memory batches take for the same seed
    (one ``randperm`` per epoch)."""
    from torch.utils.data import (
        BatchSampler,
        DataLoader,
        DistributedSampler,
        RandomSampler,
        SequentialSampler,
    )

    if world_size > 1:
        sampler: Any = DistributedSampler(stream, world_size, rank, shuffle=shuffle, seed=seed,
                                          drop_last=True)
    elif shuffle:
        sampler = RandomSampler(stream, generator=torch.Generator().manual_seed(seed))
    else:
        sampler = SequentialSampler(stream)
    return DataLoader(
        _BatchReader(stream, normalized), batch_size=None,
        sampler=BatchSampler(sampler, batch_size, drop_last=False), num_workers=stream.workers,
        pin_memory=pin_memory, persistent_workers=stream.workers > 0,
        generator=torch.Generator().manual_seed(seed + 1),  # the workers' seeds: augmentation
    )


class StreamBatches:
    """A DataLoader's batches as one-batch chunks on ``device``, normalised by the workers
    for the CPU, on the device otherwise (uint8 crosses: a quarter of the bytes of float)."""

    def __init__(self, stream: ImageStream, batch_size: int, device: torch.device | str, *,
                 shuffle: bool, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.device = torch.device(device)
        self.normalized = self.device.type == "cpu"
        self.loader = stream_loader(stream, batch_size, shuffle=shuffle, seed=seed, rank=rank,
                                    world_size=world_size, pin_memory=self.device.type == "cuda",
                                    normalized=self.normalized)
        self.mean, self.std = stream.mean.to(self.device), stream.std.to(self.device)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Chunk]:
        sampler = self.loader.sampler.sampler  # inside the BatchSampler
        if hasattr(sampler, "set_epoch"):  # DDP: a new shuffle every epoch
            sampler.set_epoch(self.epoch)
        self.epoch += 1
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True)
            if not self.normalized:
                x = normalize(x, self.mean, self.std)
            yield Chunk([(x, y.to(self.device, non_blocking=True))])


def split_batches(split: tuple[Any, torch.Tensor], device: torch.device | str,
                  batch_size: int = 1024) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """A split's ``(x, y)`` for evaluation: the tensors themselves when in memory, else its
    streamed batches in order, normalised on ``device``."""
    x, y = split
    if not is_stream(x):
        yield x, y
        return
    for chunk in StreamBatches(x, batch_size, device, shuffle=False):
        yield from chunk
