"""Fit-time cost of the default metrics against an accuracy-only run, in one process.

Two models, each trained by nnx with ``tracking=none`` on the CPU:

- the digits MLP (64-100-100-10, 20 epochs, batch 64): a tiny model whose epoch takes a few
  milliseconds, so any per-epoch metric work shows;
- the MNIST-1D CNN of ``experiment=mnist1d_cnn``, cut to ``--cnn-epochs`` epochs.

Each is fitted with ``metrics=[acc]`` (the loss and accuracy: what every classifier logged
before metrics were plugins) and with ``metrics=auto`` (acc, macro f1, precision, recall each
epoch; auroc on the test split), alternating, best of ``--repeat`` fits each. The ratio is
the default metrics' cost (target <= 1.10x).

    python benchmarks/metrics_overhead.py [--repeat 3] [--cnn-epochs 10]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import warnings

import torch
from hydra import compose, initialize_config_module

from nnx.training.pipeline import run


def fit_seconds(overrides: list[str], root: str) -> float:
    with initialize_config_module("nnx_conf", version_base="1.3"):
        cfg = compose("train", overrides=[f"output_dir={root}", "tracking=none", "trainer.progress=false",
                                          "trainer.accelerator=cpu", *overrides])
    return run(cfg)[1]["fit_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cnn-epochs", type=int, default=10)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.INFO)
    torch.set_num_threads(2)
    models = {
        "digits MLP, 20 epochs": ["data=digits", "model=mlp", "trainer.max_epochs=20"],
        f"MNIST-1D CNN, {args.cnn_epochs} epochs": ["experiment=mnist1d_cnn",
                                                    f"trainer.max_epochs={args.cnn_epochs}"],
    }
    print(f"{'model':<26}{'[acc] s':>9}{'auto s':>9}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as root:
        for name, overrides in models.items():
            fit_seconds(overrides, root)  # warm-up: imports, data generation and caches
            best = {"[acc]": float("inf"), "auto": float("inf")}
            for _ in range(args.repeat):
                for way in best:
                    best[way] = min(best[way], fit_seconds([*overrides, f"metrics={way}"], root))
            ratio = best["auto"] / best["[acc]"]
            print(f"{name:<26}{best['[acc]']:>9.3f}{best['auto']:>9.3f}{ratio:>7.2f}x  (target <= 1.10x)")


if __name__ == "__main__":
    main()
