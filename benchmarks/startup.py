"""Whole-process times of the CLI's fast paths, against a bare `python -c pass`.

Targets: `nnx --help`, `nnx-plugins` and an unknown-plugin error each finish in <= 1 s.

    python benchmarks/startup.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "nnx --help": [str(BIN / "nnx"), "--help"],
    "nnx-plugins": [str(BIN / "nnx-plugins")],
    "nnx-plugins mlp": [str(BIN / "nnx-plugins"), "mlp"],
    "nnx model=nope (error)": [str(BIN / "nnx"), "model=nope"],
    "nnx model.hiden=3 (error)": [str(BIN / "nnx"), "model.hiden=3"],
}


def best_time(command: list[str], repeat: int, cwd: str) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, cwd=cwd, check=False)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cwd:
        results = {name: best_time(cmd, args.repeat, cwd) for name, cmd in COMMANDS.items()}
    base = results["python -c pass"]
    print(f"{'command':<28}{'seconds':>9}{'vs python':>11}  target")
    for name, seconds in results.items():
        target = "" if name.startswith("python") else ("<= 1 s ok" if seconds <= 1 else "<= 1 s MISSED")
        print(f"{name:<28}{seconds:>9.3f}{seconds / base:>10.1f}x  {target}")


if __name__ == "__main__":
    main()
