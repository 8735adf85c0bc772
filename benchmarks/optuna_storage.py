"""Which file should hold a study by default: Optuna's RDB storage on SQLite or its journal file?

`python benchmarks/optuna_storage.py [--workers 4] [--trials 20] [--steps 10]` runs the same
load in both: each worker process asks for a trial, reports ``steps`` intermediate values
(as a pruned search does every epoch), asks the pruner, and tells the result, until the
study holds ``workers * trials`` trials. Prints the wall time, the storage operations per
second, and the errors (SQLite's "database is locked") for each, and the ratio.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path


def _storage(kind: str, path: Path):
    import optuna

    if kind == "sqlite":
        return optuna.storages.RDBStorage(f"sqlite:///{path}.db")
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(f"{path}.journal"))


def _work(kind: str, path: Path, trials: int, steps: int, seed: int, errors) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.load_study(study_name="bench", storage=_storage(kind, path),
                              sampler=optuna.samplers.TPESampler(seed=seed),
                              pruner=optuna.pruners.MedianPruner())
    for _ in range(trials):
        try:
            trial = study.ask()
            x = trial.suggest_float("x", -5, 5)
            for step in range(steps):
                trial.report((x - 1) ** 2 + 1 / (step + 1), step)
                trial.should_prune()
            study.tell(trial, (x - 1) ** 2)
        except Exception as error:  # noqa: BLE001  counted, not hidden
            with errors.get_lock():
                errors.value += 1
            print(f"{kind}: {type(error).__name__}: {str(error)[:80]}")


def measure(kind: str, workers: int, trials: int, steps: int) -> tuple[float, int]:
    import optuna

    folder = Path(tempfile.mkdtemp())
    path = folder / "study"
    optuna.create_study(study_name="bench", storage=_storage(kind, path))
    errors = mp.get_context("spawn").Value("i", 0)
    procs = [mp.get_context("spawn").Process(target=_work, args=(kind, path, trials, steps, i, errors))
             for i in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return time.perf_counter() - started, errors.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    ops = args.workers * args.trials * (3 + 2 * args.steps)
    results = {}
    for kind in ("sqlite", "journal"):
        seconds, errors = measure(kind, args.workers, args.trials, args.steps)
        results[kind] = seconds
        print(f"{kind:8s} {seconds:6.2f} s  {ops / seconds:7.0f} ops/s  errors {errors}")
    print(f"journal / sqlite wall time: {results['journal'] / results['sqlite']:.2f}x")


if __name__ == "__main__":
    main()
