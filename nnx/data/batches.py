"""Mini-batches sliced from in-memory tensors by an index permutation.

No per-sample DataLoader collation: on seed-scale data it costs more than the step itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

__all__ = ["Chunk", "IndexBatches"]


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

    Each item is a `Chunk` of up to ``fused`` ``(x, y)`` batches: the task runs one optimizer
    step per batch, so a chunk is one Lightning step that holds several optimizer steps.
    ``plain`` yields each ``(x, y)`` batch as it is instead, one per Lightning step, as
    Lightning's callbacks expect to see them. With several processes (DDP) each one takes
    its own stride of the permutation.
    """

    def __init__(
        self, x: torch.Tensor, y: torch.Tensor, batch_size: int, *, shuffle: bool,
        fused: int | None = None, seed: int = 0, rank: int = 0, world_size: int = 1,
        plain: bool = False,
    ) -> None:
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.plain = plain
        if plain:
            fused = 1
        self.rank, self.world_size = rank, world_size
        self.generator = torch.Generator().manual_seed(seed)
        self.num_batches = -(-self._shard_size() // batch_size)
        self.fused = fused or max(self.num_batches, 1)

    def _shard_size(self) -> int:
        # Every process must take the same number of steps, so the remainder is dropped.
        return len(self.x) // self.world_size

    def __len__(self) -> int:
        return -(-self.num_batches // self.fused)

    def __iter__(self) -> Iterator[Chunk | tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.x.device)
        else:
            order = torch.arange(n, device=self.x.device)
        order = order[: self._shard_size() * self.world_size][self.rank :: self.world_size]
        chunk: list[tuple[torch.Tensor, torch.Tensor]] = []
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            if self.plain:
                yield self.x[index], self.y[index]
                continue
            chunk.append((self.x[index], self.y[index]))
            if len(chunk) == self.fused:
                yield Chunk(chunk)
                chunk = []
        if chunk:
            yield Chunk(chunk)
