"""The Python API against the commands, measured in one run.

1. A second `nnx.run` of the default experiment in a warm process against the `nnx` command
   as a whole process (target: >= 2x faster).
2. `predict` of the predictor `nnx.load(...)` returned, on 10,000 CSV rows, against the bare
   network's forward pass plus pandas parsing (target: <= 1.5x); `nnx.load` is timed apart
   (a model is loaded once and predicts many times).
3. A 4-trial search with ``tracking.register=NAME`` against the same search without it (target:
   registering the best trial adds <= 1 s).

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
from pathlib import Path

BIN = Path(sys.executable).parent
DEFAULT = ["trainer.progress=false"]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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


def predict_rows(repeat: int, rows: int = 10_000) -> tuple[float, float, float]:
    """Median seconds of `predict(read_csv)` on the predictor `nnx.load` returned, of read_csv +
    the bare forward pass, and of `nnx.load` itself (once per model, not per call)."""
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

    repeat *= 10  # milliseconds each: more calls for a steady median
    bare_s = statistics.median(_timed(bare) for _ in range(repeat))
    api_s = statistics.median(_timed(api) for _ in range(repeat))
    load_s = statistics.median(_timed(lambda: nnx.load(run.run_dir)) for _ in range(repeat))
    assert np.isfinite(api_s)
    return api_s, bare_s, load_s


def registration(repeat: int) -> tuple[float, float]:
    """Median seconds of a warm 4-trial search without and with ``tracking.register``."""
    import nnx

    search = ["hparams_search=mlp_optuna", "data=iris", "hydra.sweeper.n_trials=4", "trainer.max_epochs=3",
              *DEFAULT]
    plain, registered = [], []
    with contextlib.redirect_stdout(io.StringIO()):
        nnx.search(*search, "hydra.sweeper.study_name=warm")
        for i in range(repeat):
            plain.append(_timed(lambda i=i: nnx.search(*search, f"hydra.sweeper.study_name=plain{i}")))
            registered.append(_timed(lambda i=i: nnx.search(*search, f"hydra.sweeper.study_name=reg{i}",
                                                            "tracking.register=bench")))
    return statistics.median(plain), statistics.median(registered)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path.cwd()
    with tempfile.TemporaryDirectory() as cwd:
        os.chdir(cwd)
        os.symlink(root / "examples", "examples")
        process, warm = second_run(args.repeat)
        api_s, bare_s, load_s = predict_rows(args.repeat)
        plain, registered = registration(args.repeat)
    print(f"{'measure':<52}{'seconds':>9}{'ratio':>8}  target")
    print(f"{'nnx (whole process, default experiment)':<52}{process:>9.2f}")
    ok = "ok" if process / warm >= 2 else "MISSED"
    print(f"{'nnx.run, second call in the same process':<52}{warm:>9.2f}{process / warm:>7.1f}x  "
          f">= 2x faster {ok}")
    print(f"{'read_csv + bare forward pass, 10,000 rows':<52}{bare_s:>9.3f}")
    ok = "ok" if api_s / bare_s <= 1.5 else "MISSED"
    print(f"{'predictor.predict(read_csv), 10,000 rows':<52}{api_s:>9.3f}{api_s / bare_s:>7.2f}x  "
          f"<= 1.5x {ok}")
    print(f"{'predictor = nnx.load(run) (once per model)':<52}{load_s:>9.3f}")
    print(f"{'4-trial search':<52}{plain:>9.2f}")
    ok = "ok" if registered - plain <= 1 else "MISSED"
    print(f"{'4-trial search, tracking.register (its best trial)':<52}{registered:>9.2f}"
          f"{registered - plain:>+7.2f}s  <= +1 s {ok}")


if __name__ == "__main__":
    main()
