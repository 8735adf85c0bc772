"""Fit-time cost of the default metrics against an accuracy-only run, in one process.

Two models, each trained by nnx with ``tracking=none`` on the CPU:

- the digits MLP (64-100-100-10, 20 epochs, batch 64): a tiny model whose epoch takes a few
  milliseconds, so any per-epoch metric work shows;
- the MNIST-1D CNN of ``experiment=mnist1d_cnn``, cut to ``--cnn-epochs`` epochs.

Each is fitted with ``metrics=[acc]`` (the loss and accuracy: what every classifier logged
before metrics were plugins) and with ``metrics=auto`` (acc, macro f1, precision, recall each
epoch; auroc on the test split), alternating, best of ``--repeat`` fits each, on one torch
thread. The ratio is the default metrics' cost (target <= 1.10x), in the fit's wall time and
in its CPU time (``time.process_time`` around ``Trainer.fit``), which a busy machine skews less.

    python benchmarks/metrics_overhead.py [--repeat 3] [--cnn-epochs 10]
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

from nnx.training.pipeline import run

_CPU: list[float] = []
_FIT = pl.Trainer.fit


def _timed_fit(self: pl.Trainer, *args: object, **kwargs: object) -> None:
    started = time.process_time()
    _FIT(self, *args, **kwargs)
    _CPU.append(time.process_time() - started)


def fit_seconds(overrides: list[str], root: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one fit."""
    with initialize_config_module("nnx_conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"output_dir={root}", "tracking=none", "trainer.progress=false",
                                          "trainer.accelerator=cpu", *overrides])
    return run(cfg)[1]["fit_seconds"], _CPU[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cnn-epochs", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    torch.set_num_threads(1)
    pl.Trainer.fit = _timed_fit
    models = {
        "digits MLP, 20 epochs": ["data=digits", "model=mlp", "trainer.max_epochs=20"],
        f"MNIST-1D CNN, {args.cnn_epochs} epochs": ["experiment=mnist1d_cnn",
                                                    f"trainer.max_epochs={args.cnn_epochs}"],
    }
    head = ("model", "[acc] s", "auto s", "ratio", "[acc] cpu", "auto cpu", "ratio")
    print(f"{head[0]:<26}" + "".join(f"{h:>10}" for h in head[1:]))
    with tempfile.TemporaryDirectory() as root:
        for name, overrides in models.items():
            fit_seconds(overrides, root)  # warm-up: imports, data generation and caches
            wall = {"[acc]": float("inf"), "auto": float("inf")}
            cpu = dict(wall)
            for _ in range(args.repeat):
                for way in wall:
                    seconds, used = fit_seconds([*overrides, f"metrics={way}"], root)
                    wall[way], cpu[way] = min(wall[way], seconds), min(cpu[way], used)
            cells = [wall["[acc]"], wall["auto"], wall["auto"] / wall["[acc]"],
                     cpu["[acc]"], cpu["auto"], cpu["auto"] / cpu["[acc]"]]
            print(f"{name:<26}" + "".join(f"{c:>10.3f}" for c in cells) + "  (target: ratios <= 1.10)")


if __name__ == "__main__":
    main()
