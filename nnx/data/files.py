"""Writers of small datasets in the real on-disk formats that torchvision reads.

Tests and benchmarks use them to exercise the real loaders offline; they are also a way to
put your own images into a layout that ``data=mnist`` or ``data=cifar10`` accepts.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

__all__ = ["write_idx", "write_mnist", "write_cifar10", "write_image_folder", "MNIST_FILES",
           "CIFAR10_FILES"]

#: The four files torchvision's MNIST (and FashionMNIST) read from ``<root>/<Class>/raw/``.
MNIST_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)
#: The files torchvision's CIFAR10 reads from ``<root>/cifar-10-batches-py/``.
CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format (big-endian header: magic 0x08 0xNDIM, sizes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    path.write_bytes(header + array.tobytes())


def _images(n: int, shape: tuple[int, ...], classes: int, rng: np.random.Generator):
    """Noisy images with a bright horizontal band whose position is the label: learnable."""
    labels = np.arange(n) % classes
    rng.shuffle(labels)
    images = rng.integers(0, 100, size=(n, *shape))
    height = shape[-2]
    rows = np.arange(height) * classes // height  # which label lights each row
    band = rows[None, :] == labels[:, None]  # (n, height)
    images += 150 * band.reshape(n, *([1] * (len(shape) - 2)), height, 1)
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_mnist(
    root: Path, n_train: int, n_test: int, folder: str = "MNIST", seed: int = 0
) -> Path:
    """MNIST-format IDX files under ``root/folder/raw``; returns that folder."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = _images(n, (28, 28), 10, rng)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


def write_cifar10(root: Path, per_batch: int, seed: int = 0) -> Path:
    """CIFAR-10 python pickle batches under ``root/cifar-10-batches-py``; returns that folder."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in CIFAR10_FILES[:-1]:
        images, labels = _images(per_batch, (3, 32, 32), 10, rng)
        batch = {"data": images.reshape(per_batch, -1), "labels": labels.tolist(),
                 "batch_label": name, "filenames": [f"{name}_{i}.png" for i in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"]
    meta = {"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta))
    return folder


def write_image_folder(root: Path, per_class: int, classes: tuple[str, ...] = ("cat", "dog", "fox"),
                       sizes: tuple[int, ...] = (16,), mixed: bool = True, seed: int = 0) -> Path:
    """One sub-folder of images per class under ``root`` (the `data=image_folder` layout):
    a bright band whose position is the class, on noise. ``mixed`` alternates PNG and JPEG,
    grey and RGB; each image takes the next of ``sizes``. Returns ``root``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for label, name in enumerate(classes):
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            side = sizes[i % len(sizes)]
            pixels = rng.integers(0, 100, size=(side, side))
            pixels[np.arange(side) * len(classes) // side == label] += 150  # the class's band
            image = Image.fromarray(pixels.astype(np.uint8))
            if mixed and i % 2:
                image = Image.merge("RGB", (image, image.point(lambda v: v // 2), image))
            image.save(folder / f"{i:05d}.{'jpg' if mixed and i % 4 == 3 else 'png'}")
    return Path(root)
