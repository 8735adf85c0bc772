"""The classic image sets (MNIST, Fashion-MNIST, CIFAR-10) read by torchvision's dataset classes.

Nothing is downloaded unless ``data.download=true``; missing files give one message that says
where to put them. The images are kept in memory as normalised tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnx.config import check
from nnx.data import DataConfig
from nnx.errors import DataError, first_line
from nnx.registry import register_dataset
from nnx_plugins.datasets.mnist1d_gen import default_cache_dir

if TYPE_CHECKING:
    from nnx.data import Splits

__all__ = ["ImageSetConfig", "Cifar10Config", "mnist", "fashion_mnist", "cifar10"]


@dataclass
class ImageSetConfig(DataConfig):
    batch_size: int = field(default=128, metadata={"help": "samples per optimizer step"})
    root: str | None = field(
        default=None, metadata={"help": "folder of the files; None: $NNX_CACHE_DIR/data or ~/.cache/nnx/data"}
    )
    download: bool = field(
        default=False, metadata={"help": "download the files when they are missing (needs the internet)"}
    )
    val_fraction: float = field(
        default=0.1, metadata={"help": "share of the training images held out for validation (stratified)"}
    )
    split_seed: int = field(default=0, metadata={"help": "fixed, so changing `seed` keeps the same split"})
    normalize: bool = field(
        default=True, metadata={"help": "scale each channel by the training split's mean and std"}
    )
    flatten: bool = field(
        default=False, metadata={"help": "one feature vector per image instead of (channels, height, width)"}
    )
    limit: int | None = field(
        default=None, metadata={"help": "keep at most this many training and test images (stratified)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check(0 < self.val_fraction < 1, "val_fraction", self.val_fraction, "a fraction in (0, 1)")
        limit = self.limit
        check(limit is None or limit >= 20, "limit", limit, "an integer >= 20, or null")


@dataclass
class Cifar10Config(ImageSetConfig):
    verify: bool = field(
        default=True, metadata={"help": "check torchvision's md5 sums; false for files you wrote yourself"}
    )


def _root(cfg: ImageSetConfig) -> Path:
    return Path(cfg.root).expanduser() if cfg.root else default_cache_dir() / "data"


def _open(cls: Any, cfg: ImageSetConfig, option: str, name: str, where: Path,
          files: tuple[str, ...]) -> tuple:
    """torchvision's train and test sets, or one DataError that says how to get the files."""
    root = _root(cfg)
    try:
        return cls(str(root), train=True, download=cfg.download), cls(str(root), train=False)
    except (RuntimeError, OSError) as error:
        if cfg.download:
            raise DataError(
                f"Downloading {name} into {root} failed ({first_line(error)}). Check the internet "
                f"connection, or put the files {', '.join(files)} in {where} by hand."
            ) from error
        raise DataError(
            f"{name} files not found (or corrupted) in {where}: it must hold {', '.join(files)}. "
            f"Put them there, or download them once with `nnx data={option} data.download=true` "
            f" (data.root={root})."
        ) from error


