"""Searches through the real `nnx` CLI: 2 workers vs 1, and the median pruner vs none.

Targets (issue 11), each ratio measured in one run of this script:
- workers: a 16-trial TPE study on digits with ``n_jobs=2`` is >= 1.6x faster than with 1,
  with a best value within noise;
- pruning: a 24-trial TPE study of the MNIST-1D CNN (30 epochs) with the median pruner
  reaches a best val/acc within 1 point of the same study without pruning in <= 60% of its
  wall time.

    python benchmarks/search.py workers [--trials 16] [--epochs 20]
    python benchmarks/search.py pruning [--trials 24] [--epochs 30]

Each study gets a fresh store; times are whole commands, process start included.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from omegaconf import OmegaConf

BIN = Path(sys.executable).parent


def steady_rate(cwd: Path) -> float:
    """Trials finished per second once every worker has finished its first trial (which
    carries the process's imports): how fast the workers run trials, startup left out."""
    import optuna
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(cwd / "optuna.journal")))
    [name] = optuna.get_all_study_names(storage)
    trials = optuna.load_study(study_name=name, storage=storage).trials
    firsts: dict[object, float] = {}
    for trial in sorted(trials, key=lambda t: t.datetime_complete):
        firsts.setdefault(trial.user_attrs.get("nnx.pid"), trial.datetime_complete.timestamp())
    start = max(firsts.values())
    later = [t for t in trials if t.datetime_complete.timestamp() > start]
    end = max(t.datetime_complete.timestamp() for t in trials)
    return len(later) / (end - start) if later else float("nan")


def search(args: list[str], cwd: Path) -> tuple[float, float, str, float]:
    """(wall seconds, best value, the study's counts line, `steady_rate`) of one `nnx` search."""
    command = [str(BIN / "nnx"), *args, "trainer.progress=false", "trainer.accelerator=cpu",
               f"tracking.uri=sqlite:///{cwd / 'mlflow.db'}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"search failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    [results] = cwd.glob("outputs/multiruns/*/*/optimization_results.yaml")
    counts = [line for line in done.stdout.splitlines() if line.startswith("study '")][-1]
    return elapsed, float(OmegaConf.load(results).best_value), counts, steady_rate(cwd)


def workers(args: argparse.Namespace) -> None:
    common = ["hparams_search=mlp_optuna", f"hydra.sweeper.n_trials={args.trials}", "data=digits",
              f"trainer.max_epochs={args.epochs}"]
    times = {}
    for jobs in args.order:
        with tempfile.TemporaryDirectory() as tmp:
            times[jobs] = search([*common, f"hydra.sweeper.n_jobs={jobs}"], Path(tmp))
            print(f"n_jobs={jobs}: {times[jobs][0]:6.1f} s  best val/loss {times[jobs][1]:.4f}  "
                  f"{times[jobs][2].split(': ', 1)[1]}; {60 * times[jobs][3]:.0f} trials/min "
                  "after each worker's first", flush=True)
    print(f"speed-up with 2 workers: {times[1][0] / times[2][0]:.2f}x (target >= 1.6x); "
          f"trials/min after the first: {times[2][3] / times[1][3]:.2f}x")
    if args.control:  # the 2 workers run torch on 1 thread each; 1 worker on all cores
        with tempfile.TemporaryDirectory() as tmp:
            one = search([*common, "hydra.sweeper.n_jobs=1", "hydra.sweeper.torch_threads=1"], Path(tmp))
        print(f"control: n_jobs=1 with 1 torch thread: {one[0]:6.1f} s  best val/loss {one[1]:.4f}; "
              f"speed-up against it: {one[0] / times[2][0]:.2f}x; trials/min after the first: "
              f"{times[2][3] / one[3]:.2f}x")


def pruning(args: argparse.Namespace) -> None:
    common = ["hparams_search=cnn_optuna", f"hydra.sweeper.n_trials={args.trials}",
              f"trainer.max_epochs={args.epochs}", "optimized_metric=val/acc",
              "hydra.sweeper.direction=maximize"]
    times = {}
    for pruner in ("none", "median"):
        extra = [f"hydra/sweeper/pruner={pruner}"]
        if pruner == "median":
            extra += [f"hydra.sweeper.pruner.n_startup_trials={args.startup}",
                      f"hydra.sweeper.pruner.n_warmup_steps={args.warmup}"]
        with tempfile.TemporaryDirectory() as tmp:
            times[pruner] = search([*common, *extra], Path(tmp))
            print(f"pruner={pruner:6s} {times[pruner][0]:7.1f} s  best val/acc {times[pruner][1]:.4f}  "
                  f"{times[pruner][2].split(': ', 1)[1]}", flush=True)
    ratio = times["median"][0] / times["none"][0]
    gap = 100 * (times["none"][1] - times["median"][1])
    print(f"median pruner: {ratio:.0%} of the wall time (target <= 60%), best val/acc "
          f"{gap:+.1f} points below no pruning (target <= 1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("workers", "pruning"))
    parser.add_argument("--trials", type=int, help="default: 16 (workers), 24 (pruning)")
    parser.add_argument("--epochs", type=int, help="default: 20 (workers), 30 (pruning)")
    parser.add_argument("--warmup", type=int, default=5, help="median pruner: epochs never pruned")
    parser.add_argument("--startup", type=int, default=5, help="median pruner: trials never pruned")
    parser.add_argument("--control", action="store_true",
                        help="workers: also 1 worker with torch on 1 thread")
    parser.add_argument("--order", type=int, nargs=2, default=(1, 2), help="workers: which n_jobs first")
    args = parser.parse_args()
    args.trials = args.trials or (16 if args.what == "workers" else 24)
    args.epochs = args.epochs or (20 if args.what == "workers" else 30)
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  "
          f"{args.what}: {args.trials} trials x {args.epochs} epochs", flush=True)
    workers(args) if args.what == "workers" else pruning(args)


if __name__ == "__main__":
    main()
