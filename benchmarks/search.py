"""Searches through the real `nnx` CLI: 2 workers vs 1, and the median pruner vs none.

Targets (issue 11), each ratio measured in one run of this script:
- workers (issue 20): a 16-trial TPE study on digits with 2 workers on 1 torch thread each
  runs >= 1.6x the trials per minute of 1 worker on 1 torch thread;
- pruning: a 24-trial TPE study of the MNIST-1D CNN (30 epochs) with the median pruner
  reaches a best val/acc within 1 point of the same study without pruning in <= 60% of its
  wall time.

    python benchmarks/search.py workers [--trials 16] [--epochs 20]
    python benchmarks/search.py pruning [--trials 24] [--epochs 30]

Each study gets a fresh store, created (and migrated) before the timing, as after a user's
first run; times are whole commands, process start included.
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


def trial_timing(cwd: Path) -> tuple[float, float]:
    """(trials finished per second once every worker has finished its first trial, which
    carries the process's imports: how fast the workers run trials, startup left out;
    seconds from the first trial's start to the last trial's end)."""
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
    window = end - min(t.datetime_start.timestamp() for t in trials)
    return (len(later) / (end - start) if later else float("nan")), window


def search(args: list[str], cwd: Path) -> tuple[float, float, str, float, float]:
    """(wall seconds, best value, the study's counts line, and `trial_timing`'s two) of one
    `nnx` search."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{cwd / 'mlflow.db'}"
    MlflowClient(uri).search_experiments()  # creates and migrates the store: once per store, untimed
    command = [str(BIN / "nnx"), *args, "trainer.progress=false", "trainer.accelerator=cpu",
               f"tracking.uri={uri}"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"search failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    [results] = cwd.glob("outputs/multiruns/*/*/optimization_results.yaml")
    counts = [line for line in done.stdout.splitlines() if line.startswith("study '")][-1]
    return elapsed, float(OmegaConf.load(results).best_value), counts, *trial_timing(cwd)


def workers(args: argparse.Namespace) -> None:
    """1 worker and 2 workers, torch on 1 thread each (issue 20's target): trials per minute
    over the whole command, and once every worker has finished its first trial."""
    common = ["hparams_search=mlp_optuna", f"hydra.sweeper.n_trials={args.trials}", "data=digits",
              f"trainer.max_epochs={args.epochs}", "hydra.sweeper.torch_threads=1"]
    found = {}
    for jobs in args.order:
        with tempfile.TemporaryDirectory() as tmp:
            found[jobs] = search([*common, f"hydra.sweeper.n_jobs={jobs}"], Path(tmp))
        wall, best, counts, steady, _ = found[jobs]
        print(f"n_jobs={jobs}: {wall:6.1f} s = {60 * args.trials / wall:.0f} trials/min  best val/loss "
              f"{best:.4f}  {counts.split(': ', 1)[1]}; {60 * steady:.0f} trials/min after each "
              f"worker's first (load average now {os.getloadavg()[0]:.1f})", flush=True)
    print(f"2 workers vs 1, 1 torch thread each: {found[1][0] / found[2][0]:.2f}x the trials per minute "
          f"over the whole command (target >= 1.6x); {found[2][3] / found[1][3]:.2f}x after each "
          "worker's first trial")
    wall, window = found[1][0], found[1][4]  # the 1-worker command: what a second worker can halve
    print(f"over the whole command at most {wall / (wall - window / 2):.2f}x: {wall - window:.1f} s of the "
          f"1-worker command is outside its trials (start, imports, the end), which 2 workers pay too")


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
    parser.add_argument("--order", type=int, nargs=2, default=(1, 2), help="workers: which n_jobs first")
    args = parser.parse_args()
    args.trials = args.trials or (16 if args.what == "workers" else 24)
    args.epochs = args.epochs or (20 if args.what == "workers" else 30)
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  "
          f"{args.what}: {args.trials} trials x {args.epochs} epochs", flush=True)
    workers(args) if args.what == "workers" else pruning(args)


if __name__ == "__main__":
    main()
