"""Fit-time cost of nnx's training path against a hand-written loop and two Lightning users.

Same model (MLP 64-100-100-10), data (sklearn digits, nnx's split, the same in-memory
tensors), optimizer (Adam 1e-3), 20 epochs, batch 64, validation every epoch, CPU:

- hand-written loop: randperm + index slicing, no framework (the baseline of the ratios);
- textbook Lightning: TensorDataset + DataLoader + a default Trainer;
- tuned Lightning: what a careful Lightning user writes: an in-memory iterable of index
  batches and a Trainer without checkpointing, logger, progress bar or model summary;
- nnx with ``tracking=none`` (its fit window: what nnx adds to the loop).

All ways run in this one process and are reported as ratios to the hand-written loop and to
tuned Lightning (best of ``--repeat`` runs each). What MLflow tracking costs is measured on
whole processes, where its writes happen: ``benchmarks/tracking_overhead.py``.

    python benchmarks/loop_overhead.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import pytorch_lightning as pl
import torch
from hydra import compose, initialize_config_module
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnx.config import to_dataclass
from nnx.registry import get_plugin
from nnx.training.pipeline import run

EPOCHS, BATCH = 20, 64


def _model() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 10)
    )


def raw_loop(splits) -> float:
    (x, y), (xv, yv) = splits.train, splits.val
    model, loss_fn = _model(), nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(x)).split(BATCH):
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            (model(xv).argmax(1) == yv).float().mean().item()
    return time.perf_counter() - start


class _Textbook(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model, self.loss_fn = _model(), nn.CrossEntropyLoss()

    def training_step(self, batch, _):
        loss = self.loss_fn(self.model(batch[0]), batch[1])
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, _):
        self.log("val_acc", (self.model(batch[0]).argmax(1) == batch[1]).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), 1e-3)


def textbook_lightning(splits, root: str) -> float:
    train = DataLoader(TensorDataset(*splits.train), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(*splits.val), batch_size=BATCH)
    trainer = pl.Trainer(max_epochs=EPOCHS, accelerator="cpu", default_root_dir=root)
    start = time.perf_counter()
    trainer.fit(_Textbook(), train, val)
    return time.perf_counter() - start


class _InMemoryBatches:
    """A fresh random order each epoch, batches sliced from the tensors: no collation."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, shuffle: bool) -> None:
        self.x, self.y, self.shuffle = x, y, shuffle

    def __len__(self) -> int:
        return -(-len(self.y) // BATCH)

    def __iter__(self):
        order = torch.randperm(len(self.y)) if self.shuffle else torch.arange(len(self.y))
        for idx in order.split(BATCH):
            yield self.x[idx], self.y[idx]


def tuned_lightning(splits, root: str) -> float:
    trainer = pl.Trainer(
        max_epochs=EPOCHS, accelerator="cpu", default_root_dir=root, enable_checkpointing=False,
        logger=False, enable_progress_bar=False, enable_model_summary=False,
    )
    train, val = _InMemoryBatches(*splits.train, shuffle=True), _InMemoryBatches(*splits.val, shuffle=False)
    start = time.perf_counter()
    trainer.fit(_Textbook(), train, val)
    return time.perf_counter() - start


def nnx_fit(overrides: list[str], root: str) -> float:
    with initialize_config_module("nnx_conf", version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[f"output_dir={root}", "trainer.progress=false", "trainer.accelerator=cpu", *overrides],
        )
    return run(cfg)[1]["fit_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    digits = get_plugin("data", "digits")
    splits = digits(to_dataclass({}, digits.config, "data"))
    with tempfile.TemporaryDirectory() as root:
        ways = {
            "hand-written loop": lambda: raw_loop(splits),
            "textbook Lightning": lambda: textbook_lightning(splits, root),
            "tuned Lightning": lambda: tuned_lightning(splits, root),
            "nnx (tracking=none)": lambda: nnx_fit(["tracking=none"], root),
        }
        best = {name: min(way() for _ in range(args.repeat)) for name, way in ways.items()}
    base, tuned = best["hand-written loop"], best["tuned Lightning"]
    print(f"{'way':<24}{'fit s':>8}{'vs raw':>9}{'vs tuned PL':>13}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds:>8.3f}{seconds / base:>8.2f}x{seconds / tuned:>12.2f}x")
    nnx = best["nnx (tracking=none)"]
    print(f"\nnnx vs raw loop: {nnx / base:.2f}x (target <= 1.5x)")
    print(f"nnx vs tuned Lightning: {nnx / tuned:.2f}x (what nnx adds over a careful Lightning user)")
    print(f"nnx vs textbook Lightning: {nnx / best['textbook Lightning']:.2f}x")
    print("MLflow tracking's cost, on whole processes: python benchmarks/tracking_overhead.py")

if __name__ == "__main__":
    main()
