"""What MLflow tracking costs a whole run: `nnx` processes tracked (SQLite) vs ``tracking=none``.

MLflow's writes happen around the fit (opening the store, params, the metric history after
``trainer.fit`` returns, artifacts, the model, ending the run), so the figure is the wall
time of whole `nnx` processes, start to exit, as a user waits for them. The default run
(digits, MLP, 20 epochs) runs ``--repeat`` times each way, alternating tracked and untracked
so drift on a shared machine hits both alike; the medians and their ratio are printed.

The store is created by one run first (MLflow's migrations, seconds, happen once per store)
and reused, as a user's ``outputs/mlflow.db`` is; that first run is reported apart.

    python benchmarks/tracking_overhead.py [--repeat 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def nnx_process(args: list[str], cwd: Path) -> float:
    """Wall seconds of one `nnx` process, start to exit."""
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "nnx"), *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"nnx {' '.join(args)} failed:\n{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        common = [f"trainer.max_epochs={args.epochs}", "trainer.progress=false",
                  "trainer.accelerator=cpu"]
        ways = {
            "tracking=none": ["tracking=none"],
            "MLflow (SQLite store)": [f"tracking.uri=sqlite:///{root / 'mlflow.db'}",
                                      "tracking.experiment=bench"],
        }
        first = nnx_process([*common, *ways["MLflow (SQLite store)"],
                             f"hydra.run.dir={root / 'first'}"], root)
        times: dict[str, list[float]] = {name: [] for name in ways}
        for i in range(args.repeat):
            for name, extra in ways.items():  # alternating: none, tracked, none, tracked...
                run_dir = root / f"run-{i}-{len(extra)}"
                times[name].append(nnx_process([*common, *extra, f"hydra.run.dir={run_dir}"], root))
    base = statistics.median(times["tracking=none"])
    print(f"whole `nnx` processes, {args.epochs} epochs of the default run, median of {args.repeat}")
    print(f"{'way':<24}{'median s':>10}{'min s':>8}{'max s':>8}{'vs none':>10}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:<24}{median:>10.2f}{min(seconds):>8.2f}{max(seconds):>8.2f}{median / base:>9.2f}x")
    tracked = statistics.median(times["MLflow (SQLite store)"])
    print(f"\nMLflow tracking adds {tracked - base:.2f} s per run: {100 * (tracked / base - 1):+.0f}% "
          "of a whole run")
    print(f"first run on a new store (creates it): {first:.2f} s ({first / base:.2f}x)")


if __name__ == "__main__":
    main()
