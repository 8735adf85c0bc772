"""The store writer: one helper process per nnx process does all of its MLflow work.

Importing MLflow, opening its SQLAlchemy store and drawing the figures of a run cost a
short run as much as its training (about 2 s here), all of it on the training process's
critical path. The writer moves that work to a second process that starts when a run
connects to its store: it imports MLflow and opens the store while the training process
imports Lightning and loads the data, and it draws and stores a finished run's figures while
the next trial of a sweep trains. The training process never imports MLflow (unless it logs
a model or system metrics, which need MLflow in-process).

Work is sent as JSON: the name of a function marked `op` in an ``nnx`` module and its
arguments (plain data: no pickles, so the writer runs nothing it was not written to run);
the writer calls ``function(*args)``, which gets its store with `client`. Three modes:

- ``now``: done as soon as it arrives, beside queued ``later`` work (which runs on a second
  thread); its answer is awaited (creating a run: the caller needs its id);
- ``later``: queued and done in order (metrics, artifacts, figures, ending a run); an error
  is reported with a later answer and raised by `Writer.drain`;
- ``barrier``: done after everything queued before it, and awaited (queries that must see
  every earlier write, `Writer.drain`).

A writer is drained before its process exits (`close`, also at interpreter exit) and whenever
a caller needs what was written (`nnx.training.pipeline.run` returns only after its run is
fully stored). The writer ignores SIGINT and SIGTERM: a Ctrl-C stops the training, and the
run still ends KILLED in the store; it exits when its input closes, after the queued work.

``NNX_TRACKING_WRITER=inline`` does the same work in the calling process, synchronously
(for debugging; MLflow is then imported by the training process).
"""

from __future__ import annotations

import atexit
import collections
import importlib
import json
import os
import queue
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from nnx.errors import TrackingError

__all__ = [
    "Writer", "op", "writer", "client", "opened", "drain", "close", "deferred", "writes_deferred",
]

_HEADER = struct.Struct("!I")
_ENV = "NNX_TRACKING_WRITER"


