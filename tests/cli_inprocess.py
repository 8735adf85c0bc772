"""Run the `nnx` console entry point in this process, as a user would type it.

Like Lightning's CLI tests: patch ``sys.argv``, call the entry point, catch ``SystemExit``.
It saves a Python start and Lightning import (seconds) per case while still checking what
the user sees: the exit code and the printed message.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from nnx.cli import app


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, cwd: Path
) -> Outcome:
    """``nnx *args`` in ``cwd``; returns the exit code (0 when it returned) and its output."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["nnx", *args])
    code = 0
    try:
        app.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)
