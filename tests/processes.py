"""A real `nnx` process a test talks to: start it, read its output until a line, interrupt it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def start_nnx(args: list[str], cwd: Path) -> subprocess.Popen:
    """``nnx *args`` in ``cwd``, stdout and stderr merged into one text pipe."""
    return subprocess.Popen([str(BIN / "nnx"), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(proc: subprocess.Popen, prefix: str, count: int = 1) -> list[str]:
    """Read ``proc``'s output until ``count`` lines started with ``prefix``; the lines read."""
    seen: list[str] = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(prefix):
            count -= 1
            if count == 0:
                return seen
    raise AssertionError("".join(seen))


def interrupt_after(proc: subprocess.Popen, prefix: str, timeout: float = 120) -> str:
    """Ctrl-C ``proc`` once a line starts with ``prefix``; the rest of its output once it ended
    (it is killed if it has not, and the caller's returncode check fails)."""
    try:
        wait_for(proc, prefix)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    return out
