"""Run the `nnx` console entry point in this process, as a user would type it.

Like Lightning's CLI tests: patch ``sys.argv``, call the entry point, catch ``SystemExit``.
It saves a Python start and Lightning import (seconds) per case while still checking what
the user sees: the exit code and the printed message.

Its tracking writes in this process too (the writer's ``inline`` mode, with MLflow already
imported here): a writer process would spawn and import MLflow again, 3-5 s of CPU per
command. Only this process writes inline; a process it starts or forks (a submitit job, a
search worker, a DDP rank) starts its own writer process, as under a real `nnx`. The writer
process itself is checked by the tests that run `nnx` as a process and by
tests/e2e/test_tracking_writer.py (``writer="process"``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from nnx.cli import app
from nnx.tracking import writer as writes
from nnx.tracking.store import Store


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, cwd: Path,
    writer: Literal["inline", "process"] = "inline",
) -> Outcome:
    """``nnx *args`` in ``cwd``; returns the exit code (0 when it returned) and its output.
    ``writer="process"``: its tracking writer is a process of its own, as in a real `nnx`."""
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["nnx", *args])
    if writer == "inline":
        _write_inline_here(monkeypatch)
    code = 0
    try:
        app.main()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def write_inline(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """The runs this test starts itself (`nnx.training.pipeline.run` or ``main`` on a composed
    config) write their tracking in this process, as `run_cli`'s commands do: no writer
    process to spawn (a Python start, MLflow's import and the store's opening: ~2 CPU-s). Its
    writers are closed when the test ends, as a command closes them, so no later test gets an
    inline writer it did not ask for."""
    _write_inline_here(monkeypatch)
    request.addfinalizer(writes.close)


def _write_inline_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's writer for a store is an inline one (`nnx.tracking.writer.writer`);
    in any other process, such as a forked worker, the writer is what nnx makes."""
    here, make = os.getpid(), writes.writer

    def writer(store: Store) -> writes.Writer:
        if os.getpid() == here and store.uri not in writes._writers:
            writes._writers[store.uri] = writes.Writer(store, inline=True)
        return make(store)

    monkeypatch.setattr(writes, "writer", writer)
