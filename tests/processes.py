"""A real `nnx` process a test talks to: start it, read its output until a line, interrupt it,
see which of its processes are left."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

BIN = Path(sys.executable).parent


def start_nnx(args: list[str], cwd: Path) -> subprocess.Popen:
    """``nnx *args`` in ``cwd``, stdout and stderr merged into one text pipe."""
    return subprocess.Popen([str(BIN / "nnx"), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for(proc: subprocess.Popen, prefix: str, count: int = 1, timeout: float = 300) -> list[str]:
    """Read ``proc``'s output until ``count`` lines started with ``prefix``; the lines read.
    A process that prints none of them within ``timeout`` seconds is killed and the test fails
    with what it printed, instead of waiting for ever."""
    seen: list[str] = []
    deadline = threading.Timer(timeout, proc.kill)
    deadline.start()
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith(prefix):
                count -= 1
                if count == 0:
                    return seen
    finally:
        deadline.cancel()
    missing = f"no {count} more line(s) starting {prefix!r} within {timeout:.0f} s:\n"
    raise AssertionError(missing + "".join(seen))


class Drain:
    """Reads a process's output on a thread while the test waits for something else, so the
    process never blocks on a full pipe (64 KiB: a few seconds of epoch lines)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(proc.stdout), daemon=True)
        self._thread.start()

    def text(self, timeout: float = 30) -> str:
        """Everything read, once the output closed (or ``timeout`` passed)."""
        self._thread.join(timeout)
        return "".join(self.lines)


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


def process_tree(pid: int) -> list[psutil.Process]:
    """Process ``pid`` and every process below it, as they are now."""
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def alive(tree: list[psutil.Process]) -> list[int]:
    """The pids of ``tree`` still running (a zombie has ended)."""
    return [p.pid for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def stop_joblib_workers() -> None:
    """Ends the worker processes that joblib keeps in this process for its next call (idle for
    minutes, each holding Lightning and a tracking writer) and waits for them: a joblib sweep
    run in-process (`tests.cli_inprocess`) leaves them, a real `nnx` ends them when it exits."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)
