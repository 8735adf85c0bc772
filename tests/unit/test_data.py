"""Built-in data: splits, scaling, in-memory batching and the offline datasets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnx.config import to_dataclass
from nnx.data import IndexBatches, split_arrays, standardize
from nnx.registry import get_plugin


def _build(name: str, **overrides):
    plugin = get_plugin("data", name)
    return plugin(to_dataclass(overrides, plugin.config, "data"))


def test_split_is_stratified_and_reproducible() -> None:
    y = np.array([0] * 80 + [1] * 20)
    x = np.arange(len(y), dtype=np.float32)[:, None]
    val_fraction, test_fraction = 0.2, 0.2
    train, val, test = split_arrays(x, y, val_fraction, test_fraction, seed=0)
    assert sum(len(p[1]) for p in (train, val, test)) == len(y)
    assert len(val[1]) == pytest.approx(val_fraction * len(y), abs=1)
    assert len(test[1]) == pytest.approx(test_fraction * len(y), abs=1)
    assert all(p[1].mean() == pytest.approx(0.2) for p in (train, val, test))
    again = split_arrays(x, y, 0.2, 0.2, seed=0)
    assert np.array_equal(train[0], again[0][0])


def test_standardize_uses_train_statistics_only() -> None:
    train, other = standardize(np.array([[0.0], [2.0]]), np.array([[4.0]]))
    assert train.ravel().tolist() == [-1.0, 1.0]
    assert other.ravel().tolist() == [3.0]


def test_batches_cover_every_sample_once_per_epoch() -> None:
    x, y = torch.arange(10.0)[:, None], torch.arange(10)
    batches = IndexBatches(x, y, 3, shuffle=True, fused=2, seed=0)
    epochs = []
    for _ in range(2):
        chunks = list(batches)
        assert len(chunks) == len(batches) == 2 and [len(c) for c in chunks] == [2, 2]
        seen = torch.cat([yb for chunk in chunks for _, yb in chunk])
        assert sorted(seen.tolist()) == list(range(10))
        epochs.append(seen.tolist())
    assert epochs[0] != epochs[1]


def test_whole_epoch_is_one_chunk_by_default() -> None:
    batches = IndexBatches(torch.zeros(130, 1), torch.zeros(130), 64, shuffle=False)
    assert len(batches) == 1 and [len(yb) for _, yb in next(iter(batches))] == [64, 64, 2]


def test_processes_get_disjoint_equal_shards() -> None:
    x, y = torch.arange(11.0)[:, None], torch.arange(11)
    shards = [
        torch.cat(
            [yb for c in IndexBatches(x, y, 2, shuffle=True, seed=3, rank=r, world_size=2) for _, yb in c]
        )
        for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1]) == 5
    assert not set(shards[0].tolist()) & set(shards[1].tolist())


def test_digits_are_images_scaled_to_unit_range() -> None:
    from sklearn.datasets import load_digits

    plugin = get_plugin("data", "digits")
    cfg = to_dataclass({}, plugin.config, "data")
    splits = plugin(cfg)
    x, y = splits.train
    assert x.shape[1:] == (1, 8, 8) and splits.spec.num_outputs == 10
    assert 0.0 <= x.min() and x.max() <= 1.0
    total = len(load_digits().target)  # every bundled image lands in exactly one split
    assert len(splits.train[1]) + len(splits.val[1]) + len(splits.test[1]) == total
    assert len(splits.val[1]) == pytest.approx(cfg.val_fraction * total, abs=1)
    assert len(splits.test[1]) == pytest.approx(cfg.test_fraction * total, abs=1)


@pytest.mark.parametrize(
    ("name", "features", "outputs"), [("iris", 4, 3), ("wine", 13, 3), ("breast_cancer", 30, 1)]
)
def test_tables_are_standardised_with_train_statistics(name: str, features: int, outputs: int) -> None:
    splits = _build(name)
    x = splits.train[0]
    assert x.shape[1:] == (features,) and splits.spec.num_outputs == outputs
    assert x.mean(0).abs().max() < 1e-4
    assert (x.std(0, unbiased=False) - 1).abs().max() < 1e-3


@pytest.mark.parametrize(("gate", "table"), [("logic_and", [0, 0, 0, 1]), ("logic_xor", [0, 1, 1, 0])])
def test_logic_gates(gate: str, table: list[int]) -> None:
    splits = _build(gate)
    assert splits.train[0].tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert splits.test[1].tolist() == table


def test_mnist1d_is_generated_then_cached(tmp_path) -> None:
    from mnist1d.data import get_dataset_args

    splits = _build("mnist1d", cache_dir=str(tmp_path))
    assert (tmp_path / "mnist1d.npz").exists()
    args = get_dataset_args()  # the published set: its own train/test cut of num_samples
    n_train = int(args.num_samples * args.train_split)
    assert splits.train[0].shape[1:] == (1, 40)
    assert len(splits.test[1]) == args.num_samples - n_train
    assert len(splits.train[1]) + len(splits.val[1]) == n_train
    val_fraction = get_plugin("data", "mnist1d").config.val_fraction
    assert len(splits.val[1]) == pytest.approx(val_fraction * n_train, abs=1)
    again = _build("mnist1d", cache_dir=str(tmp_path))
    assert torch.equal(again.test[0], splits.test[0])


def test_a_training_split_with_one_class_is_refused() -> None:
    import re

    from nnx.data.spec import DataSpec, Splits
    from nnx.data.splits import check_learnable
    from nnx.errors import DataError

    x = torch.zeros(3, 2)
    spec = DataSpec((2,), "classification", num_classes=2)
    one = Splits((x, torch.tensor([1, 1, 1])), (x, torch.tensor([0, 1, 1])), (x, torch.tensor([0, 1, 1])),
                 spec, {"classes": ["no", "yes"]})
    with pytest.raises(DataError, match=re.escape("Data 'd': every training sample has the class 'yes'")):
        check_learnable(one, "d")
    check_learnable(Splits(one.val, one.val, one.val, spec), "d")  # two classes: fine


def test_class_names_reach_the_spec_from_the_recorded_preprocessing() -> None:
    splits = _build("iris")
    assert splits.spec.class_names == ("setosa", "versicolor", "virginica")
    assert splits.spec.labels == list(splits.preprocessing["classes"])
    unnamed = _build("logic_xor")  # named "0", "1" by its plugin
    assert unnamed.spec.labels == ["0", "1"]
