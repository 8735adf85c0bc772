"""The store writer: a helper process per store and nnx command does all of its MLflow work.

Importing MLflow, opening its SQLAlchemy store and drawing the figures of a run cost a
short run as much as its training (about 2 s here), all of it on the training process's
critical path. The writer moves that work to a second process, started with
``multiprocessing``'s spawn context when a run connects to its store: it imports MLflow and
opens the store while the training process imports Lightning and loads the data, and it
draws and stores a finished run's figures while the next trial of a sweep trains. The
training process never imports MLflow (unless it logs a model, which needs it in-process).

The writer hosts one `nnx.tracking.mlflow_store.MlflowStore`, given the store (credentials
and all) once, when it starts; the training process sends ``(function, args)`` over a
``multiprocessing`` ``Connection`` (which frames, pickles, and reports a closed peer as
``EOFError``) and the writer calls ``function(mlflow_store, *args)``: a method of
`MlflowStore`, or a function of a sweep that takes it first. Three modes:

- ``now``: done as soon as it arrives, beside queued ``later`` work (which runs on a second
  thread); its answer is awaited (creating a run: the caller needs its id);
- ``later``: queued and done in order (metrics, artifacts, figures, ending a run); an error
  is reported with a later answer and raised by `Writer.drain`;
- ``barrier``: done after everything queued before it, and awaited.

A writer is drained before its process exits (`close`, also at interpreter exit) and whenever
a caller needs what was written (`nnx.training.pipeline.run` returns only after its run is
fully stored). The writer ignores SIGINT and SIGTERM, runs at nice 10 (the training goes
first; not when it serves a search's workers, which would starve it) and ends when its
connections close, after the queued work, also when the training process is killed. Errors
it reports are redacted.

A search's local workers, forked from the command, share its writer (`hand_over`, `adopt`):
it was started with a connection for each of them, and has imported MLflow and opened the
store by the time they start, so that no worker pays for a writer of its own.

``NNX_TRACKING_WRITER=inline`` does the same work in the calling process, synchronously
(for debugging; MLflow is then imported by the training process).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
import multiprocessing.util
import os
import queue
import signal
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

from nnx.config.environment import scoped_env
from nnx.config.secrets import redact
from nnx.errors import TrackingError
from nnx.tracking.store import Store

__all__ = ["Writer", "writer", "hand_over", "adopt", "let_go", "join_handed", "drain", "close", "deferred",
           "writes_deferred"]

_ENV = "NNX_TRACKING_WRITER"
Work = Callable[..., Any]


def _describe(error: BaseException) -> str:
    """One line for ``error``, any credential in it masked (it is printed by the caller)."""
    if isinstance(error, TrackingError):
        return redact(str(error))
    text = str(error).strip()
    return redact(f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": "))


def _call(target: Any, fn: Work | None, args: tuple) -> tuple[bool, Any]:
    try:
        return True, (fn(target, *args) if fn is not None else None)
    except Exception as error:  # noqa: BLE001  sent to the caller, which raises it
        return False, _describe(error)


class Answer:
    """The awaited result of one ``now`` call: `result` waits for it and raises its error."""

    def __init__(self, owner: Writer | None, seq: int, done: tuple[bool, Any] | None = None) -> None:
        self.owner, self.seq, self.done = owner, seq, done

    def result(self) -> Any:
        ok, value = self.done if self.done is not None else self.owner._result(self.seq)
        if not ok:
            raise TrackingError(value)
        return value


class Writer:
    """The calling side: sends work for ``store`` to its writer process and reads answers.

    ``spare``: the writer process also serves that many extra connections, kept for the
    processes this one forks (`hand_over`); ``conn``: such a connection, to a writer that
    another process started (nothing is started then).
    """

    _conn: Any = None  # the connection to the writer process (none inline)

    def __init__(self, store: Store, inline: bool = False, spare: int = 0, *, conn: Any = None) -> None:
        self.store, self.inline = store, inline
        self.failed: list[str] = []  # errors of `later` work, raised by `drain`
        self._seq = 0
        self._answers: dict[int, tuple[bool, Any]] = {}
        self._lock = threading.Lock()
        self._proc: Any = None  # the writer process, when this one started it
        self._spares: list[Any] = []  # this end of the extra connections, until handed over
        if inline:
            from nnx.tracking.mlflow_store import MlflowStore

            self._local = MlflowStore(store)
            return
        if conn is not None:
            self._conn = conn
            return
        spawn = multiprocessing.get_context("spawn")
        pipes = [spawn.Pipe() for _ in range(1 + spare)]
        self._conn, self._spares = pipes[0][0], [ours for ours, _ in pipes[1:]]
        self._proc = spawn.Process(target=_serve, args=([theirs for _, theirs in pipes], store),
                                   daemon=True, name="nnx-tracking-writer")
        with _known_start_method():
            self._proc.start()
        for _, theirs in pipes:
            theirs.close()

    def now(self, fn: Work, *args: Any) -> Answer:
        """Do ``fn(store, *args)`` ahead of queued work; `Answer.result` waits for its value."""
        return self._send("now", fn, args)

    def later(self, fn: Work, *args: Any) -> None:
        """Queue ``fn(store, *args)`` after earlier work; its error is raised by the next `drain`."""
        self._send("later", fn, args)

    def barrier(self, fn: Work | None, *args: Any) -> Any:
        """Do ``fn(store, *args)`` after all queued work and return its value."""
        return self._send("barrier", fn, args).result()

    def drain(self) -> None:
        """Wait until all work sent so far is done; raise the first error of `later` work."""
        self.barrier(None)
        if self.failed:
            first, more = self.failed[0], len(self.failed) - 1
            self.failed = []
            raise TrackingError(first + (f" (and {more} more tracking errors)" if more else ""))

    def after_others(self) -> None:
        """Wait until every other connection to the writer process has closed and the work
        sent on it is done (the forked children's, `join_handed`)."""
        self._send("after_others", None, ()).result()

    def close(self) -> None:
        """Drain, then let the writer process exit."""
        try:
            if self._proc is None or self._proc.is_alive():
                self.drain()
        finally:
            for spare in self._spares:  # never handed over: the writer need not wait for them
                spare.close()
            self._spares = []
            if self._conn is not None and not self._conn.closed:
                self._conn.close()
                if self._proc is not None:
                    self._proc.join()

    def _send(self, mode: str, fn: Work | None, args: tuple) -> Answer:
        if self.inline:
            with scoped_env(self.store.credentials):
                ok, value = _call(self._local, fn, args)
            if mode == "later" and not ok:
                self.failed.append(value)
            return Answer(None, 0, (ok, value))
        with self._lock:
            self._seq += 1
            try:
                self._conn.send((self._seq, mode, fn, args))
            except (OSError, ValueError):  # the writer is gone (its end closed)
                raise TrackingError(self._gone()) from None
            return Answer(self, self._seq)

    def _result(self, seq: int) -> tuple[bool, Any]:
        with self._lock:
            while seq not in self._answers:
                try:
                    got, ok, value, errors = self._conn.recv()
                except (EOFError, OSError):
                    raise TrackingError(self._gone()) from None
                self.failed += errors
                self._answers[got] = (ok, value)
            return self._answers.pop(seq)

    def _gone(self) -> str:
        if self._proc is None:  # adopted (`adopt`): another process's child
            return "the tracking writer process ended; see the error above"
        self._proc.join()
        return f"the tracking writer process ended (exit status {self._proc.exitcode}); see the error above"


@contextlib.contextmanager
def _known_start_method() -> Iterator[None]:
    """Start the child bare: it needs nothing of this process but nnx.

    A spawned child re-imports the parent's ``__main__``: a user's script that calls
    ``nnx.run`` without an ``if __name__ == "__main__":`` guard would run again there and
    fail, so the child is given an empty ``__main__`` while it starts (the work it receives is
    nnx's own functions). It also first sets its parent's default start method; in a joblib
    worker that is loky's own, which a bare child cannot find: the standard one, while it starts.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    method = multiprocessing.get_start_method(allow_none=True)
    foreign = method is not None and method not in multiprocessing.get_all_start_methods()
    if foreign:
        multiprocessing.set_start_method("spawn", force=True)
    try:
        yield
    finally:
        sys.modules["__main__"] = main
        if foreign:
            multiprocessing.set_start_method(method, force=True)


_writers: dict[str, Writer] = {}
_deferred = threading.local()


def writer(store: Store, spare: int = 0) -> Writer:
    """This process's writer for ``store``, started on first use (with ``spare`` extra
    connections for the children it will fork, `hand_over`)."""
    found = _writers.get(store.uri)
    if found is None:
        _close_at_this_exit()
        found = _writers[store.uri] = Writer(store, inline=os.environ.get(_ENV) == "inline", spare=spare)
    return found


def hand_over(store: Store, count: int) -> list[Writer]:
    """``count`` writers for ``store``, one for each child this process is about to fork
    (`adopt`). This process's writer's extra connections when it has them (`writer`): one
    writer process, whose MLflow is imported and store open, serves the parent and its
    children. Else ``count`` writers started now, which import MLflow and open the store while
    this process prepares the children."""
    owner = _writers.get(store.uri)
    if owner is not None and len(owner._spares) >= count:
        handed, rest = owner._spares[:count], owner._spares[count:]
        owner._spares = []
        for spare in rest:
            spare.close()
        return [Writer(store, conn=conn) for conn in handed]
    return [Writer(store, inline=os.environ.get(_ENV) == "inline") for _ in range(count)]


def adopt(handed: list[Writer], index: int) -> None:
    """In the forked child ``index``: ``handed[index]`` becomes its writer for that store;
    the other children's ends are closed here."""
    for i, each in enumerate(handed):
        if each._proc is not None:
            multiprocessing.process._children.discard(each._proc)  # type: ignore[attr-defined]
            each._proc = None  # the parent's child: this process neither joins nor polls it
        if i != index and each._conn is not None:
            each._conn.close()
    mine = handed[index]
    _close_at_this_exit()
    _writers[mine.store.uri] = mine