def op(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a module-level function of an ``nnx`` module as work a writer may be sent."""
    fn.nnx_writer_op = True  # type: ignore[attr-defined]
    return fn


def _name_of(fn: Callable[..., Any] | None) -> str | None:
    if fn is None:
        return None
    if not getattr(fn, "nnx_writer_op", False):
        raise TypeError(f"{fn.__qualname__} is not marked @nnx.tracking.writer.op")
    return f"{fn.__module__}:{fn.__qualname__}"


def _resolve(name: str | None) -> Callable[..., Any] | None:
    """The `op` function named ``module:function``; nothing else is ever imported or called."""
    if name is None:
        return None
    module, _, qualname = name.partition(":")
    if not module.startswith("nnx."):
        raise TrackingError(f"the tracking writer runs only nnx's own work, not {name}")
    fn = getattr(importlib.import_module(module), qualname, None)
    if not getattr(fn, "nnx_writer_op", False):
        raise TrackingError(f"the tracking writer runs only nnx's own work, not {name}")
    return fn


def _frame(message: Any) -> bytes:
    body = json.dumps(message).encode()
    return _HEADER.pack(len(body)) + body


def client(uri: str) -> Any:
    """The checked ``MlflowClient`` of ``uri`` in this process, opened once (`open_client`).

    A server's credentials in ``uri`` (``http://user:password@host``) are set in MLflow's
    variables of this process, which MLflow reads at every request: the writer process
    starts nothing that could inherit them, and nothing prints them. (Inline, in the
    training process, they are set only while the store is opened, as elsewhere.)
    """
    from nnx.config.secrets import split_credentials
    from nnx.tracking.credentials import PASSWORD, USERNAME
    from nnx.tracking.store import open_client

    with _opening:
        found = _clients.get(uri)
        if found is None:
            found = _clients[uri] = open_client(uri)
            _opens[uri] += 1
    credentials = split_credentials(uri)[1]
    if credentials is not None and _serving:
        os.environ[USERNAME], os.environ[PASSWORD] = credentials
    return found


@op
def opened() -> dict[str, int]:
    """How many times this process opened each store (once, for all the runs it writes)."""
    return dict(_opens)


_clients: dict[str, Any] = {}
_serving: list[bool] = []  # [True] in the writer process (`_main`)
_opening = threading.Lock()
_opens: collections.Counter = collections.Counter()


def _describe(error: BaseException) -> str:
    """One line for ``error``, any credential in it masked (it is printed by the caller)."""
    from nnx.config.secrets import redact

    if isinstance(error, TrackingError):
        return redact(str(error))
    text = str(error).strip()
    return redact(f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": "))


class _Answer:
    """The awaited result of one ``now`` or ``barrier`` call."""

    def __init__(self, owner: Writer, seq: int) -> None:
        self.owner, self.seq = owner, seq

    def result(self) -> Any:
        return self.owner._result(self.seq)


class _Done(_Answer):
    def __init__(self, value: Any = None, error: str | None = None) -> None:
        self.value, self.error = value, error

    def result(self) -> Any:
        if self.error is not None:
            raise TrackingError(self.error)
        return self.value


class Writer:
    """The calling side: sends work to the writer process and reads its answers."""

    def __init__(self, inline: bool = False) -> None:
        self.pid = os.getpid()
        self.inline = inline
        self.failed: list[str] = []  # errors of `later` work, raised by `drain`
        self._seq = 0
        self._answers: dict[int, tuple[bool, Any]] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        if not inline:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nnx.tracking.writer"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            )

    # -- sending -----------------------------------------------------------------------
    def now(self, fn: Callable[..., Any], *args: Any) -> _Answer:
        """Do ``fn(*args)`` ahead of queued work; `_Answer.result` waits for its value."""
        return self._send("now", fn, args)

    def later(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn(*args)`` after earlier work; its error is raised by the next `drain`."""
        self._send("later", fn, args)

    def barrier(self, fn: Callable[..., Any] | None, *args: Any) -> Any:
        """Do ``fn(*args)`` after all queued work and return its value."""
        return self._send("barrier", fn, args).result()

    def drain(self) -> None:
        """Wait until all work sent so far is done; raise the first error of `later` work."""
        self.barrier(None)
        if self.failed:
            first, more = self.failed[0], len(self.failed) - 1
            self.failed = []
            raise TrackingError(f"{first}" + (f" (and {more} more tracking errors)" if more else ""))

    def close(self) -> None:
        """Drain, then let the writer process exit."""
        try:
            if self._proc is None or self._proc.poll() is None:
                self.drain()
        finally:
            if self._proc is not None and self._proc.stdin and not self._proc.stdin.closed:
                self._proc.stdin.close()
                self._proc.wait()

    def _send(self, mode: str, fn: Callable[..., Any] | None, args: tuple) -> _Answer:
        if self.inline:
            _name_of(fn)  # the same work as a writer process would accept
            try:
                with _credentials_of(args):
                    value = fn(*args) if fn is not None else None
            except Exception as error:  # noqa: BLE001  reported where the caller looks
                if mode == "later":
                    self.failed.append(_describe(error))
                    return _Done()
                return _Done(error=_describe(error))
            return _Done(value)
        with self._lock:
            self._seq += 1
            payload = _frame([self._seq, mode, _name_of(fn), list(args)])
            try:
                self._proc.stdin.write(payload)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                raise TrackingError(self._gone()) from None
            return _Answer(self, self._seq)

    # -- answers -----------------------------------------------------------------------
    def _result(self, seq: int) -> Any:
        with self._lock:
            while seq not in self._answers:
                message = _read_frame(self._proc.stdout)
                if message is None:
                    raise TrackingError(self._gone())
                got, ok, value, errors = message
                self.failed += errors
                self._answers[got] = (ok, value)
            ok, value = self._answers.pop(seq)
        if not ok:
            raise TrackingError(value)
        return value

    def _gone(self) -> str:
        code = self._proc.wait() if self._proc is not None else None
        return f"the tracking writer process ended (exit status {code}); see the error above"


def _credentials_of(args: tuple) -> Any:
    """Inline work on a server gets its credentials for the call only (its first argument
    is the store URI, as in every op that writes)."""
    import contextlib

    from nnx.tracking.credentials import mlflow_credentials

    if args and isinstance(args[0], str):  # a URI without credentials: nothing is set
        return mlflow_credentials(args[0])
    return contextlib.nullcontext()


def _read_frame(stream: Any) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    body = stream.read(size)
    return json.loads(body) if len(body) == size else None


_writer: list[Writer] = []
_deferred = threading.local()


def writer() -> Writer:
    """This process's writer, started on first use (a forked child gets its own)."""
    if _writer and _writer[0].pid == os.getpid():
        return _writer[0]
    _writer[:] = [Writer(inline=os.environ.get(_ENV) == "inline")]
    return _writer[0]


def drain() -> None:
    """Wait until this process's tracking work is stored (no-op without a writer)."""
    if _writer and _writer[0].pid == os.getpid():
        _writer[0].drain()


def close() -> None:
    """Drain this process's writer and let it exit (called at interpreter exit too)."""
    if _writer and _writer[0].pid == os.getpid():
        current = _writer.pop()
        current.close()


def _close_at_exit() -> None:
    try:
        close()
    except Exception as error:  # noqa: BLE001  the interpreter is exiting: say it, once
        print(f"nnx: tracking: {_describe(error)}", file=sys.stderr)


atexit.register(_close_at_exit)


class deferred:  # noqa: N801  used as a context manager, like contextlib's
    """Within this block, `writes_deferred` is true: a run may return before its figures
    and final writes are stored (a sweep's trials, drained by the sweep at its end)."""

    def __enter__(self) -> None:
        self._before = getattr(_deferred, "on", False)
        _deferred.on = True

    def __exit__(self, *exc: object) -> None:
        _deferred.on = self._before


def writes_deferred() -> bool:
    return getattr(_deferred, "on", False)


# -- the writer process -------------------------------------------------------------------
class _Input:
    """Length-prefixed frames from a file descriptor."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, bytearray()

    def next(self) -> Any:
        while True:
            if len(self.buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= _HEADER.size + size:
                    body = bytes(self.buffer[_HEADER.size : _HEADER.size + size])
                    del self.buffer[: _HEADER.size + size]
                    return json.loads(body)
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                return None
            self.buffer += chunk


def serve(in_fd: int, out: Any) -> None:
    """Do the work that arrives on ``in_fd`` (see the module docstring) until it closes.

    ``now`` work runs on the reading thread as it arrives; ``later`` and ``barrier`` work
    runs in order on a second thread, so that creating the next trial's run does not wait
    for the figures of the last one.
    """
    source = _Input(in_fd)
    work: queue.Queue = queue.Queue()
    errors: list[str] = []
    lock = threading.Lock()

    def run(name: str | None, args: list) -> tuple[bool, Any]:
        try:
            fn = _resolve(name)
            return True, (fn(*args) if fn is not None else None)
        except Exception as error:  # noqa: BLE001  sent to the caller, which raises it
            return False, _describe(error)

    caller_gone: list[bool] = []

    def answer(seq: int, ok: bool, value: Any) -> None:
        with lock:
            payload = _frame([seq, ok, value, errors[:]])
            errors.clear()
            if caller_gone:
                return
            try:
                out.write(payload)
                out.flush()
            except (BrokenPipeError, OSError):  # killed (kill -9): the work it sent still counts
                caller_gone.append(True)

    def in_order() -> None:
        while (item := work.get()) is not None:
            seq, fn, args = item
            ok, value = run(fn, args)
            if seq is not None:
                answer(seq, ok, value)
            elif not ok:
                with lock:
                    errors.append(value)

    worker = threading.Thread(target=in_order, name="nnx-tracking-writes")
    worker.start()
    try:
        while (message := source.next()) is not None:
            seq, mode, fn, args = message
            if mode == "now":
                answer(seq, *run(fn, args))
            else:
                work.put((seq if mode == "barrier" else None, fn, args))
    finally:  # whatever ends the reading, the queued work is done and the writer exits
        work.put(None)
        worker.join()
    for error in errors:
        print(f"nnx: tracking: {error}", file=sys.stderr)


def _main() -> None:
    from nnx.tracking import writer as this  # ``python -m`` runs a second copy as __main__

    this._serving.append(True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the training process decides how to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and it closes our input when it ends
    os.nice(10)  # where both want the cores (torch's threads), the training goes first
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the answers
    try:
        serve(0, out)
    except BaseException:  # noqa: BLE001  said once; the process must still end (below)
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    # Everything sent is stored (each write is its own committed transaction). Skip the
    # interpreter's teardown: MLflow's exit hooks (telemetry flushing among them) would make
    # the command wait seconds for work that records nothing of the runs.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _main()
