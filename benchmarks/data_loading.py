"""Loading and batching MNIST-sized data: nnx's in-memory index batches vs textbook DataLoaders.

Writes 60,000 + 10,000 random 28x28 images in the real IDX format to a temp dir, then measures
in this one process, on CPU, batch 128, shuffled:

- time to first batch: from nothing in memory to the first training batch in hand;
- one epoch's batching cost: producing every training batch of an epoch (no model);
- both: loading plus the first epoch, what a one-epoch run pays.

Ways: ``data=mnist`` (torchvision reads the IDX files, nnx normalises once and slices an index
permutation: `IndexBatches`); the textbook torchvision pipeline (`MNIST` with `ToTensor` +
`Normalize` transforms, `DataLoader`); and a `DataLoader` over a `TensorDataset` of the same
in-memory tensors. Results are ratios to nnx (best of ``--repeat``).

    python benchmarks/data_loading.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch.utils.data import DataLoader, TensorDataset

from nnx.config import to_dataclass
from nnx.data import IndexBatches
from nnx.data.files import write_mnist
from nnx.registry import get_plugin

BATCH = 128


def _nnx_splits(root: Path):
    plugin = get_plugin("data", "mnist")
    return plugin(to_dataclass({"root": str(root), "batch_size": BATCH}, plugin.config, "data"))


def _first(batches: Iterable) -> None:
    next(iter(batches))


def _drain(batches: Iterable) -> int:
    return sum(1 for _ in batches)


def _best(measure: Callable[[], float], repeat: int) -> float:
    return min(measure() for _ in range(repeat))


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import torchvision
    from torchvision import transforms

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_mnist(root, n_train=60_000, n_test=10_000)
        splits = _nnx_splits(root)  # warm the file cache and imports once
        textbook_transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
        )

        def nnx_batches(s=None) -> IndexBatches:
            s = s or _nnx_splits(root)
            return IndexBatches(*s.train, BATCH, shuffle=True, fused=1)

        def torchvision_loader() -> DataLoader:
            data = torchvision.datasets.MNIST(str(root), train=True, transform=textbook_transform)
            return DataLoader(data, batch_size=BATCH, shuffle=True)

        def tensor_loader(s=None) -> DataLoader:
            s = s or _nnx_splits(root)
            return DataLoader(TensorDataset(*s.train), batch_size=BATCH, shuffle=True)

        first = {
            "nnx IndexBatches (data=mnist)": _best(lambda: _timed(lambda: _first(nnx_batches())),
                                                   args.repeat),
            "torchvision MNIST + DataLoader": _best(
                lambda: _timed(lambda: _first(torchvision_loader())), args.repeat),
            "TensorDataset + DataLoader": _best(lambda: _timed(lambda: _first(tensor_loader())),
                                                args.repeat),
        }
        ready_nnx, ready_tv, ready_td = nnx_batches(splits), torchvision_loader(), tensor_loader(splits)
        epoch = {
            "nnx IndexBatches (data=mnist)": _best(lambda: _timed(lambda: _drain(ready_nnx)),
                                                   args.repeat),
            "torchvision MNIST + DataLoader": _best(lambda: _timed(lambda: _drain(ready_tv)), 1),
            "TensorDataset + DataLoader": _best(lambda: _timed(lambda: _drain(ready_td)),
                                                args.repeat),
        }
    batches = len(ready_nnx)
    print(f"MNIST-sized IDX data: 60000 train images 28x28, batch {BATCH} ({batches} batches), "
          f"CPU, {torch.get_num_threads()} threads; best of {args.repeat}")
    print(f"{'way':32} {'first batch s':>13} {'x nnx':>6} {'epoch s':>8} {'x nnx':>6} "
          f"{'both s':>7} {'x nnx':>6}")
    nnx = "nnx IndexBatches (data=mnist)"
    for way in first:
        both = first[way] + epoch[way]
        print(f"{way:32} {first[way]:13.3f} {first[way] / first[nnx]:6.2f} "
              f"{epoch[way]:8.3f} {epoch[way] / epoch[nnx]:6.1f} "
              f"{both:7.3f} {both / (first[nnx] + epoch[nnx]):6.1f}")


if __name__ == "__main__":
    main()
