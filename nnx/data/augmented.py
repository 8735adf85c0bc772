"""A training split held in memory and augmented batch by batch, in the training process.

With ``data.cache=memory`` and random augmentation, the training images are decoded once into
one ``uint8`` tensor (a quarter of the float inputs' memory), moved to the training device
with the other splits, and batched by index as every in-memory split is
(`nnx.data.batches.IndexBatches`): each batch is sliced, augmented with each sample's own
random draws (`nnx.data.augment.batch_pipeline`) and normalised where it lies. No worker
process, no per-sample collation, no copy between processes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from nnx.data.images import normalize

__all__ = ["AugmentedImages"]


class AugmentedImages:
    """uint8 images ``(N, C, H, W)`` whose slices come out augmented and normalised.

    ``images[index]`` is a float batch of samples of ``input_shape``: ``augment`` (a uint8
    batch to a uint8 batch) applied, then ``(x - mean) / std`` with ``mean``/``std`` in pixel
    units, ``(1, C, 1, 1)``.
    """

    dtype = torch.float32  # what its batches are

    def __init__(self, images: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor],
                 mean: torch.Tensor, std: torch.Tensor, input_shape: tuple[int, ...]) -> None:
        self.images, self.augment, self.input_shape = images, augment, tuple(input_shape)
        self.mean, self.std = mean.to(images.device), std.to(images.device)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return normalize(self.augment(self.images[index]), self.mean, self.std)

    @property
    def shape(self) -> tuple[int, ...]:
        """``(samples, *input shape)``, as the split's float tensor would have."""
        return (len(self), *self.input_shape)

    @property
    def device(self) -> torch.device:
        return self.images.device

    def to(self, device: torch.device | str) -> AugmentedImages:
        return AugmentedImages(self.images.to(device), self.augment, self.mean, self.std,
                               self.input_shape)
