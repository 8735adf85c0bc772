"""The progress line each epoch prints (`nnx.training.callbacks.EpochReport`)."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest
import torch

from nnx.tracking.tracker import Tracker
from nnx.training.callbacks import EpochReport


class _Pipe(io.StringIO):
    """A stdout that is not a terminal and records each write (an unbuffered pipe: one
    write is one system call, which the lines of other processes cannot split)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def isatty(self) -> bool:
        return False


def test_an_epoch_line_is_one_write_so_parallel_workers_never_tear_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = _Pipe()
    monkeypatch.setattr(sys, "stdout", pipe)
    report = EpochReport(Tracker(), progress=True)
    metrics = {"train/loss": torch.tensor(0.5), "val/acc": torch.tensor(0.25), "test/acc": torch.tensor(1.0)}
    trainer = SimpleNamespace(global_rank=0, current_epoch=0, max_epochs=3, callback_metrics=metrics)
    report.on_train_epoch_end(trainer, None)
    assert [w for w in pipe.writes if w] == ["epoch 1/3  train/loss 0.5  val/acc 0.25\n"]
