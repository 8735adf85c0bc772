"""torchvision image sets read from files written here in the real formats (IDX, CIFAR pickles)."""

from __future__ import annotations

import re

import pytest
import torch

from nnx.config import to_dataclass
from nnx.data.files import write_cifar10, write_mnist
from nnx.errors import DataError
from nnx.registry import get_plugin


def build(name: str, **overrides):
    plugin = get_plugin("data", name)
    return plugin(to_dataclass(overrides, plugin.config, "data"))


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_like_sets_load_idx_files_through_torchvision(tmp_path, name, folder) -> None:
    write_mnist(tmp_path, n_train=200, n_test=50, folder=folder)
    splits = build(name, root=str(tmp_path), val_fraction=0.2)
    x, y = splits.train
    assert x.shape == (160, 1, 28, 28) and x.dtype == torch.float32
    assert splits.val[0].shape == (40, 1, 28, 28) and splits.test[0].shape == (50, 1, 28, 28)
    assert splits.spec.input_shape == (1, 28, 28) and splits.spec.kind == "image"
    assert splits.spec.num_classes == 10
    # The real class names, in the spec and in what the predictor is saved with.
    first = {"mnist": "0 - zero", "fashion_mnist": "T-shirt/top"}[name]
    assert splits.spec.class_names[0] == first and len(splits.spec.class_names) == 10
    assert splits.preprocessing["classes"] == list(splits.spec.class_names)
    # Normalised with the training split's statistics: mean 0, std 1 there.
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    # Stratified validation split: every class is there in equal share.
    assert torch.bincount(splits.val[1], minlength=10).tolist() == [4] * 10


def test_labels_match_the_files(tmp_path) -> None:
    import numpy as np

    raw = write_mnist(tmp_path, n_train=100, n_test=30)
    stored = np.frombuffer((raw / "t10k-labels-idx1-ubyte").read_bytes()[8:], dtype=np.uint8)
    splits = build("mnist", root=str(tmp_path), normalize=False)
    assert splits.test[1].tolist() == stored.tolist()
    assert 0.0 <= float(splits.test[0].min()) and float(splits.test[0].max()) <= 1.0


def test_flatten_and_limit(tmp_path) -> None:
    write_mnist(tmp_path, n_train=300, n_test=100)
    splits = build("mnist", root=str(tmp_path), flatten=True, limit=100, val_fraction=0.1)
    assert splits.train[0].shape == (90, 784) and splits.val[0].shape == (10, 784)
    assert splits.test[0].shape == (100, 784)
    assert splits.spec.input_shape == (784,) and splits.spec.kind == "table"
    assert torch.bincount(splits.train[1], minlength=10).tolist() == [9] * 10


def test_cifar10_loads_pickle_batches(tmp_path) -> None:
    write_cifar10(tmp_path, per_batch=20)
    splits = build("cifar10", root=str(tmp_path), verify=False, val_fraction=0.2)
    assert splits.train[0].shape == (80, 3, 32, 32) and splits.test[0].shape == (20, 3, 32, 32)
    assert splits.spec.labels[:2] == ["airplane", "automobile"]
    assert splits.spec.input_shape == (3, 32, 32)
    per_channel = splits.train[0].mean(dim=(0, 2, 3))
    assert per_channel.abs().max() < 1e-4


def test_cifar10_checks_md5_by_default(tmp_path) -> None:
    write_cifar10(tmp_path, per_batch=20)
    with pytest.raises(DataError, match="not found \\(or corrupted\\)"):
        build("cifar10", root=str(tmp_path))


@pytest.mark.parametrize(("name", "where"), [
    ("mnist", "MNIST/raw"),
    ("fashion_mnist", "FashionMNIST/raw"),
    ("cifar10", "cifar-10-batches-py"),
])
def test_missing_files_say_where_and_how_to_download(tmp_path, name, where) -> None:
    with pytest.raises(DataError) as caught:
        build(name, root=str(tmp_path))
    message = str(caught.value)
    assert str(tmp_path / where) in message
    assert f"`nnx data={name} data.download=true`" in message


def test_failed_download_names_the_folder(tmp_path, monkeypatch) -> None:
    import torchvision.datasets.mnist as tv_mnist

    # No network in tests: point the mirrors at a closed local port so the download fails fast.
    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(DataError, match=re.escape(f"Downloading MNIST into {tmp_path} failed")):
        build("mnist", root=str(tmp_path), download=True)



@pytest.mark.parametrize("flatten", [False, True])
def test_recorded_preprocessing_turns_raw_images_into_the_model_inputs(tmp_path, flatten) -> None:
    import numpy as np

    from nnx.data.transforms import encode_array

    raw = write_mnist(tmp_path, n_train=100, n_test=30)
    images = np.frombuffer((raw / "t10k-images-idx3-ubyte").read_bytes()[16:], dtype=np.uint8)
    splits = build("mnist", root=str(tmp_path), flatten=flatten)
    encoded = encode_array(images.reshape(30, 28, 28), splits.preprocessing)  # raw pixels 0..255
    assert np.allclose(encoded, splits.test[0].numpy(), atol=1e-5)
