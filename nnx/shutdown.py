"""End a command without the interpreter's teardown.

Once torch and Lightning are imported, Python's own shutdown (freeing every module and
object, torch's operator-library finalizers, C++ static destructors) takes about a second
on this 2-core machine (`python -c "import pytorch_lightning"`: 3.9 s to exit vs 3.1 s
with ``os._exit``), a fifth of a default run that nobody waits for on purpose. A command
that has finished its work ends like a forked worker does: the same exit hooks and thread
joins as a normal exit, in the same order, then ``os._exit``.

Everything a command must leave behind is written by then: the tracking writer is drained
and closed (`nnx.tracking.writer` registers that at exit too), logging's handlers are
flushed and closed by its exit hook, and the standard streams are flushed here.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

__all__ = ["exits_fast", "exit_now"]


def exit_now(code: int, hooks: bool = True) -> NoReturn:
    """Run what a normal exit runs first, flush, and end the process with ``code``.

    The first two steps of Python's own exit, in its order: ``threading._shutdown`` (the hooks
    of executors and worker pools, such as joblib's, that stop their threads, then joining
    every non-daemon thread) and ``atexit._run_exitfuncs``. It is the teardown after them that
    is skipped; ``hooks=False`` skips the exit hooks too (the tracking writer: MLflow's flush
    telemetry for seconds, and its own work is stored by then).
    """
    if hooks:
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nobody reads what is left
            pass
    os._exit(code)


def _code(exit_: SystemExit) -> int:
    """The status ``sys.exit(value)`` ends with (a message goes to stderr first, as Python does)."""
    if exit_.code is None or isinstance(exit_.code, int):
        return exit_.code or 0
    print(exit_.code, file=sys.stderr)
    return 1


def exits_fast(main: Callable[[], None]) -> Callable[[], NoReturn]:
    """``main`` as a console script that ends with `exit_now`. An exception ``main`` lets out
    (``NNX_FULL_ERROR=1``) takes the normal way out, traceback and all."""

    @functools.wraps(main)
    def console() -> NoReturn:
        try:
            main()
        except SystemExit as exit_:
            exit_now(_code(exit_))
        exit_now(0)

    return console