def let_go(handed: list[Writer]) -> None:
    """In the parent, once the children are forked: its ends of their connections closed
    (a writer of their own ends when its child does); `join_handed` waits for their work."""
    for each in handed:
        if each._conn is not None:
            each._conn.close()


def join_handed(handed: list[Writer], timeout: float = 30.0) -> None:
    """In the parent, after its children ended: wait until what they sent is stored (their
    own writers ended, or the shared one did their work)."""
    for each in handed:
        if each._proc is not None:
            each._proc.join(timeout)
    shared = [each for each in handed if each._proc is None and not each.inline]
    if shared and shared[0].store.uri in _writers:
        _writers[shared[0].store.uri].after_others()


def drain() -> None:
    """Wait until this process's tracking work is stored (no-op without a writer)."""
    for each in list(_writers.values()):
        each.drain()


def close() -> None:
    """Drain this process's writers and let them exit (called at interpreter exit too)."""
    while _writers:
        _writers.popitem()[1].close()


#: Processes whose exit closes their writers first. ``multiprocessing`` runs these finalizers at
#: exit before it stops and joins its daemon children (in the main process, at ``atexit``;
#: in a process it started, such as a joblib worker, when its target returns).
_closing_at_exit: set[int] = set()


def _close_at_this_exit() -> None:
    """Have this process close its writers when it exits (registered once per process)."""
    if os.getpid() not in _closing_at_exit:
        _closing_at_exit.add(os.getpid())
        multiprocessing.util.Finalize(None, _close_at_exit, exitpriority=10)


