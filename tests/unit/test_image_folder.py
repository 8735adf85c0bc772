"""data=image_folder on folders written here: layouts, splits, caches, augmentation, bad input."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from nnx.config import to_dataclass
from nnx.data.augment import batch_pipeline
from nnx.data.augmented import AugmentedImages
from nnx.data.batches import IndexBatches
from nnx.data.files import write_image_folder
from nnx.data.splits import fold_splits
from nnx.data.streaming import StreamBatches, is_stream
from nnx.errors import ConfigValueError, DataError
from nnx.models.predictor import Predictor, read_input
from nnx.registry import get_plugin
from nnx.training.evaluation import dataset_inputs


def build(path, **overrides):
    plugin = get_plugin("data", "image_folder")
    return plugin(to_dataclass({"path": str(path), "workers": 0, **overrides}, plugin.config, "data"))


@pytest.fixture
def folder(tmp_path):
    """3 classes x 10 images: PNG and JPEG, grey and RGB, 12 and 16 pixels wide."""
    return write_image_folder(tmp_path / "images", 10, sizes=(12, 16))


def test_class_folders_give_named_stratified_splits(folder) -> None:
    splits = build(folder, image_size=[8])
    assert splits.spec.class_names == ("cat", "dog", "fox") and splits.spec.kind == "image"
    assert splits.spec.input_shape == (3, 8, 8)  # some images are RGB: 3 channels
    assert [len(s[1]) for s in (splits.train, splits.val, splits.test)] == [20, 5, 5]
    assert sorted(torch.bincount(splits.train[1]).tolist()) == [6, 7, 7]  # stratified
    x = splits.train[0]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32  # in memory: the fast path
    assert abs(float(x.mean())) < 0.2  # normalised by (a sample of) the training split
    record = splits.preprocessing
    assert record["classes"] == ["cat", "dog", "fox"] and record["size"] == [8, 8]
    assert build(folder, channels=1, image_size=[6, 10]).spec.input_shape == (1, 6, 10)


def test_index_csv_and_split_subfolders(folder, tmp_path) -> None:
    rows = [(f"{c}/{f.name}", c.upper()) for c in ("cat", "dog") for f in sorted((folder / c).iterdir())]
    pd.DataFrame(rows, columns=["path", "label"]).to_csv(folder / "labels.csv", index=False)
    indexed = build(folder, index="labels.csv", image_size=[8])
    assert indexed.spec.class_names == ("CAT", "DOG")
    assert sum(len(s[1]) for s in (indexed.train, indexed.val, indexed.test)) == 20
    split_root = tmp_path / "split"
    for split, count in (("train", 6), ("test", 3)):
        write_image_folder(split_root / split, count, classes=("a", "b"), seed=count)
    splits = build(split_root, image_size=[8])
    # test/ fixes the test split; val is cut from train/ (stratified).
    assert len(splits.test[1]) == 6 and len(splits.train[1]) + len(splits.val[1]) == 12
    assert all(f.startswith(str(split_root / "test")) for f in
               build(split_root, image_size=[8], cache="none").test[0].files)


def _first_epoch(splits, batch_size=8):
    x, y = splits.train
    batches = (StreamBatches(x, batch_size, "cpu", shuffle=True, seed=3) if is_stream(x)
               else IndexBatches(x, y, batch_size, shuffle=True, fused=1, seed=3))
    return [b for chunk in batches for b in chunk]


def test_cache_modes_give_identical_first_epoch_batches(folder, tmp_path) -> None:
    memory = _first_epoch(build(folder, image_size=[8]))
    none = _first_epoch(build(folder, image_size=[8], cache="none"))
    disk_splits = build(folder, image_size=[8], cache="disk", cache_dir=str(tmp_path / "c"), workers=2)
    disk = _first_epoch(disk_splits)
    assert disk_splits.train[0].cache.filled.all()  # the workers filled the shared cache
    again = _first_epoch(build(folder, image_size=[8], cache="disk", cache_dir=str(tmp_path / "c")))
    for other in (none, disk, again):
        assert len(other) == len(memory)
        for (xa, ya), (xb, yb) in zip(memory, other, strict=True):
            assert torch.equal(ya, yb) and torch.allclose(xa, xb)


def test_augmentation_trains_only_is_recorded_and_predicts_deterministically(folder) -> None:
    augment = [{"horizontal_flip": {"p": 1.0}}, {"center_crop": [6, 6]}]
    splits = build(folder, image_size=[8], augment=augment, normalize="none", cache="none")
    assert splits.spec.input_shape == (3, 6, 6) and splits.preprocessing["augment"] == augment
    train, val = splits.train[0], splits.val[0]
    assert is_stream(train) and is_stream(val)
    raw = train.decoded(0)[:, 1:7, 1:7]
    assert torch.equal(train[0][0], raw.flip(-1))  # flipped (p=1), cropped
    assert torch.equal(val[0][0], val.decoded(0)[:, 1:7, 1:7])  # cropped, never flipped
    # In memory: decoded once, the training batches augmented in the training process.
    memory = build(folder, image_size=[8], augment=augment, normalize="none")
    resident = memory.train[0]
    assert isinstance(resident, AugmentedImages) and resident.shape == (20, 3, 6, 6)
    assert torch.allclose(resident[torch.tensor([0])][0] * 255, raw.flip(-1).float())
    assert torch.allclose(memory.val[0][0] * 255, val[0][0].float())  # a tensor: never flipped
    # nnx-predict and the pyfunc apply the deterministic part to image files.
    predictor = Predictor(torch.nn.Flatten(), splits.spec, splits.preprocessing)
    inputs, _ = predictor.encode(read_input(val.files[0]))
    assert np.allclose(inputs[0], val[0][0].numpy() / 255.0)


def test_batch_augmentation_draws_each_sample_apart() -> None:
    torch.manual_seed(0)
    images = torch.arange(2 * 4 * 4, dtype=torch.uint8).view(1, 2, 4, 4).repeat(64, 1, 1, 1)
    flipped = batch_pipeline(["horizontal_flip", "vertical_flip"], (4, 4))(images)
    variants = {tuple(x.flatten().tolist()) for x in flipped}
    expected = {tuple(images[0].flip(d).flatten().tolist()) for d in ((), (-1,), (-2,), (-1, -2))}
    assert variants == expected  # all four combinations of the two flips in one batch
    rotated = batch_pipeline([{"rotation": 180}], (4, 4))(images)  # sample by sample
    assert rotated.shape == images.shape and len({tuple(x.flatten().tolist()) for x in rotated}) > 1


def test_augmented_images_train_through_index_batches_on_their_device(folder) -> None:
    splits = build(folder, image_size=[8], augment=["horizontal_flip"]).to("cpu")
    x, y = splits.train
    assert isinstance(x, AugmentedImages) and x.device.type == "cpu"
    batches = [b for chunk in IndexBatches(x, y, 8, shuffle=True, seed=3) for b in chunk]
    assert [len(b[1]) for b in batches] == [8, 8, 4] and all(b[0].dtype == torch.float32 for b in batches)
    with pytest.raises(DataError, match="augmented batch by batch"):
        fold_splits(splits, 2, 0)
    recipe = SimpleNamespace(data=SimpleNamespace(plugin=SimpleNamespace(name="image_folder")))
    train = dataset_inputs(recipe, splits)[0]  # what MLflow records: the float inputs' schema
    assert train["context"] == "train" and "float32" in train["schema"]
    assert json.loads(train["profile"])["features_shape"] == [20, 3, 8, 8]


@pytest.mark.parametrize("case, message", [
    ("missing", "not found"),
    ("empty", "holds no class folders"),
    ("one_class", "holds one class ('cat')"),
    ("class_without_images", "Class 'dog' of"),
    ("not_an_image", "is not an image (cannot identify image file"),
    ("augment_typo", "Did you mean 'horizontal_flip'"),
    ("augment_arguments", "torchvision.transforms.v2.RandomRotation"),
])
def test_bad_folders_fail_in_one_line(tmp_path, case, message) -> None:
    root = tmp_path / "images"
    root.mkdir()
    overrides: dict = {}
    if case == "missing":
        root = tmp_path / "nowhere"
    if case in ("one_class", "class_without_images", "not_an_image", "augment_typo", "augment_arguments"):
        write_image_folder(root, 6, classes=("cat",) if case == "one_class" else ("cat", "dog"))
    if case == "class_without_images":
        for file in (root / "dog").iterdir():
            file.unlink()
        (root / "dog" / ".hidden").write_text("")
    if case == "not_an_image":
        (root / "dog" / "notes.png").write_text("not pixels")
    if case == "augment_typo":
        overrides["augment"] = ["horizontal_flp"]
    if case == "augment_arguments":
        overrides["augment"] = [{"rotation": {"degree": 3}}]
    with pytest.raises((DataError, ConfigValueError), match=re.escape(message)) as caught:
        build(root, **overrides)
    assert "\n" not in str(caught.value)


def test_bad_images_can_be_skipped_with_a_count(tmp_path, caplog) -> None:
    root = write_image_folder(tmp_path / "images", 4, classes=("cat", "dog"))
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    splits = build(root, on_bad_image="skip")
    assert sum(len(s[1]) for s in (splits.train, splits.val, splits.test)) == 8
    assert "skipped 1 files that are not images" in caplog.text
