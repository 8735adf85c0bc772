"""Fit-time cost of nnx's training path against a hand-written loop and textbook Lightning.

Same model (MLP 64-100-100-10), data (sklearn digits, nnx's split), optimizer (Adam 1e-3),
20 epochs, batch 64, validation every epoch, CPU. All ways run in this one process and
are reported as ratios to the hand-written loop (best of ``--repeat`` runs each). Also:
the fit time with MLflow tracking on vs off (target: <= 5% more).

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
        store = f"sqlite:///{root}/mlflow.db"
        nnx_fit([f"tracking.uri={store}", "trainer.max_epochs=1"], root)  # create the store once
        ways = {
            "hand-written loop": lambda: raw_loop(splits),
            "textbook Lightning": lambda: textbook_lightning(splits, root),
            "nnx (tracking=none)": lambda: nnx_fit(["tracking=none"], root),
            "nnx (MLflow tracking)": lambda: nnx_fit([f"tracking.uri={store}"], root),
        }
        best = {name: min(way() for _ in range(args.repeat)) for name, way in ways.items()}
    base = best["hand-written loop"]
    print(f"{'way':<24}{'fit s':>8}{'vs raw':>9}")
    for name, seconds in best.items():
        print(f"{name:<24}{seconds:>8.3f}{seconds / base:>8.2f}x")
    nnx = best["nnx (tracking=none)"]
    print(f"\nnnx vs raw loop: {nnx / base:.2f}x (target <= 1.5x)")
    print(f"textbook Lightning vs nnx: {best['textbook Lightning'] / nnx:.2f}x faster (target >= 2x)")
    print(f"MLflow tracking adds: {100 * (best['nnx (MLflow tracking)'] / nnx - 1):+.1f}% (target <= 5%)")


if __name__ == "__main__":
    main()
