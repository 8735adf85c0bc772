"""Ctrl-C and SIGTERM stop training cleanly instead of killing it mid-write.

The first SIGINT or SIGTERM asks Lightning to stop when the current epoch ends (with its
validation and ``checkpoints/last.ckpt``, so a resumed run starts at the next epoch); the run
then raises `Interrupted` (exit code 130 or 143) and tracking marks it KILLED. A second
signal stops at once.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytorch_lightning as pl

__all__ = ["GracefulStop", "SIGNALS"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop(pl.Callback):
    """Records the first stop signal and sets ``trainer.should_stop`` when the epoch ends."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._trainer: pl.Trainer | None = None

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        self._trainer = trainer

    @contextlib.contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        """Catch the signals while the block runs (only the main thread can install handlers)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        if signum == signal.SIGTERM and self._trainer is not None:
            # Lightning's own SIGTERM handler (it runs just before this one) would abort the
            # epoch after the current step, losing it and its checkpoint; finish it instead.
            self._trainer._signal_connector.received_sigterm = False
        name = signal.Signals(signum).name
        print(f"nnx: {name} received: stopping after this epoch (again: stop at once)",
              file=sys.stderr, flush=True)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def on_train_epoch_end(self, trainer: pl.Trainer, *_args: Any) -> None:
        if self.signum is not None:
            trainer.should_stop = True