def _close_at_exit() -> None:
    try:
        close()
    except Exception as error:  # noqa: BLE001  the interpreter is exiting: say it, once
        print(f"nnx: tracking: {_describe(error)}", file=sys.stderr)


def _forget_after_fork() -> None:
    """A forked child has no writer of its own: the parent's stay the parent's (its
    connections closed here, so that a writer still ends when its parent does)."""
    for each in _writers.values():
        for spare in each._spares:  # not this child's: `adopt` gives it the one handed to it
            spare.close()
        if each._proc is not None:
            each._conn.close()
            multiprocessing.process._children.discard(each._proc)  # type: ignore[attr-defined]
    _writers.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


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
def _name_this_process(name: bytes) -> None:
    """The name ``ps -o comm``, ``top`` and psutil's ``name()`` show (Linux; else nothing)."""
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl(15, name, 0, 0, 0)  # PR_SET_NAME


def _serve(conns: list[Any], store: Store) -> None:
    """Do the work that arrives on ``conns`` (see the module docstring) until they close:
    the first is its starter's, the others those of the processes it forks (`hand_over`).

    ``now`` work runs on the reading thread as it arrives; ``later`` and ``barrier`` work
    runs in order on a second thread (one queue for every connection, each one's work in
    its order), so that creating the next trial's run does not wait for the figures of the
    last one. ``after_others`` is a barrier that waits until the other connections closed.
    A connection that breaks (its process killed while sending) is dropped alone.
    """
    from multiprocessing.connection import wait

    from nnx.shutdown import exit_now
    from nnx.tracking.mlflow_store import MlflowStore

    _name_this_process(b"nnx-writer")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the training process decides how to stop
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # and it closes the connection when it ends
    if len(conns) == 1:  # where both want the cores (torch's threads), the training goes first;
        os.nice(10)  # the workers of a search would starve the writer they share, which must keep up
    os.environ.update(store.credentials)  # MLflow reads them at each request; given once
    target = MlflowStore(store)
    work: queue.Queue = queue.Queue()
    errors: dict[Any, list[str]] = {conn: [] for conn in conns}  # of `later` work, by caller
    lock = threading.Lock()
    gone: set[Any] = set()  # callers that can no longer be answered

    def answer(conn: Any, seq: int, ok: bool, value: Any) -> None:
        with lock:
            message = (seq, ok, value, errors[conn][:])
            errors[conn].clear()
            if conn in gone:
                return
            try:
                conn.send(message)
            except OSError:  # killed (kill -9): the work it sent still counts
                gone.add(conn)

    def in_order() -> None:
        while (item := work.get()) is not None:
            conn, seq, fn, args = item
            ok, value = _call(target, fn, args)
            if seq is not None:
                answer(conn, seq, ok, value)
            elif not ok:
                with lock:
                    errors[conn].append(value)

    def report() -> int:
        import traceback

        print(redact(traceback.format_exc()), file=sys.stderr)
        return 1

    worker = threading.Thread(target=in_order, name="nnx-tracking-writes")
    worker.start()
    status = 0
    reading, waiting = list(conns), []  # waiting: `after_others` asks, until they are alone
    try:
        while reading:
            for conn in wait(reading):
                try:
                    seq, mode, fn, args = conn.recv()
                except (EOFError, OSError):
                    reading.remove(conn)
                except Exception:  # noqa: BLE001  a broken message: its caller alone is dropped
                    status = report()
                    reading.remove(conn)
                    conn.close()
                else:
                    if mode == "now":
                        answer(conn, seq, *_call(target, fn, args))
                    elif mode == "after_others":
                        waiting.append((conn, seq))
                    else:
                        work.put((conn, None if mode == "later" else seq, fn, args))
                if len(reading) <= 1:
                    for ask in waiting:
                        work.put((*ask, None, ()))
                    waiting.clear()
    except BaseException:  # noqa: BLE001  said once; the queued work is still done (below)
        status = report()
    finally:  # whatever ends the reading, the queued work is done and the writer exits
        work.put(None)
        worker.join()
    for error in (error for each in errors.values() for error in each):
        print(f"nnx: tracking: {error}", file=sys.stderr)
    # Everything sent is stored (each write is its own committed transaction). Skip the
    # interpreter's teardown and exit hooks: MLflow's (telemetry flushing among them) would
    # make the command wait seconds for work that records nothing of the runs.
    exit_now(status, hooks=False)
