"""What MLflow tracking costs whole `nnx` processes: one run, and an 8-trial grid sweep.

Targets (issue 11, item 7), as ratios of whole-process wall times measured in this one run:
- `nnx -m optimizer.lr=0.001,...,0.008` tracked (SQLite store) <= 1.25x the same with
  `tracking=none`;
- one default `nnx` run tracked <= 1.15x `nnx tracking=none`, and <= 1.3x a hand-written
  PyTorch loop process doing the same training (sklearn digits, MLP 64-100-100-10, Adam 1e-3,
  20 epochs, batch 64, validation every epoch, test at the end; imports only torch, numpy
  and sklearn: `python benchmarks/tracking_overhead.py --loop`).

Every variant is a whole process, start to exit, as a user waits for it (MLflow's work
happens around the fit: opening the store, params, metrics, figures, the model, ending the
run). The variants alternate within each round (a noisy shared machine drifts; alternating keeps
the drift out of the ratios) and each reports the median over rounds. The store is created
(migrated) before any timing, as it is after a user's first run.

    python benchmarks/tracking_overhead.py [--rounds 5] [--only single|sweep] [--compare-to DIR]

``--compare-to DIR`` also times the tracked variants of another nnx source tree (its ``nnx``
package put first on ``PYTHONPATH``, e.g. ``git worktree add /tmp/before <commit>``), in the
same rounds: before and after under the same load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMON = ["trainer.progress=false", "trainer.accelerator=cpu"]
GRID = "optimizer.lr=" + ",".join(f"0.00{i}" for i in range(1, 9))
EPOCHS, BATCH = 20, 64


def hand_written_loop() -> None:
    """The same training as a default `nnx` run, as plain PyTorch (this process is timed)."""
    import numpy as np
    import sklearn.datasets
    import torch
    from torch import nn

    torch.manual_seed(42)
    x, y = sklearn.datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(x))
    x = torch.tensor(x[order] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[order])
    n_val = n_test = int(0.15 * len(x))
    xt, yt = x[n_val + n_test :], y[n_val + n_test :]
    xv, yv, xs, ys = x[:n_val], y[:n_val], x[n_val : n_val + n_test], y[n_val : n_val + n_test]
    model = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                          nn.Linear(100, 10))
    loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    for epoch in range(EPOCHS):
        model.train()
        for idx in torch.randperm(len(xt)).split(BATCH):
            opt.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(xv)
            print(f"epoch {epoch + 1}: val/loss {loss_fn(out, yv).item():.4f} "
                  f"val/acc {(out.argmax(1) == yv).float().mean().item():.4f}")
    with torch.no_grad():
        print(f"test/acc {(model(xs).argmax(1) == ys).float().mean().item():.4f}")


def timed(command: list[str], cwd: str, expect: str | None = None,
          env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **env} if env else None)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or (expect and expect not in done.stdout):
        sys.exit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["single", "sweep"])
    parser.add_argument("--loop", action="store_true", help="run the hand-written loop and exit")
    parser.add_argument("--compare-to", metavar="DIR",
                        help="also time the tracked variants of the nnx source tree in DIR")
    args = parser.parse_args()
    if args.loop:
        hand_written_loop()
        return
    nnx = str(BIN / "nnx")
    with tempfile.TemporaryDirectory() as cwd:
        store = [f"tracking.uri=sqlite:///{cwd}/mlflow.db"]
        # Create and migrate the store, and the experiment, outside the timings (a user's
        # first run does it once per store; reported apart).
        first = timed([nnx, *COMMON, *store], cwd)
        variants: dict[str, list[str]] = {}
        if args.only != "sweep":
            variants |= {
                "hand-written loop": [sys.executable, __file__, "--loop"],
                "nnx tracking=none": [nnx, *COMMON, "tracking=none"],
                "nnx (tracked)": [nnx, *COMMON, *store],
            }
        if args.only != "single":
            variants |= {
                "8-trial grid, tracking=none": [nnx, "-m", GRID, *COMMON, "tracking=none"],
                "8-trial grid (tracked)": [nnx, "-m", GRID, *COMMON, *store],
            }
        envs: dict[str, dict[str, str]] = {}
        if args.compare_to:
            before = {"PYTHONPATH": str(Path(args.compare_to).resolve())}
            # The other tree's own entry point (its console script may differ from this one's).
            script = [sys.executable, "-c", "import sys; from nnx.cli.app import main; main()"]
            for name in [n for n in variants if n.endswith("(tracked)")]:
                variants[f"{name[:-9]}(tracked, before)"] = [*script, *variants[name][1:]]
                envs[f"{name[:-9]}(tracked, before)"] = before
        times: dict[str, list[float]] = {name: [] for name in variants}
        for round_ in range(args.rounds):
            names = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in names:
                expect = "8 finished" if "grid" in name else None
                times[name].append(timed(variants[name], cwd, expect, envs.get(name)))
    median = {name: statistics.median(values) for name, values in times.items()}
    best = {name: min(values) for name, values in times.items()}
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  rounds: {args.rounds}")
    print(f"{'variant':<34}{'median s':>9}{'best s':>8}   all")
    for name, values in times.items():
        print(f"{name:<34}{median[name]:>9.2f}{best[name]:>8.2f}   "
              f"{' '.join(f'{v:.2f}' for v in values)}")
    print("ratios of medians (of best runs in brackets; other load only adds time):")
    _ratios(median, best, args)
    print(f"first run on a new store (creates and migrates it): {first:.2f} s")


def _ratios(median: dict[str, float], best: dict[str, float], args: argparse.Namespace) -> None:
    def ratio(a: str, b: str) -> str:
        return f"{median[a] / median[b]:.2f}x ({best[a] / best[b]:.2f}x)"

    if args.only != "sweep":
        print(f"one run, tracked / untracked: {ratio('nnx (tracked)', 'nnx tracking=none')} "
              "(target <= 1.15x)")
        print(f"one run, tracked / hand loop: {ratio('nnx (tracked)', 'hand-written loop')} "
              "(target <= 1.3x)")
        print(f"one run, untracked / hand loop: {ratio('nnx tracking=none', 'hand-written loop')}")
    if args.only != "single":
        print("8-trial grid, tracked / untracked: "
              f"{ratio('8-trial grid (tracked)', '8-trial grid, tracking=none')} (target <= 1.25x)")
    for name in [n for n in median if n.endswith("(tracked, before)")]:
        untracked = "nnx tracking=none" if name.startswith("nnx") else "8-trial grid, tracking=none"
        print(f"before: {name} / untracked: {ratio(name, untracked)}")
        if name.startswith("nnx"):
            print(f"before: {name} / hand loop: {ratio(name, 'hand-written loop')}")


if __name__ == "__main__":
    main()
