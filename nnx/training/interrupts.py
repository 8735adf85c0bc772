"""Ctrl-C and SIGTERM stop training cleanly instead of killing it mid-write.

The first SIGINT or SIGTERM asks Lightning to stop when the current epoch ends (with its
validation and ``checkpoints/last.ckpt``, so a resumed run starts at the next epoch); the run
then raises `Interrupted` (exit code 130 or 143) and tracking marks it KILLED. A second
signal stops at once: after the current batch, not in the middle of a store write. A third
gets the handlers that were there before nnx (Python's KeyboardInterrupt, or termination),
for a process stuck outside the training loop.

The signal handler itself only records the signal. Everything else (the message, stopping)
happens in the callback hooks, at batch and epoch boundaries, where no checkpoint or tracker
write is under way; an exception raised inside a handler would land wherever the main thread
happens to be, e.g. halfway through sending a chunk of metrics.
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
    """Records stop signals; ends the epoch after the first, the batch after the second.

    Called once per fused chunk of batches it is still right (``fused_safe``): a second signal
    then stops after the chunk.
    """

    fused_safe = True  # see nnx.training.hooks

    def __init__(self) -> None:
        self.signum: int | None = None  # the first signal received
        self.received = 0  # how many signals (a second one means: stop at once)
        self._announced = False
        self.cut_short: str | None = None  # what a second signal interrupted (training, ...)
        self._trainer: pl.Trainer | None = None
        self._previous: dict[int, Any] = {}  # the handlers before ours, back after a second signal

    def setup(self, trainer: pl.Trainer, pl_module: Any, stage: str) -> None:
        self._trainer = trainer

    @contextlib.contextmanager
    def installed(self) -> Iterator[GracefulStop]:
        """Catch the signals while the block runs (only the main thread can install handlers)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        try:
            yield self
        finally:
            self._restore()
            self._announce()  # a signal that came after the last hook still gets its line

    def _restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, _frame: Any) -> None:
        """The signal handler: sets flags, nothing else (no output, no exception)."""
        self.received += 1
        if self.signum is None:
            self.signum = signum
        if self.received == 2:
            self._restore()  # a third signal is handled as if nnx were not there
        if signum == signal.SIGTERM and self._trainer is not None:
            # Lightning's own SIGTERM handler (it runs just before this one) would abort the
            # epoch after the current step, losing it and its checkpoint; the hooks below
            # decide when to stop instead.
            self._trainer._signal_connector.received_sigterm = False

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    @property
    def at_once(self) -> bool:
        """A second signal came: stop without finishing the epoch."""
        return self.received >= 2

    def _announce(self) -> None:
        if self.signum is not None and not self._announced:
            self._announced = True
            print(f"nnx: {self.name} received: stopping after this epoch (again: stop at once)",
                  file=sys.stderr, flush=True)

    def _safe_point(self, during: str) -> None:
        """Between batches: say what the first signal does, act on a second."""
        if self.signum is None:
            return
        self._announce()
        if self.at_once and self.cut_short is None:
            self.cut_short = during
            print(f"nnx: {self.name} received again: stopping now", file=sys.stderr, flush=True)
            raise KeyboardInterrupt  # Lightning tears the fit down; the run ends KILLED

    def on_train_batch_end(self, *_args: Any) -> None:
        self._safe_point("training")

    def on_validation_batch_end(self, *_args: Any) -> None:
        self._safe_point("validation")

    def on_test_batch_end(self, *_args: Any) -> None:
        self._safe_point("test")

    def on_train_epoch_end(self, trainer: pl.Trainer, *_args: Any) -> None:
        """The epoch is complete: stop here, after its checkpoint (even on a second signal)."""
        if self.signum is not None:
            self._announce()
            trainer.should_stop = True
