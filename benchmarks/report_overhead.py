"""What the evaluation report costs a whole tracked `nnx` process.

Target (issue 17, item 4): the report adds <= 0.2 s to a tracked run's wall time (its figures
are drawn by the tracking writer while the run ends, as the learning curves are). Each case
is one default-sized tracked run (SQLite store) with ``eval.report=true`` and the same run
with ``eval.report=false``, whole processes; the two alternate within each round (a noisy
shared machine drifts) and the added time is the median of the paired differences. Nothing
of the report happens before the training starts (its frames are sent just before), while the
imports before it swing a whole process by a second from run to run, so the target is read
on the time from the ``training for`` line to the exit; the whole process is printed too. The
store is created before any timing.

A loaded machine makes whole-process times swing by seconds, so the work itself is also
timed in CPU seconds (``--cpu``, independent of other load): making the report's numbers
(the training process) and drawing its figures to PNG as the writer does, for outputs of the
cases' test-split sizes, after the writer's warm-up: whole, and in the writer's two steps
(a classifier's frames while the run trains, finished at its end).

    python benchmarks/report_overhead.py [--rounds 5] [--cases digits,breast_cancer,regression]
    python benchmarks/report_overhead.py --cpu

Cases: ``digits`` (the default run: 10 classes), ``breast_cancer`` (binary, threshold
tuned) and ``regression`` (a CSV table written here, ``data.task=regression``).
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

import numpy as np

BIN = Path(sys.executable).parent
COMMON = ["trainer.progress=false", "trainer.accelerator=cpu"]


def _cases(folder: Path) -> dict[str, list[str]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1500, 8))
    table = "\n".join(",".join(f"{v:.5f}" for v in row) for row in
                      np.c_[x, x @ rng.normal(size=8) + rng.normal(0, 0.3, 1500)])
    (folder / "regression.csv").write_text(",".join([*(f"x{i}" for i in range(8)), "y"]) + "\n" + table)
    return {"digits": [],
            "breast_cancer": ["data=breast_cancer", "eval.threshold=tuned"],
            "regression": ["data=csv", f"data.path={folder / 'regression.csv'}", "data.target=y",
                           "data.task=regression"]}


def cpu_cost(repeats: int = 9) -> None:
    """CPU seconds of the report's numbers and of its figures (PNG as the writer writes them):
    a classifier's figure frames are drawn while the run trains, and finished at its end."""
    import io

    import torch

    from nnx.data.spec import DataSpec
    from nnx.tracking import figures
    from nnx.training.report import build_report, frame_keys

    figures.warm_up()
    torch.manual_seed(0)
    digits, cancer, values = torch.randint(0, 10, (270,)), torch.randint(0, 2, (86,)), torch.randn(225)
    one_hot = torch.nn.functional.one_hot(digits, 10)
    cases = {  # the test-split sizes of the default runs; a model right about 9 times in 10
        "digits (270 x 10 classes)": (DataSpec((64,), "classification", 10),
                                      4 * one_hot + torch.randn(270, 10), digits),
        "breast_cancer (86, binary)": (DataSpec((30,), "classification", 2),
                                       (6 * cancer - 3 + 2 * torch.randn(86)).view(-1, 1), cancer),
        "regression (225 values)": (DataSpec((8,), "regression"), values + 0.3 * torch.randn(225), values),
    }
    print(f"{'case':<30}{'numbers':>9}{'figures whole':>15}{'frames (training)':>19}{'at the end':>12}"
          "   CPU s")
    for name, (spec, out, y) in cases.items():
        times: dict[str, list[float]] = {"numbers": [], "whole": [], "frames": [], "end": []}
        for _ in range(repeats):
            started = time.process_time()
            report = build_report(out, y, spec, {})
            times["numbers"].append(time.process_time() - started)
            started = time.process_time()
            for plot, data in report.plots.values():
                figures.render(plot, data, io.BytesIO())
            times["whole"].append(time.process_time() - started)
            started = time.process_time()
            frames = {(plot, key): figures.draw_frame(plot, key) for plot, key in frame_keys(spec, {})}
            times["frames"].append(time.process_time() - started)
            started = time.process_time()
            for plot, data in report.plots.values():
                frame = frames.pop((plot, figures.frame_key(plot, data)), None)
                figures.render(plot, data, io.BytesIO(), frame)
            times["end"].append(time.process_time() - started)
        median = {key: statistics.median(value) for key, value in times.items()}
        print(f"{name:<30}{median['numbers']:>9.3f}{median['whole']:>15.3f}{median['frames']:>19.3f}"
              f"{median['end']:>12.3f}")


def timed(command: list[str], cwd: str) -> tuple[float, float]:
    """Seconds of the whole process, and from its ``training for`` line (the training's start,
    printed as it begins) to its exit."""
    started = time.perf_counter()
    training, lines = None, []
    with subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        for line in process.stdout:
            lines.append(line)
            if training is None and line.startswith("training "):
                training = time.perf_counter()
    ended = time.perf_counter()
    if process.returncode != 0 or training is None:
        sys.exit(f"failed: {' '.join(command)}\n{''.join(lines)[-3000:]}")
    return ended - started, ended - training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default="digits,breast_cancer,regression")
    parser.add_argument("--cpu", action="store_true", help="time the work in CPU seconds and exit")
    args = parser.parse_args()
    if args.cpu:
        cpu_cost()
        return
    nnx = str(BIN / "nnx")
    with tempfile.TemporaryDirectory() as cwd:
        cases = {name: data for name, data in _cases(Path(cwd)).items() if name in args.cases.split(",")}
        store = f"tracking.uri=sqlite:///{cwd}/mlflow.db"
        timed([nnx, *COMMON, store, "trainer.max_epochs=1"], cwd)  # creates and migrates the store
        times = {(name, report): [] for name in cases for report in (True, False)}
        for round_ in range(args.rounds):
            for name, data in cases.items():
                order = (True, False) if round_ % 2 == 0 else (False, True)
                for report in order:
                    command = [nnx, *COMMON, store, *data, f"eval.report={str(report).lower()}"]
                    times[(name, report)].append(timed(command, cwd))
                    whole, training = times[(name, report)][-1]
                    print(f"round {round_ + 1} {name} report={report}: {whole:.2f} s, {training:.2f} s "
                          "from the training's start", flush=True)
    print(f"cores: {os.cpu_count()}  load average: {os.getloadavg()[0]:.1f}  rounds: {args.rounds}")
    for part, label in ((1, "from the training's start to exit (what the report can touch)"),
                        (0, "whole process (the imports before the training swing by a second)")):
        print(f"\n{label}")
        print(f"{'case':<16}{'report on s':>12}{'off s':>8}{'added s':>9}{'ratio':>7}   paired differences")
        for name in cases:
            on, off = ([t[part] for t in times[(name, report)]] for report in (True, False))
            added = [a - b for a, b in zip(on, off, strict=True)]
            print(f"{name:<16}{statistics.median(on):>12.2f}{statistics.median(off):>8.2f}"
                  f"{statistics.median(added):>9.2f}{statistics.median(on) / statistics.median(off):>7.3f}   "
                  + " ".join(f"{d:+.2f}" for d in added))
    print("target: the report adds <= 0.2 s (median of the paired differences from the training's start)")


if __name__ == "__main__":
    main()
