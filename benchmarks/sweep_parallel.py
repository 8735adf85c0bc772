"""An 8-trial sweep run sequentially (Hydra's basic launcher) and with joblib on 2 workers.

Target: joblib with 2 jobs >= 1.7x faster than sequential on 2 cores. Both sweeps run the
same 8 trials through the real `nnx -m` CLI into one SQLite store (the joblib trials write
to it concurrently); the ratio is of whole-command wall times, process start included.

    python benchmarks/sweep_parallel.py [--epochs 30] [--data digits] [--control]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
TRIALS = ["optimizer.lr=0.001,0.002,0.003,0.004", "model.hidden=[64],[128]"]  # 4 x 2 = 8


def sweep(launcher: list[str], args: argparse.Namespace, store: Path, cwd: str,
          env: dict[str, str] | None = None) -> float:
    command = [str(BIN / "nnx"), "-m", *TRIALS, *launcher, f"data={args.data}",
               f"trainer.max_epochs={args.epochs}", "trainer.progress=false",
               "trainer.accelerator=cpu", f"tracking.uri=sqlite:///{store}",
               f"tracking.experiment=bench-{len(launcher)}-{bool(env)}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "8 finished" not in done.stdout:
        sys.exit(f"sweep failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30, help="epochs per trial")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--control", action="store_true",
                        help="also time the sequential sweep with torch on 1 thread")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "mlflow.db"
        from mlflow import MlflowClient

        MlflowClient(f"sqlite:///{store}").search_experiments()  # migrations, outside the timing
        sequential = sweep([], args, store, tmp)
        parallel = sweep(["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], args, store, tmp)
        one_thread = sweep([], args, store, tmp, {"OMP_NUM_THREADS": "1"}) if args.control else 0.0
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}")
    print(f"8 trials, {args.data}, {args.epochs} epochs each")
    print(f"sequential (basic launcher):  {sequential:6.1f} s")
    print(f"joblib, 2 jobs:               {parallel:6.1f} s")
    print(f"speed-up: {sequential / parallel:.2f}x (target >= 1.7x)")
    if args.control:  # joblib's workers run torch with 1 thread each; the basic launcher with 2
        print(f"control: sequential, 1 torch thread: {one_thread:6.1f} s "
              f"(joblib speed-up over it: {one_thread / parallel:.2f}x)")


if __name__ == "__main__":
    main()