def _subset(y: Any, size: int | None, seed: int) -> Any:
    """Indices of a stratified subset of ``size`` samples (all of them when ``size`` is None)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    if size is None or size >= len(y):
        return index
    return train_test_split(index, train_size=size, stratify=y, random_state=seed)[0]


def _splits(images: Any, labels: Any, test_images: Any, test_labels: Any, cfg: ImageSetConfig,
            classes: list[str]) -> Splits:
    """uint8 images ``(N, C, H, W)`` -> normalised float tensors, split train/val/test;
    ``classes`` are the class names in label order."""
    import torch
    from sklearn.model_selection import train_test_split

    from nnx.data import DataSpec, Splits
    from nnx.data.images import channel_stats

    keep = _subset(labels, cfg.limit, cfg.split_seed)
    train_index, val_index = train_test_split(
        keep, test_size=cfg.val_fraction, stratify=labels[keep], random_state=cfg.split_seed
    )
    test_keep = _subset(test_labels, cfg.limit, cfg.split_seed)
    images, test_images = torch.as_tensor(images), torch.as_tensor(test_images)
    parts = [(images[train_index], labels[train_index]), (images[val_index], labels[val_index]),
             (test_images[test_keep], test_labels[test_keep])]
    mean, std = channel_stats(parts[0][0]) if cfg.normalize else (torch.zeros(()), torch.tensor(255.0))
    xs = [x.float() for x, _ in parts]
    for x in xs:  # in place: one pass over each split, no copies
        x.sub_(mean).div_(std)
    if cfg.flatten:
        xs = [x.flatten(1) for x in xs]
    ys = [torch.as_tensor(y, dtype=torch.long) for _, y in parts]
    tensors = list(zip(xs, ys, strict=True))
    spec = DataSpec(
        input_shape=tuple(xs[0].shape[1:]), task="classification", num_classes=len(classes),
        kind="table" if cfg.flatten else "image", class_names=tuple(classes),
    )
    pixels = images.shape[2] * images.shape[3]  # per-channel stats, laid out as the samples are
    channels = images.shape[1]
    mean_c = mean.flatten().expand(channels).tolist() if mean.numel() == 1 else mean.flatten().tolist()
    std_c = std.flatten().expand(channels).tolist() if std.numel() == 1 else std.flatten().tolist()
    record = {"input": "array", "shape": list(spec.input_shape),
              "mean": [m for m in mean_c for _ in range(pixels)] if cfg.flatten else mean_c,
              "std": [v for v in std_c for _ in range(pixels)] if cfg.flatten else std_c}
    return Splits(*tensors, spec=spec, preprocessing=record)


def _mnist_like(class_name: str, option: str, name: str, cfg: ImageSetConfig) -> Splits:
    import numpy as np
    import torchvision.datasets

    from nnx.data.files import MNIST_FILES

    cls = getattr(torchvision.datasets, class_name)
    train, test = _open(cls, cfg, option, name, _root(cfg) / class_name / "raw", MNIST_FILES)
    return _splits(
        train.data.unsqueeze(1), np.asarray(train.targets), test.data.unsqueeze(1),
        np.asarray(test.targets), cfg, classes=list(train.classes),
    )


@register_dataset(ImageSetConfig)
def mnist(cfg: ImageSetConfig) -> Splits:
    """MNIST handwritten digits (60k/10k 28x28), via torchvision; download on request."""
    return _mnist_like("MNIST", "mnist", "MNIST", cfg)


@register_dataset(ImageSetConfig)
def fashion_mnist(cfg: ImageSetConfig) -> Splits:
    """Fashion-MNIST clothing images (60k/10k 28x28), via torchvision; download on request."""
    return _mnist_like("FashionMNIST", "fashion_mnist", "Fashion-MNIST", cfg)


@register_dataset(Cifar10Config)
def cifar10(cfg: Cifar10Config) -> Splits:
    """CIFAR-10 colour images (50k/10k 3x32x32, 10 classes) via torchvision; download on request."""
    import numpy as np
    import torchvision.datasets

    from nnx.data.files import CIFAR10_FILES

    cls = torchvision.datasets.CIFAR10
    if not cfg.verify:  # torchvision's own class, with its md5 sums left out (existence only)
        cls = type("UnverifiedCIFAR10", (cls,), {
            "train_list": [[name, None] for name, _ in cls.train_list],
            "test_list": [[name, None] for name, _ in cls.test_list],
            "meta": {**cls.meta, "md5": None},
        })
    where = _root(cfg) / cls.base_folder
    train, test = _open(cls, cfg, "cifar10", "CIFAR-10", where, CIFAR10_FILES)
    images, test_images = (d.data.transpose(0, 3, 1, 2) for d in (train, test))  # NHWC -> NCHW
    labels, test_labels = np.asarray(train.targets), np.asarray(test.targets)
    return _splits(images, labels, test_images, test_labels, cfg, classes=list(train.classes))
