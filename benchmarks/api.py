"""The Python API against the commands, measured in one run.

1. A second `nnx.run` of the default experiment in a warm process against the `nnx` command
   as a whole process (target: >= 2x faster).
2. `predict(pd.read_csv(...))` of the predictor `nnx.load(...)` returned (parsing, the run's
   preprocessing, the forward pass, the output table), on 10,000 CSV rows, against pandas
   parsing plus the bare network's forward pass and softmax (target: <= 1.5x); `nnx.load` is
   timed apart (a model is loaded once and predicts many times).
3. A 4-trial search with ``tracking.register=NAME`` against the same search without it (target:
   registering the best trial adds <= 1 s).

What is compared takes turns (one call of each, again and again), so that both see the same
load; medians of wall-clock seconds, and of this process's CPU seconds (its threads included,
not the tracking writer's process), both printed.

    python benchmarks/api.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BIN = Path(sys.executable).parent
DEFAULT = ["trainer.progress=false"]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _taking_turns(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall-clock and CPU seconds of each of ``calls``, called in turn ``repeat`` times."""
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in calls}


def second_run(repeat: int) -> tuple[float, float]:
    """Median seconds of the `nnx` process and of a warm `nnx.run` (the default experiment)."""
    import nnx

    command = [str(BIN / "nnx"), *DEFAULT]
    process = statistics.median(
        _timed(lambda: subprocess.run(command, capture_output=True, check=True)) for _ in range(repeat))
    with contextlib.redirect_stdout(io.StringIO()):
        nnx.run(*DEFAULT)  # the first call imports and starts the tracking writer
        warm = statistics.median(_timed(lambda: nnx.run(*DEFAULT)) for _ in range(repeat))
    return process, warm


def predict_rows(repeat: int, rows: int = 10_000) -> tuple[dict[str, tuple[float, float]], float]:
    """Median seconds (wall, CPU) of `predict(read_csv)` on the predictor `nnx.load` returned
    (``api``) and of read_csv + the bare forward pass (``bare``), taking turns; and of
    `nnx.load` itself (once per model, not per call)."""
    import numpy as np
    import pandas as pd
    import torch

    import nnx

    data = Path("examples/data/churn.csv").resolve()
    with contextlib.redirect_stdout(io.StringIO()):
        run = nnx.run("experiment=churn_mlp", "trainer.max_epochs=1", "tracking=none", *DEFAULT)
    frame = pd.read_csv(data)
    big = Path("rows.csv")
    pd.concat([frame] * (rows // len(frame) + 1)).head(rows).to_csv(big, index=False)
    predictor = nnx.load(run.run_dir)
    x = torch.from_numpy(predictor.encode(pd.read_csv(big))[0])

    def bare() -> None:
        pd.read_csv(big)
        with torch.no_grad():
            torch.softmax(predictor.model(x), dim=-1).numpy()

    def api() -> None:
        predictor.predict(pd.read_csv(big))

    repeat *= 100  # milliseconds each: hundreds of calls for a steady median
    both = _taking_turns({"bare": bare, "api": api}, repeat)
    load_s = statistics.median(_timed(lambda: nnx.load(run.run_dir)) for _ in range(repeat))
    assert np.isfinite(both["api"][0])
    return both, load_s


def registration(repeat: int) -> dict[str, tuple[float, float]]:
    """Median seconds (wall, CPU) of a warm 4-trial search without (``plain``) and with
    ``tracking.register`` (``registered``), taking turns; each search is a new study."""
    import nnx

    search = ["hparams_search=mlp_optuna", "data=iris", "hydra.sweeper.n_trials=4", "trainer.max_epochs=3",
              *DEFAULT]
    turns = 2 * repeat  # whole searches swing by about a second here: more turns, a steadier median
    studies = iter(range(2 * turns))
    with contextlib.redirect_stdout(io.StringIO()):
        nnx.search(*search, "hydra.sweeper.study_name=warm")
        return _taking_turns({
            "plain": lambda: nnx.search(*search, f"hydra.sweeper.study_name=plain{next(studies)}"),
            "registered": lambda: nnx.search(*search, f"hydra.sweeper.study_name=reg{next(studies)}",
                                             "tracking.register=bench"),
        }, turns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path.cwd()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        os.symlink(root / "examples", "examples")
        process, warm = second_run(args.repeat)
        predicted, load_s = predict_rows(args.repeat)
        searched = registration(args.repeat)
    print(f"{'measure':<52}{'seconds':>9}{'ratio':>8}  target")
    print(f"{'nnx (whole process, default experiment)':<52}{process:>9.2f}")
    ok = "ok" if process / warm >= 2 else "MISSED"
    print(f"{'nnx.run, second call in the same process':<52}{warm:>9.2f}{process / warm:>7.1f}x  "
          f">= 2x faster {ok}")
    (bare_s, bare_cpu), (api_s, api_cpu) = predicted["bare"], predicted["api"]
    print(f"{'read_csv + bare forward pass, 10,000 rows':<52}{bare_s:>9.4f}  (CPU {bare_cpu:.4f} s)")
    ok = "ok" if api_s / bare_s <= 1.5 else "MISSED"
    print(f"{'predictor.predict(read_csv), 10,000 rows':<52}{api_s:>9.4f}{api_s / bare_s:>7.2f}x  "
          f"<= 1.5x {ok}  (CPU {api_cpu:.4f} s, {api_cpu / bare_cpu:.2f}x)")
    print(f"{'predictor = nnx.load(run) (once per model)':<52}{load_s:>9.3f}")
    (plain, plain_cpu), (registered, registered_cpu) = searched["plain"], searched["registered"]
    print(f"{'4-trial search':<52}{plain:>9.2f}  (CPU {plain_cpu:.2f} s)")
    ok = "ok" if registered - plain <= 1 else "MISSED"
    print(f"{'4-trial search, tracking.register (its best trial)':<52}{registered:>9.2f}"
          f"{registered - plain:>+7.2f}s  <= +1 s {ok}  (CPU {registered_cpu:.2f} s, "
          f"{registered_cpu - plain_cpu:+.2f} s)")


if __name__ == "__main__":
    main()
