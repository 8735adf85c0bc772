"""In-memory data: what a data plugin returns, how it is split, and how it is batched.

Seed-scale datasets fit in memory, so they live as tensors on the training device and
batches are slices of an index permutation; no per-sample DataLoader collation.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from nnx.errors import DataError

__all__ = ["DataSpec", "Splits", "split_arrays", "standardize", "Chunk", "IndexBatches"]


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about the data it is built for.

    ``input_shape`` is one sample's shape: ``(features,)`` for tables, ``(channels, length)``
    for 1-D signals, ``(channels, height, width)`` for images, ``(time, features)`` for
    sequences. A binary target gets one output (a logit); ``num_classes`` outputs otherwise.
    """

    input_shape: tuple[int, ...]
    task: str  # classification | regression
    num_classes: int = 0  # classification only
    num_targets: int = 1  # regression only
    kind: str = "table"  # table | signal | image | sequence: how the input is laid out
    class_weights: tuple[float, ...] | None = None  # per-class loss weights (imbalanced targets)

    @property
    def num_outputs(self) -> int:
        if self.task == "regression":
            return self.num_targets
        return 1 if self.num_classes == 2 else self.num_classes


@dataclass
class Splits:
    """Train/val/test tensors ``(x, y)`` and the spec of their samples."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    spec: DataSpec

    def to(self, device: torch.device | str) -> Splits:
        """The same splits with every tensor on ``device``."""
        move = lambda xy: (xy[0].to(device), xy[1].to(device))  # noqa: E731
        return Splits(move(self.train), move(self.val), move(self.test), self.spec)


def split_arrays(
    x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float, seed: int,
    stratify: bool = True,
) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Split into train/val/test, stratified by ``y`` when asked, reproducibly from ``seed``."""
    from sklearn.model_selection import train_test_split

    def cut(a: np.ndarray, b: np.ndarray, fraction: float, salt: int) -> list[np.ndarray]:
        return train_test_split(
            a, b, test_size=fraction, random_state=seed + salt, stratify=b if stratify else None
        )

    try:
        x_rest, x_test, y_rest, y_test = cut(x, y, test_fraction, 0)
        x_train, x_val, y_train, y_val = cut(
            x_rest, y_rest, val_fraction / (1.0 - test_fraction), 1
        )
    except ValueError as error:
        raise DataError(f"Cannot split {len(x)} samples into train/val/test: {error}") from None
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def standardize(
    train: np.ndarray, *others: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Scale every array by the mean and std of the training array only (no leakage)."""
    mean = train.mean(axis=0)
    std = train.std(axis=0)
    std[std == 0] = 1.0
    return tuple((a - mean) / std for a in (train, *others))


class Chunk:
    """The ``(x, y)`` batches of one Lightning step, already on the training device.

    Deliberately not a list: Lightning walks list and tuple batches element by element to
    move them to the device, which costs more than a small model's step; an opaque object
    is handed to the task as it is.
    """

    __slots__ = ("batches",)

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class IndexBatches:
    """Mini-batches sliced from tensors by an index permutation, grouped into chunks.

    Each item is a list of up to ``fused`` ``(x, y)`` batches: the task runs one optimizer
    step per batch, so a chunk is one Lightning step that holds several optimizer steps.
    With several processes (DDP) each one takes its own stride of the permutation.
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
        fused: int | None = None, seed: int = 0, rank: int = 0, world_size: int = 1,
    ) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.num_batches = -(-self._shard_size() // batch_size)
        self.fused = fused or max(self.num_batches, 1)

    def _shard_size(self) -> int:
        # Every process must take the same number of steps, so the remainder is dropped.
        return len(self.x) // self.world_size

    def __len__(self) -> int:
        return -(-self.num_batches // self.fused)

    def __iter__(self) -> Iterator[Chunk]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        order = order[: self._shard_size() * self.world_size][self.rank :: self.world_size]
        chunk: list[tuple[torch.Tensor, torch.Tensor]] = []
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            chunk.append((self.x[index], self.y[index]))
            if len(chunk) == self.fused:
                yield Chunk(chunk)
                chunk = []
        if chunk:
            yield Chunk(chunk)
